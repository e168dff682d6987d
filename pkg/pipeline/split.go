package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"unsafe"

	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/output"
)

// An offline run on two or more cores splits the packet step in two: one
// goroutine reads the files and decodes every frame, this one runs the
// engine and the writer on what it decoded. The reader hands its work over
// in chunks, in capture order, and the engine sees exactly the calls Step
// would make: the output is the same byte for byte. Reading and decoding
// are the heavier half (about two thirds of the CPU on the bench capture),
// so a large pcap file's second half is read at the same time by a third
// goroutine (the tail, see capture.Splitter), its frames handed over when
// the reader reaches them.

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
	// atTail: the reader stopped at the boundary of the tail it split off
	// (the tail's chunks come next, then the reader's again). On a tail's
	// last chunk, tailPos and tailN are where its last whole frame ends
	// and how many it read.
	atTail  bool
	tailPos int
	tailN   uint64
	bytes   int64 // a tail chunk's memory, counted in tailHeld
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

	// A large file is read by a second goroutine from its middle on (see
	// capture.Splitter): tail is that part, tfull its chunks, resume tells
	// the reader at the boundary to go on, done that the engine stopped.
	sp        capture.Splitter
	tail      capture.Tail
	tfull     chan *chunk
	resume    chan struct{}
	done      chan struct{}
	triedTail bool
	tailHeld  atomic.Int64  // bytes of tail chunks sent and not yet taken
	tailSpace chan struct{} // the engine took some
	tfree     chan *chunk   // tail chunks to reuse
}

// tailsTaken counts the tails whose frames the engine took (for tests).
var tailsTaken atomic.Int64

// tailBudget bounds the memory of what the tail's goroutine decoded and
// the engine has not taken yet: 32 MiB, about 1.8 M frames of a capture
// with few SYNs, 400,000 of a flood (each SYN's record is 80 bytes);
// tailChunks bounds their number. Past it the tail waits: the two halves
// are read at once for that much of the tail.
var tailBudget int64 = 32 << 20 // a variable so tests can make the tail wait

const tailChunks = 1024

// canSplit tells whether Run may split its loop for src.
func canSplit(src capture.Source, hooks Hooks) bool {
	_, ok := src.(capture.BatchSource)
	return ok && hooks.Live == nil && runtime.GOMAXPROCS(0) >= splitMinProcs
}

// runSplit is Run's loop for an offline source on two or more cores.
func runSplit(ctx context.Context, src capture.Source, dec *decode.Decoder, eng *engine.Engine, w *output.Writer, hooks Hooks, st *output.Stats) error {
	r := &splitReader{
		src: src, dec: dec,
		free:      make(chan *chunk, chunksAhead),
		full:      make(chan *chunk, chunksAhead),
		tfull:     make(chan *chunk, tailChunks),
		resume:    make(chan struct{}),
		done:      make(chan struct{}),
		tailSpace: make(chan struct{}, 1),
		tfree:     make(chan *chunk, tailChunks),
	}
	r.sp, _ = src.(capture.Splitter)
	r.bs = src.(capture.BatchSource)
	for range chunksAhead {
		r.free <- &chunk{ents: make([]entry, 0, chunkLen), syns: make([]decode.Syn, 0, chunkLen)}
	}
	go r.run()
	// However this loop ends, the reader is stopped and waited for before
	// the caller closes the source.
	defer func() {
		r.stop.Store(true)
		close(r.done)
		for c := range r.full {
			r.recycle(c)
		}
		for range r.tfull { // closed by the tail's goroutine, if it ran, or by run
		}
	}()
	var n uint64
	chunks := r.full // or r.tfull while the tail's frames are taken
	for {
		c, ok := <-chunks
		if !ok {
			break
		}
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
		switch {
		case c.atTail: // the tail's frames come next
			chunks = r.tfull
			r.recycle(c)
		case chunks == r.tfull && c.last:
			// The tail has ended: the reader goes on after its last whole
			// frame (the end of the file, or a record it left).
			r.tookTail(c)
			r.sp.ResumeAfter(r.tail, c.tailPos, c.tailN)
			tailsTaken.Add(1)
			chunks = r.full
			r.resume <- struct{}{}
		case chunks == r.tfull:
			r.tookTail(c)
		case c.last:
			return c.end
		default:
			r.recycle(c)
		}
	}
	return errors.New("pipeline: the reader stopped without an end") // not reached
}

func (r *splitReader) recycle(c *chunk) {
	c.ents, c.syns, c.errs, c.end, c.last, c.atTail = c.ents[:0], c.syns[:0], c.errs[:0], nil, false, false
	r.free <- c
}

// run reads and decodes until the source ends, fails as a whole or the
// engine's half stops it; a fault in a mapped file ends that input (see
// Run) and reading goes on.
func (r *splitReader) run() {
	defer close(r.full)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	tailGone := make(chan struct{})
	defer func() {
		if r.tail == nil {
			close(r.tfull)
			return
		}
		// A tail the reader never reached (its guess of the boundary was
		// wrong, or the input ended before it) is stopped and let go.
		r.stop.Store(true)
		<-tailGone
	}()
	r.cur = <-r.free
	for {
		err := r.pump(tailGone)
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
func (r *splitReader) pump(tailGone chan struct{}) (err error) {
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
		if err == capture.ErrAtTail {
			// The tail's frames go first; the engine says when to go on.
			r.cur.atTail = true
			r.pass()
			select {
			case <-r.resume:
				continue
			case <-r.done:
				return context.Canceled
			}
		}
		if err == nil && r.tail == nil && r.sp != nil && !r.triedTail {
			r.triedTail = true
			if r.tail = r.sp.SplitTail(); r.tail != nil {
				go r.runTail(r.dec, tailGone)
			}
		}
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

// runTail decodes the tail into chunks of its own until it ends (the end of
// the file, a record it leaves to the reader, a fault) or is stopped; its
// last chunk says where its last whole frame ends.
func (r *splitReader) runTail(dec *decode.Decoder, gone chan struct{}) {
	defer close(gone)
	defer close(r.tfull)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	d := *dec // its own decoder (it holds nothing but the watched ports)
	c := &chunk{ents: make([]entry, 0, chunkLen)}
	var pos int
	var n uint64
	func() {
		defer func() {
			// A fault (the file shrank) ends the tail before the frame that
			// faulted: the reader reads that one again and fails there.
			if v := recover(); v != nil && faultOf(v) == nil {
				panic(v)
			}
		}()
		var (
			p   capture.Packet
			syn decode.Syn
		)
		t := r.tail
		pos = t.Pos()
		for !r.stop.Load() && !t.Void() {
			for range chunkLen {
				if !t.Next(&p) {
					return
				}
				res := d.Decode(p.LinkType, p.Data, &syn)
				if res == decode.Matched {
					c.syns = append(c.syns, syn)
				}
				c.ents = append(c.ents, entry{ts: p.Timestamp, wire: int32(min(p.OrigLen, 1<<31-1)), res: res})
				pos, n = t.Pos(), t.N()
			}
			if !r.sendTail(c) {
				return
			}
			select {
			case c = <-r.tfree:
			default:
				c = &chunk{ents: make([]entry, 0, chunkLen)}
			}
		}
	}()
	c.last, c.tailPos, c.tailN = true, pos, n
	r.sendTail(c)
}

// sendTail hands a tail chunk over once the chunks held are under
// tailBudget; false when the engine stopped.
func (r *splitReader) sendTail(c *chunk) bool {
	c.bytes = int64(cap(c.ents))*int64(unsafe.Sizeof(entry{})) + int64(cap(c.syns))*int64(unsafe.Sizeof(decode.Syn{}))
	for held := r.tailHeld.Load(); held > 0 && held+c.bytes > tailBudget; held = r.tailHeld.Load() {
		select {
		case <-r.tailSpace:
		case <-r.done:
			return false
		}
	}
	r.tailHeld.Add(c.bytes)
	select {
	case r.tfull <- c:
		return true
	case <-r.done:
		return false
	}
}

// tookTail tells the tail's goroutine that the engine took chunk c, and
// gives the chunk back for reuse (a chunk the garbage collector had to find
// would let the heap grow by the whole tail's records before it did).
func (r *splitReader) tookTail(c *chunk) {
	r.tailHeld.Add(-c.bytes)
	if !c.last {
		c.ents, c.syns, c.errs = c.ents[:0], c.syns[:0], c.errs[:0]
		select {
		case r.tfree <- c:
		default:
		}
	}
	select {
	case r.tailSpace <- struct{}{}:
	default:
	}
}
