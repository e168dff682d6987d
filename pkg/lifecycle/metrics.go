package lifecycle

import (
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/metrics"
	"github.com/synscope/synscope/pkg/output"
)

// snapshot takes the metrics from the same figures a stats record writes,
// so a scrape and the JSONL stream never disagree, and the growth
// classifier's latest verdict.
func snapshot(st *output.Stats, eng *engine.Engine, counted []output.Counted) metrics.Snapshot {
	e := &st.Engine
	s := metrics.Snapshot{
		Packets: e.Packets, Bytes: e.Bytes, SynMatched: st.Results[decode.Matched], DecodeErrors: st.DecodeErrors(),
		Frames:         map[string]uint64{},
		Drops:          map[string]uint64{},
		SourcesTracked: e.TrackedSources, SourcesExpired: e.Expired, NewSources: e.NewSources, Windows: e.Windows,
		NewSourcesLastWindow: eng.LastWindow().NewSources,
	}
	st.EachDrop(func(cause string, n uint64) { s.Drops[cause] = n })
	for _, c := range counted { // read now: a stats record may be minutes old
		dc := c.DriverCounts()
		s.Drops[dc.Name] = dc.Lost()
	}
	for r := decode.Result(0); r < decode.NumResults; r++ {
		s.Frames[r.String()] = st.Results[r]
	}
	if st.Capture != nil {
		s.CapturePackets = st.Capture.Packets
		// With eBPF, a frame the kernel could not walk never reaches the
		// decoder: it is a decode error all the same.
		s.DecodeErrors += st.Capture.ParseErrors
	}
	if v := eng.Verdict(); v.Model != "" {
		s.Model, s.GrowthRatePerHour, s.Confidence, s.SteadyRatePerHour = v.Model, v.RatePerHour, v.Confidence, v.SteadyPerHour
	}
	return s
}
