package output

import (
	"strconv"

	"github.com/synscope/synscope/pkg/engine"
)

// sleepHistKeys are the published histogram's bins, by their lower bound
// in seconds.
var sleepHistKeys = func() (k [engine.SleepHistBins]string) {
	for i := range k {
		k[i] = strconv.Itoa(1 << (engine.SleepHistFirst + i))
	}
	return k
}()

// Activity writes an `activity` record: an interval's (or, final, the
// run's) active periods and sleeps.
func (w *Writer) Activity(r *engine.ActivityRecord) {
	o := w.begin("activity", r.End)
	o.time("interval_start", r.Start)
	o.time("interval_end", r.End)
	o.bool("final", r.Final)
	o.uint("sources", r.Sources)
	o.uint("sleepers", r.Sleepers)
	o.uint("active_periods", r.Active.N)
	o.uint("sleeps", r.Sleep.N)
	o.float("active_mean_s", round(r.Active.MeanS()))
	o.float("sleep_mean_s", round(r.Sleep.MeanS()))
	o.float("active_median_s", round(r.Active.MedianS()))
	o.float("sleep_median_s", round(r.Sleep.MedianS()))
	o.open("sleep_histogram")
	for i, c := range r.SleepHistogram() {
		o.uint(sleepHistKeys[i], c)
	}
	o.close()
	w.finish()
}
