package engine

import "time"

// floodState counts new sources per second over the last 10 seconds.
type floodState struct {
	sec      [10]int64
	count    [10]uint32
	flooding bool
}

// countBurst notes one new source at time t and counts flood sources: once
// FloodThreshold new sources arrive within 10 seconds, those and every new
// source while the rate stays that high are flood sources.
func (e *Engine) countBurst(t int64) {
	sec := t / int64(time.Second)
	slot := sec % 10
	if slot < 0 {
		slot += 10
	}
	if e.flood.sec[slot] != sec {
		e.flood.sec[slot], e.flood.count[slot] = sec, 0
	}
	e.flood.count[slot]++
	var n uint64
	for i := range e.flood.sec {
		if sec-e.flood.sec[i] < 10 {
			n += uint64(e.flood.count[i])
		}
	}
	switch {
	case n < uint64(e.cfg.FloodThreshold):
		e.flood.flooding = false
	case !e.flood.flooding:
		e.flood.flooding = true
		e.cur.FloodSources += n
		e.c.FloodSources += n
	default:
		e.cur.FloodSources++
		e.c.FloodSources++
	}
}
