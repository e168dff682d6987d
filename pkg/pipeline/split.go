package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sync/atomic"

	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/output"
)

// An offline run on two or more cores splits the packet step in two: one
// goroutine reads the files and decodes every frame, this one runs the
// engine and the writer on what it decoded. Most frames of a real capture
// are rejected by the decoder, so the two halves cost about the same and
// both cores stay busy. The reader hands its work over in chunks, in
// capture order, and the engine sees exactly the calls Step would make:
// the output is the same byte for byte.

// splitMinProcs is the fewest Ps that split the loop (a variable so tests
// can force either loop).
var splitMinProcs = 2

// A chunk is a run of decoded frames, with the input errors met between
// them at their places.
type chunk struct {
	ents []entry
	syns []decode.Syn // the matched frames' SYNs, in order
	errs []error      // input errors, in order
	end  error        // set on the last chunk: nil at the end of the input, or why it stopped
	last bool
}

type entry struct {
	ts   int64
	wire int32
	res  decode.Result // or resInputError
}

// resInputError marks an entry that stands for the next of chunk.errs.
const resInputError = decode.NumResults

const (
	prefetchAhead = 8    // SYNs the engine is told of ahead of their turn
	chunkLen      = 4096 // frames per chunk
	chunksAhead   = 8    // chunks in flight: a bound on what the reader decodes ahead
)

// splitReader is the reading and decoding half.
type splitReader struct {
	src  capture.Source
	bs   capture.BatchSource
	dec  *decode.Decoder
	free chan *chunk
	full chan *chunk
	stop atomic.Bool
	cur  *chunk
}

// canSplit tells whether Run may split its loop for src.
func canSplit(src capture.Source, hooks Hooks) bool {
	_, ok := src.(capture.BatchSource)
	return ok && hooks.Live == nil && runtime.GOMAXPROCS(0) >= splitMinProcs
}

// runSplit is Run's loop for an offline source on two or more cores.
func runSplit(ctx context.Context, src capture.Source, dec *decode.Decoder, eng *engine.Engine, w *output.Writer, hooks Hooks, st *output.Stats) error {
	r := &splitReader{
		src: src, dec: dec,
		free: make(chan *chunk, chunksAhead),
		full: make(chan *chunk, chunksAhead),
	}
	r.bs = src.(capture.BatchSource)
	for range chunksAhead {
		r.free <- &chunk{ents: make([]entry, 0, chunkLen), syns: make([]decode.Syn, 0, chunkLen)}
	}
	go r.run()
	// However this loop ends, the reader is stopped and waited for before
	// the caller closes the source.
	defer func() {
		r.stop.Store(true)
		for c := range r.full {
			r.recycle(c)
		}
	}()
	var n uint64
	for c := range r.full {
		si, ei := 0, 0
		pf := 0 // the next matched frame's SYN to prefetch (engine.Prefetch)
		for i := range c.ents {
			e := &c.ents[i]
			for ; pf < len(c.syns) && pf < si+prefetchAhead; pf++ {
				eng.Prefetch(&c.syns[pf])
			}
			if n++; n%TickEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				if hooks.Tick != nil {
					hooks.Tick(n)
				}
				if err := w.Err(); err != nil {
					return err
				}
			}
			switch e.res {
			case resInputError:
				inputFailed(st, hooks, c.errs[ei])
				ei++
			case decode.Matched:
				st.Results[e.res]++
				eng.Frame(e.ts, int(e.wire), &c.syns[si])
				si++
			default:
				st.Results[e.res]++
				eng.Frame(e.ts, int(e.wire), nil)
			}
		}
		if c.last {
			return c.end
		}
		r.recycle(c)
	}
	return errors.New("pipeline: the reader stopped without an end") // not reached
}

func (r *splitReader) recycle(c *chunk) {
	c.ents, c.syns, c.errs, c.end, c.last = c.ents[:0], c.syns[:0], c.errs[:0], nil, false
	r.free <- c
}

// run reads and decodes until the source ends, fails as a whole or the
// engine's half stops it; a fault in a mapped file ends that input (see
// Run) and reading goes on.
func (r *splitReader) run() {
	defer close(r.full)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	r.cur = <-r.free
	for {
		err := r.pump()
		var f *fault
		if errors.As(err, &f) {
			fs, ok := r.src.(capture.FaultSource)
			if !ok {
				panic(f.v)
			}
			ierr := fs.Fault(f.addr)
			if ierr == nil {
				panic(f.v) // not in an input's mapping: a real bug
			}
			r.inputError(ierr)
			continue
		}
		r.cur.end, r.cur.last = err, true
		r.full <- r.cur
		return
	}
}

// pump decodes batches into chunks until the end; it returns nil at the
// end of the source, a *fault, or the error that stopped it.
func (r *splitReader) pump() (err error) {
	defer func() {
		if f := faultOf(recover()); f != nil {
			err = f
		}
	}()
	var (
		batch [batchLen]capture.Packet
		syn   decode.Syn
	)
	for {
		if r.stop.Load() {
			return context.Canceled // the engine's half has stopped reading
		}
		n, err := r.bs.NextBatch(batch[:])
		if err != nil {
			if err == io.EOF {
				return nil
			}
			if capture.IsInputError(err) {
				r.inputError(err)
				continue
			}
			return fmt.Errorf("capture: %w", err)
		}
		c := r.cur
		for i := range batch[:n] {
			p := &batch[i]
			res := r.dec.Decode(p.LinkType, p.Data, &syn)
			if res == decode.Matched {
				c.syns = append(c.syns, syn)
			}
			c.ents = append(c.ents, entry{ts: p.Timestamp, wire: int32(min(p.OrigLen, 1<<31-1)), res: res})
		}
		if len(c.ents) > chunkLen-batchLen {
			r.pass()
		}
	}
}

// inputError puts an input's error at its place among the frames.
func (r *splitReader) inputError(err error) {
	c := r.cur
	c.errs = append(c.errs, err)
	c.ents = append(c.ents, entry{res: resInputError})
	if len(c.ents) > chunkLen-batchLen {
		r.pass()
	}
}

// pass hands the chunk over and takes a free one.
func (r *splitReader) pass() {
	r.full <- r.cur
	r.cur = <-r.free
}
