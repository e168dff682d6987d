package scenario

import (
	"crypto/sha256"
	"hash"
	"testing"
	"time"
)

type hashWriter struct {
	h hash.Hash
	n int
}

func (w *hashWriter) WritePacket(ts int64, data []byte, origLen int) error {
	w.h.Write(data)
	w.n++
	return nil
}

// TestGenerateSleepers: the same seed gives the same frames and truth;
// the truth of a population sleeping 45 min on average (12 h) is near
// that mean (sleeps cut by the run's end are not counted, so a little
// under it), every host sleeps, and a population that never sleeps has
// no sleep.
func TestGenerateSleepers(t *testing.T) {
	cfg := SleepConfig{Seed: 7, Hosts: 80, ActiveMean: 25 * time.Minute, SleepMean: 45 * time.Minute, MinRate: 1, MaxRate: 20, Retransmit: 0.2}
	var sums [2][]byte
	var truths [2]*SleepTruth
	for i := range 2 {
		w := &hashWriter{h: sha256.New()}
		tr, err := GenerateSleepers(cfg, w)
		if err != nil {
			t.Fatal(err)
		}
		sums[i], truths[i] = w.h.Sum(nil), tr
		if int64(w.n) != tr.SYNs {
			t.Errorf("%d frames written, the truth says %d SYNs", w.n, tr.SYNs)
		}
	}
	if string(sums[0]) != string(sums[1]) || *truths[0] != *truths[1] {
		t.Error("the same seed gave different frames or truth")
	}
	tr := truths[0]
	t.Logf("%+v", *tr)
	if tr.Hosts != 80 || tr.Sleepers != 80 || tr.SleepMeanS < 0.8*2700 || tr.SleepMeanS > 1.05*2700 ||
		tr.ActiveMeanS < 0.8*1500 || tr.ActiveMeanS > 1.1*1500 {
		t.Errorf("truth of a 25/45 min population: %+v", *tr)
	}
	cfg.SleepMean = 0
	tr, err := GenerateSleepers(cfg, &hashWriter{h: sha256.New()})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Hosts != 80 || tr.Sleepers != 0 || tr.Sleeps != 0 {
		t.Errorf("truth of a population that never sleeps: %+v", *tr)
	}
	if _, err := GenerateSleepers(SleepConfig{MinRate: 5, MaxRate: 1}, &hashWriter{h: sha256.New()}); err == nil {
		t.Error("min rate above max rate accepted")
	}
}
