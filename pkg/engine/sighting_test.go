package engine

import (
	"testing"
	"time"
)

// sightRecorder also takes sightings.
type sightRecorder struct {
	recorder
	sightings []SightingRecord
}

func (r *sightRecorder) Sighting(s *SightingRecord) { r.sightings = append(r.sightings, *s) }

// A known source's first SYN in each refresh period is a sighting, with its
// previous SYN; a new source's is its source record, not a sighting; none
// without Config.Sightings; the same with shard workers as inline.
func TestSightings(t *testing.T) {
	steps := []step{
		{t0 + 10*sec, "192.0.2.1", "198.18.0.1"},           // new: a source record
		{t0 + 20*sec, "192.0.2.1", "198.18.0.2"},           // same window: nothing
		{t0 + minute + 5*sec, "192.0.2.1", "198.18.0.3"},   // window 2: a sighting
		{t0 + minute + 7*sec, "192.0.2.1", "198.18.0.3"},   // nothing
		{t0 + 3*minute + 1*sec, "192.0.2.1", "198.18.0.3"}, // window 4: a sighting
		{t0 + 3*minute + 2*sec, "192.0.2.2", "198.18.0.3"}, // new
	}
	for _, shards := range []int{0, 2} {
		for _, every := range []time.Duration{0, time.Minute, 2 * time.Minute} {
			cfg := small()
			cfg.Shards, cfg.Sightings = shards, every
			rec := &sightRecorder{}
			e, err := New(cfg, rec)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range steps {
				s := syn(st.src, st.dst)
				e.Frame(st.at, 60, &s)
			}
			e.Finish()
			var want []int64 // the sightings' times
			switch every {
			case time.Minute:
				want = []int64{t0 + minute + 5*sec, t0 + 3*minute + 1*sec}
			case 2 * time.Minute: // periods [0,2m) and [2m,4m)
				want = []int64{t0 + 3*minute + 1*sec}
			}
			if len(rec.sightings) != len(want) || len(rec.sources) != 2 {
				t.Fatalf("shards %d, every %v: %d sightings, %d sources", shards, every, len(rec.sightings), len(rec.sources))
			}
			for i, s := range rec.sightings {
				if s.Syn.Ts != want[i] || s.WindowStart != sources0(s.Syn.Ts) {
					t.Errorf("shards %d, every %v: sighting %d at %d in window %d", shards, every, i, s.Syn.Ts-t0, s.WindowStart-t0)
				}
			}
			if every == time.Minute {
				// The previous SYN, to the millisecond the table keeps.
				if p := rec.sightings[0].PrevSeen; p != t0+20*sec {
					t.Errorf("prev_seen %d", p-t0)
				}
				if p := rec.sightings[1].PrevSeen; p != t0+minute+7*sec {
					t.Errorf("prev_seen %d", p-t0)
				}
			}
		}
	}
}

func sources0(ts int64) int64 { return ts - (ts % int64(time.Minute)) }

func TestSightingsValidated(t *testing.T) {
	cfg := small()
	for _, bad := range []time.Duration{-time.Minute, 90 * time.Second, time.Hour} {
		cfg.Sightings = bad
		if err := cfg.Validate(); err == nil {
			t.Errorf("sightings every %v accepted", bad)
		}
	}
}
