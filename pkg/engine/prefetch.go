package engine

import "github.com/synscope/synscope/pkg/decode"

// Prefetch tells the engine a SYN it will be given a few frames from now,
// so that its table slots are on their way into the caches by then (see
// sources.Table.Prefetch), and the window's set of destinations. Of the
// source tables, only the inline shard's, on the caller's goroutine, take
// the hint; shard workers look ahead in their own rings. It changes
// nothing but speed.
func (e *Engine) Prefetch(s *decode.Syn) {
	if e.targets.v4 != nil {
		e.targets.prefetch(s)
	}
	if e.inline && len(e.shards) > 0 { // none before the first frame
		e.shards[0].tab.Prefetch(s)
	}
}
