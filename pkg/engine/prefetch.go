package engine

import "github.com/synscope/synscope/pkg/decode"

// Prefetch tells the engine a SYN it will be given a few frames from now,
// so that its table slots are on their way into the caches by then (see
// sources.Table.Prefetch). Only the inline shard, which runs on the
// caller's goroutine, takes the hint; shard workers look ahead in their
// own rings. It changes nothing but speed.
func (e *Engine) Prefetch(s *decode.Syn) {
	if e.inline && len(e.shards) > 0 { // none before the first frame
		e.shards[0].tab.Prefetch(s)
	}
}
