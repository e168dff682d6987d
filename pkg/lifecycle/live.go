package lifecycle

import (
	"time"

	"github.com/synscope/synscope/pkg/pipeline"
)

// loop is the run as the live loop's owner (pipeline.Owner): the periodic
// work of a live run, on the loop's goroutine between packets, where the
// engine and the writer may be touched.
type loop struct {
	r        *Run
	lastSave time.Time
	lastMet  time.Time
}

func (l *loop) Tick(t *pipeline.Tick) {
	r := l.r
	if r.reopen.Swap(false) {
		r.reopenOutput(t)
	}
	if r.cfg.StateEvery > 0 && t.Now.Sub(l.lastSave) >= r.cfg.StateEvery {
		l.lastSave = t.Now
		// The records the state counts go out first; while the output
		// fails, the state is not saved (it would remember sources whose
		// records were lost, and a restart would not write them).
		// A failed save is tried again at the next interval and at the
		// end: stopping the capture for it would lose more than a late save.
		t.Flush()
		if err := r.w.Err(); err != nil {
			r.log.say(Error, err, "state not saved: the output fails (the state keeps what its records say); will try again")
		} else if err := saveState(r.eng, r.cfg.StateFile); err != nil {
			r.log.say(Error, err, "state not saved; will try again")
		}
	}
	if r.cfg.Metrics != nil && t.Now.Sub(l.lastMet) >= time.Second {
		l.lastMet = t.Now
		r.cfg.Metrics.Set(snapshot(t.Stats(), r.eng, r.w.Counted()))
	}
}

// reopenOutput has the driver reopen its destination. Everything written
// so far is flushed to the old file first; a driver that cannot reopen
// (standard output) is left as it is; one that fails goes on with the old
// file. The writer's sticky error belongs to the old file, so it is cleared
// for the new one.
func (r *Run) reopenOutput(t *pipeline.Tick) {
	t.Flush()
	// The network databases are reloaded here too: on this goroutine, the
	// one that looks them up, between records.
	if n := r.cfg.Networks; n != nil {
		if err := n.Reload(); err != nil {
			r.log.say(Error, err, "SIGHUP: cannot reload the network databases; going on with the old ones")
		} else {
			r.log.say(Info, nil, "SIGHUP: network databases reloaded")
		}
	}
	reopened, err := r.out.Reopen()
	if err != nil {
		r.log.say(Error, err, "SIGHUP: cannot reopen the output; going on with the old file", "output", r.out.String())
		return
	}
	if !reopened {
		return
	}
	if err := r.w.Reset(r.out); err != nil {
		r.log.say(Warn, err, "SIGHUP: flushing the old output failed")
	}
	r.log.say(Info, nil, "SIGHUP: output reopened", "output", r.out.String())
}
