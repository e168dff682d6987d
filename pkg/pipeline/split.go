package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sync"
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
// so a large pcap file is read by two goroutines at once: a second one
// reads a part ahead of the reader (a tail, see capture.Splitter), and
// whichever of them is done with its part takes a new one split off ahead
// of the part still being read (capture.Tail's Split), so that both stay
// busy to the end. The engine takes the parts' frames in file order; a
// part is split off about as far ahead as tailBudget holds of its frames
// decoded, so the one read ahead of the engine rarely has to wait.

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
	wire uint32        // a file's original length is a u32; the loop in line passes it whole
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

	// A large file is also read by tail goroutines from boundaries on (see
	// capture.Splitter): runs are the parts, in file order, and closed says
	// that the engine resumed the reader after one (no part is split off
	// after it); mu guards both. workers counts the goroutines reading tails
	// besides the reader.
	sp        capture.Splitter
	mu        sync.Mutex
	runs      []*tailRun
	closed    bool
	workers   sync.WaitGroup
	triedTail bool
	resume    chan struct{}
	done      chan struct{}
	tailHeld  atomic.Int64 // bytes of tail chunks sent and not yet taken
	tfree     chan *chunk  // tail chunks to reuse
	// sentBytes and sentFrames measure a tail chunk's memory per frame, to
	// place the next boundary (ahead).
	sentBytes, sentFrames atomic.Int64
}

// A tailRun is one part of a split file being read: its tail, its chunks
// (closed when it ends), and a wake-up for its goroutine waiting for room.
// current: the engine is taking its chunks, so it does not wait for the
// budget (the parts ahead of it may hold all of it until then), only for
// the engine to take all but currentAhead of them.
type tailRun struct {
	t        capture.Tail
	full     chan *chunk
	wake     chan struct{}
	current  atomic.Bool
	inFlight atomic.Int64 // its chunks sent and not taken
}

// currentAhead bounds the chunks of the part the engine is taking that are
// decoded and not yet taken (its memory: the budget does not hold it back).
const currentAhead = 2 * chunksAhead

// tailsTaken counts the chains of tails whose frames the engine took, and
// tailRunsTaken the tails in them; tailsSplit the files split (for tests).
var tailsTaken, tailRunsTaken, tailsSplit atomic.Int64

// tailBudget bounds the memory of what tail goroutines decoded ahead of
// the part the engine is taking: 32 MiB, about 1.8 M frames of a capture
// with few SYNs, 400,000 of a flood (each SYN's record is 80 bytes);
// tailChunks bounds their number. Past it a tail ahead waits (the part the
// engine takes never does).
var tailBudget int64 = 32 << 20 // a variable so tests can make the tail wait

const tailChunks = 1024

// canSplit tells whether Run may split its loop for src.
func canSplit(src capture.Source, hooks Hooks) bool {
	_, ok := src.(capture.BatchSource)
	if s, streaming := src.(interface{ Streaming() bool }); streaming && s.Streaming() {
		// A pipe from a capture still running: the reader's chunk would
		// hold the packets read while the pipe idles, unanalysed, until
		// enough came to fill it (one loop analyses each as it is read).
		return false
	}
	return ok && hooks.Live == nil && runtime.GOMAXPROCS(0) >= splitMinProcs
}

// runSplit is Run's loop for an offline source on two or more cores.
func runSplit(ctx context.Context, src capture.Source, dec *decode.Decoder, eng *engine.Engine, w *output.Writer, hooks Hooks, st *output.Stats) error {
	r := &splitReader{
		src: src, dec: dec,
		free:   make(chan *chunk, chunksAhead),
		full:   make(chan *chunk, chunksAhead),
		resume: make(chan struct{}),
		done:   make(chan struct{}),
		tfree:  make(chan *chunk, tailChunks),
	}
	r.sp, _ = src.(capture.Splitter)
	r.bs = src.(capture.BatchSource)
	for range chunksAhead {
		r.free <- &chunk{ents: make([]entry, 0, chunkLen), syns: make([]decode.Syn, 0, chunkLen)}
	}
	go r.run()
	// The growth classifier's fits run beside the engine, on their own
	// goroutine (engine.ClassifyAside: the same records); its verdicts are
	// written as they come, between chunks (and by Finish, the last).
	eng.ClassifyAside()
	// However this loop ends, the reader is stopped and waited for before
	// the caller closes the source.
	defer func() {
		r.stop.Store(true)
		close(r.done)
		for c := range r.full {
			r.recycle(c)
		}
		r.mu.Lock()
		r.closed = true
		runs := r.runs
		r.mu.Unlock()
		for _, run := range runs {
			for range run.full { // closed by its goroutine
			}
		}
	}()
	var (
		n      uint64
		run    *tailRun // the tail whose frames are taken, or nil
		k      int      // its index in r.runs
		chainN uint64   // frames of the tails before it in the chain
	)
	chunks := r.full // or run.full while a tail's frames are taken
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
			if n++; n%checkEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if n%TickEvery == 0 {
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
				if !eng.Tick(e.ts, int(e.wire)) {
					eng.Frame(e.ts, int(e.wire), nil)
				}
			}
		}
		eng.VerdictsReady()
		switch {
		case c.atTail: // the tail's frames come next
			r.recycle(c)
			k, chainN = 0, 0
			run = r.take(k)
			chunks = run.full
		case run != nil && c.last:
			r.tookTail(c, k)
			chainN += c.tailN
			tailRunsTaken.Add(1)
			if j := r.after(k, c.tailPos); j > 0 {
				// It ended on the next one's boundary: that one's frames follow.
				k = j
				run = r.take(k)
				chunks = run.full
				continue
			}
			// The chain ends here: the reader goes on after its last whole
			// frame (the end of the file, or a record it left).
			r.endChain(k, run.t, c.tailPos, chainN)
			tailsTaken.Add(1)
			run = nil
			chunks = r.full
			r.resume <- struct{}{}
		case run != nil:
			r.tookTail(c, k)
		case c.last:
			if c.end != nil && ctx.Err() != nil {
				return ctx.Err() // the source was interrupted by it
			}
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
	defer func() {
		// Tails the reader never reached (its guess of the boundary was
		// wrong, or the input ended before it) are stopped and let go.
		r.stop.Store(true)
		r.workers.Wait()
	}()
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
		batch [splitBatchLen]capture.Packet
		syn   decode.Syn
	)
	ahead, _ := r.src.(capture.AheadSource)
	for {
		if r.stop.Load() {
			return context.Canceled // the engine's half has stopped reading
		}
		n, err := r.bs.NextBatch(batch[:])
		if err == capture.ErrAtTail {
			// The tail's frames go first; the engine says when to go on.
			// Meanwhile this goroutine reads parts split off ahead.
			r.cur.atTail = true
			r.pass()
			r.work(r.splitLast())
			select {
			case <-r.resume:
				continue
			case <-r.done:
				return context.Canceled
			}
		}
		if err == nil && !r.triedTail && r.sp != nil {
			r.triedTail = true
			if t := r.sp.SplitTail(r.ahead()); t != nil {
				tailsSplit.Add(1)
				run := r.addRun(t)
				r.workers.Add(1)
				go func() {
					defer r.workers.Done()
					defer debug.SetPanicOnFault(debug.SetPanicOnFault(true)) // Split reads the mapping
					r.work(run)
				}()
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
			if i%aheadEvery == 0 && ahead != nil {
				ahead.Ahead()
			}
			p := &batch[i]
			res := r.dec.Decode(p.LinkType, p.Data, &syn)
			if res == decode.Matched {
				c.syns = append(c.syns, syn)
			}
			c.ents = append(c.ents, entry{ts: p.Timestamp, wire: uint32(min(p.OrigLen, 1<<32-1)), res: res})
		}
		if len(c.ents) > chunkLen-splitBatchLen {
			r.pass()
		}
	}
}

// inputError puts an input's error at its place among the frames.
func (r *splitReader) inputError(err error) {
	c := r.cur
	c.errs = append(c.errs, err)
	c.ents = append(c.ents, entry{res: resInputError})
	if len(c.ents) > chunkLen-splitBatchLen {
		r.pass()
	}
}

// pass hands the chunk over and takes a free one.
func (r *splitReader) pass() {
	r.full <- r.cur
	r.cur = <-r.free
}

// ahead is how many frames ahead of a part being read the next boundary
// goes: half of what tailBudget holds at the memory per frame measured so
// far (at first, a frame and a SYN record each).
func (r *splitReader) ahead() int {
	per := int64(unsafe.Sizeof(entry{})) + int64(unsafe.Sizeof(decode.Syn{}))
	if f := r.sentFrames.Load(); f >= chunkLen {
		per = max(int64(unsafe.Sizeof(entry{})), r.sentBytes.Load()/f)
	}
	return int(max(1, tailBudget/per/2))
}

// addRun appends a run for tail t.
func (r *splitReader) addRun(t capture.Tail) *tailRun {
	run := &tailRun{t: t, full: make(chan *chunk, tailChunks), wake: make(chan struct{}, 1)}
	r.mu.Lock()
	r.runs = append(r.runs, run)
	r.mu.Unlock()
	return run
}

// splitLast splits a new part off the last tail still valid, ahead of
// where it reads, and returns its run; nil when there is none to split
// (too little left, the chain ended, the engine stopped).
func (r *splitReader) splitLast() *tailRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.stop.Load() {
		return nil
	}
	for i := len(r.runs) - 1; i >= 0; i-- {
		if last := r.runs[i]; !last.t.Void() {
			t := last.t.Split(r.ahead())
			if t == nil {
				return nil
			}
			run := &tailRun{t: t, full: make(chan *chunk, tailChunks), wake: make(chan struct{}, 1)}
			r.runs = append(r.runs, run)
			return run
		}
	}
	return nil
}

// work reads run's part, then parts split off ahead, until none can be.
func (r *splitReader) work(run *tailRun) {
	for ; run != nil; run = r.splitLast() {
		r.runTail(run)
	}
}

// take makes run k the one whose frames the engine takes.
func (r *splitReader) take(k int) *tailRun {
	r.mu.Lock()
	run := r.runs[k]
	r.mu.Unlock()
	run.current.Store(true)
	wake(run)
	return run
}

// after returns the index of the run whose frames follow run k's, which
// ended at pos: the next valid one, if it starts there; else 0.
func (r *splitReader) after(k, pos int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for j := k + 1; j < len(r.runs); j++ {
		if t := r.runs[j].t; !t.Void() {
			if t.Start() == pos {
				return j
			}
			return 0
		}
	}
	return 0
}

// endChain resumes the reader after the first n frames of the chain, which
// end at pos in run k's tail t: the runs after it are void; their goroutines
// are woken to stop, and their chunks let go.
func (r *splitReader) endChain(k int, t capture.Tail, pos int, n uint64) {
	r.mu.Lock()
	r.closed = true
	later := r.runs[k+1:]
	r.mu.Unlock()
	r.sp.ResumeAfter(t, pos, n)
	for _, run := range later {
		wake(run)
	}
	for _, run := range later {
		for c := range run.full {
			r.tailHeld.Add(-c.bytes)
		}
	}
}

func wake(run *tailRun) {
	select {
	case run.wake <- struct{}{}:
	default:
	}
}

// runTail decodes a tail into chunks of its own until it ends (the next
// tail's boundary, the end of the file, a record it leaves to the reader,
// a fault) or is stopped; its last chunk says where its last whole frame
// ends.
func (r *splitReader) runTail(run *tailRun) {
	defer close(run.full)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	d := *r.dec // its own decoder (it holds nothing but the watched ports)
	c := r.tailChunk()
	var pos int
	var n uint64
	t := run.t
	ahead, _ := t.(capture.AheadSource)
	var e0, s0 int // c's frames when the batch being decoded began
	func() {
		defer func() {
			// A fault ends the tail before the batch that faulted: the
			// reader reads it again and fails there. (A tail reads through
			// windows of its own, and a file that shrank gives it a short
			// read, not a fault; the record cut short is left to the
			// reader like any other.)
			if v := recover(); v != nil {
				if faultOf(v) == nil {
					panic(v)
				}
				c.ents, c.syns = c.ents[:e0], c.syns[:s0]
			}
		}()
		var (
			batch [splitBatchLen]capture.Packet
			syn   decode.Syn
		)
		pos = t.Pos()
		for !r.stop.Load() && !t.Void() {
			for len(c.ents) <= chunkLen-splitBatchLen {
				e0, s0 = len(c.ents), len(c.syns)
				k := t.NextBatch(batch[:])
				if k == 0 {
					return
				}
				for i := range batch[:k] {
					if i%aheadEvery == 0 && ahead != nil {
						ahead.Ahead()
					}
					p := &batch[i]
					res := d.Decode(p.LinkType, p.Data, &syn)
					if res == decode.Matched {
						c.syns = append(c.syns, syn)
					}
					c.ents = append(c.ents, entry{ts: p.Timestamp, wire: uint32(min(p.OrigLen, 1<<32-1)), res: res})
				}
				pos, n = t.Pos(), t.N()
			}
			if !r.sendTail(run, c) {
				return
			}
			c = r.tailChunk()
		}
	}()
	c.last, c.tailPos, c.tailN = true, pos, n
	r.sendTail(run, c)
}

func (r *splitReader) tailChunk() *chunk {
	select {
	case c := <-r.tfree:
		return c
	default:
		return &chunk{ents: make([]entry, 0, chunkLen)}
	}
}

// sendTail hands a tail chunk over, once the chunks held are under
// tailBudget, or, when the engine is taking this run's, once fewer than
// currentAhead of them are waiting; false when the engine stopped or the
// run is void.
func (r *splitReader) sendTail(run *tailRun, c *chunk) bool {
	c.bytes = int64(cap(c.ents))*int64(unsafe.Sizeof(entry{})) + int64(cap(c.syns))*int64(unsafe.Sizeof(decode.Syn{}))
	r.sentBytes.Add(c.bytes)
	r.sentFrames.Add(int64(len(c.ents)))
	for {
		if run.current.Load() {
			if run.inFlight.Load() < currentAhead {
				break
			}
		} else if held := r.tailHeld.Load(); held == 0 || held+c.bytes <= tailBudget {
			break
		}
		if run.t.Void() {
			return false
		}
		select {
		case <-run.wake:
		case <-r.done:
			return false
		}
	}
	r.tailHeld.Add(c.bytes)
	run.inFlight.Add(1)
	select {
	case run.full <- c:
		return true
	case <-r.done:
		return false
	}
}

// tookTail tells run k's goroutine, whose chunk c the engine took, and
// those ahead of it that there is room, and gives the chunk back
// for reuse (a chunk the garbage collector had to find would let the heap
// grow by the whole tail's records before it did).
func (r *splitReader) tookTail(c *chunk, k int) {
	r.tailHeld.Add(-c.bytes)
	if !c.last {
		c.ents, c.syns, c.errs = c.ents[:0], c.syns[:0], c.errs[:0]
		select {
		case r.tfree <- c:
		default:
		}
	}
	r.mu.Lock()
	runs := r.runs[k:]
	r.mu.Unlock()
	runs[0].inFlight.Add(-1)
	for _, run := range runs {
		wake(run)
	}
}
