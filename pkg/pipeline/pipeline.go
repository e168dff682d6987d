// Package pipeline owns the packet loop: packets from a capture.Source
// through the decoder into the engine, whose records go to the writer. It is
// the one loop that offline reading and live capture (AF_PACKET, eBPF)
// share, and Step is the one packet step every driver of the engine uses.
// Per-packet work here is counting and handing over; anything that talks to
// a person (logs, progress) is a hook the caller supplies, and what the
// run's owner does while a live loop runs (reopen the output, save state,
// feed metrics) is its Owner's Tick, both on the control path. Starting and
// ending a run is pkg/lifecycle's. It must not import gopacket, cilium/ebpf,
// a capture backend, viper or a logger.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/output"
)

// Hooks are called on the control path; any may be nil.
type Hooks struct {
	// InputError is told about each input that failed; the run goes on.
	InputError func(err error)
	// Tick is called about every TickEvery packets, for progress display.
	Tick func(packets uint64)
	// Live, when set, runs the loop for a live source (see Live).
	Live *Live
	// BeforeFinal, when set, is called once every record but the final
	// stats is written (the alert hooks finish their deliveries, so the
	// final stats record counts them).
	BeforeFinal func()
}

// TickEvery is how many packets pass between Tick calls.
const TickEvery = 1 << 16

// checkEvery is how many packets pass between looks at the context: a
// signal ends an offline run within that many (a few microseconds of
// reading; windows of a second, whose every close runs the growth
// classifier, made the 65,536 packets of TickEvery take 19 s).
const checkEvery = 1 << 10

// An Interrupter is a source whose blocked read can be ended (standard
// input: a pipe from a capture still running, idle). Run interrupts it
// when ctx is done, so a signal ends the run at once.
type Interrupter interface{ Interrupt() }

// aheadEvery: the capture loop calls an AheadSource's Ahead once in so
// many packets. The pcap reader's scout then follows four records (of its
// sixteen chains) a call: a record for each packet analysed, about what
// the walk reads next (the bench capture, one core, six runs each: 0.59 to
// 0.62 s; every 2 packets 0.62 to 0.65 s, six records every 4 0.62 to
// 0.66 s).
const aheadEvery = 4

// drainFor bounds how long a stopped live run takes the records its source
// still holds.
const drainFor = 500 * time.Millisecond

// stoppedDrainFor bounds the same for a source stopped first: what it
// holds is finite (a ring of some megabytes, read at millions of records
// a second), so the wait ends when it is empty, well within this.
const stoppedDrainFor = 2 * time.Second

// Run reads src to its end (or until ctx is done), writes every record, then
// the final stats record. It returns the final stats; the error is fatal
// trouble (the output failing, the source failing as a whole) or the
// context's error. Inputs that fail one by one are counted in the stats and
// reported through hooks, not returned.
func Run(ctx context.Context, src capture.Source, dec *decode.Decoder, eng *engine.Engine, w *output.Writer, hooks Hooks) (output.Stats, error) {
	var (
		st     output.Stats
		pumped uint64 // packets handed to the loop, across its restarts
		err    error
	)
	lv := newLiveState(hooks.Live, src, eng)
	if i, ok := src.(Interrupter); ok {
		defer context.AfterFunc(ctx, i.Interrupt)()
	}
	// A mapped input file that shrinks under the reader turns the next read
	// of the lost pages into a fault; with PanicOnFault it is a panic this
	// goroutine recovers as that input's error, and the loop goes on.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	pump := func() (err error) {
		var (
			batch  [batchLen]capture.Packet
			bi, bn int // batch[bi:bn] are still to be analysed
			syn    decode.Syn
			n      = pumped
		)
		bs, _ := src.(capture.BatchSource)
		ahead, _ := src.(capture.AheadSource)
		defer func() {
			pumped = n
			if f := faultOf(recover()); f != nil {
				err = f
			}
		}()
		for {
			if bi < bn {
				// The packets in hand, up to the next iteration that
				// checks (below): the same steps as the loop's, without
				// its checks, and Step written out.
				every := uint64(checkEvery)
				if lv != nil {
					every = liveEvery
				}
				stop := min(n+uint64(bn-bi), (n/every+1)*every-1)
				for ; n < stop; n++ {
					if n%aheadEvery == 0 && ahead != nil {
						ahead.Ahead()
					}
					p := &batch[bi]
					bi++
					r := dec.Decode(p.LinkType, p.Data, &syn)
					if r == decode.Matched {
						eng.Frame(p.Timestamp, p.OrigLen, &syn)
					} else if !eng.Tick(p.Timestamp, p.OrigLen) {
						eng.Frame(p.Timestamp, p.OrigLen, nil)
					}
					st.Results[r]++
				}
			}
			n++
			if lv != nil && n%liveEvery == 0 {
				if err = errors.Join(ctx.Err(), w.Err()); err != nil {
					return err
				}
				lv.tick(&st, w)
			}
			if n%checkEvery == 0 {
				if err = ctx.Err(); err != nil {
					return err
				}
			}
			if n%TickEvery == 0 {
				if hooks.Tick != nil {
					hooks.Tick(n)
				}
				if err = w.Err(); err != nil {
					return err
				}
			}
			if bi == bn {
				bi, bn = 0, 0
				if bs != nil {
					bn, err = bs.NextBatch(batch[:])
				} else if err = src.Next(&batch[0]); err == nil {
					bn = 1
				}
			}
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err() // the source was interrupted by it, or soon would be
				}
				if err == capture.ErrTimeout {
					if err = errors.Join(ctx.Err(), w.Err()); err != nil {
						return err
					}
					if lv != nil {
						lv.tick(&st, w)
					} else {
						// An offline stream that idles (a capture of a
						// quiet link): its clock starts with the frames
						// so far, not only at the 64th, and the shards
						// hand over what they hold (else once a window).
						eng.Settle()
						eng.Flush() // the shards' records so far, into the flood line
					}
					continue
				}
				if err == io.EOF {
					return nil
				}
				if capture.IsInputError(err) {
					inputFailed(&st, hooks, err)
					continue
				}
				return fmt.Errorf("capture: %w", err)
			}
			account(&batch[bi], &syn, dec, eng, &st)
			bi++
		}
	}
	for split := canSplit(src, hooks); ; {
		if split {
			err = runSplit(ctx, src, dec, eng, w, hooks, &st)
			break
		}
		err = pump()
		var f *fault
		if !errors.As(err, &f) {
			break
		}
		fs, ok := src.(capture.FaultSource)
		if !ok {
			panic(f.v)
		}
		ierr := fs.Fault(f.addr)
		if ierr == nil {
			panic(f.v) // not in an input's mapping: a real bug
		}
		inputFailed(&st, hooks, ierr)
	}
	// Whatever stopped the loop, what was read is analysed and written.
	if lv != nil {
		// A live source may still hold records the kernel handed over
		// without waking us: take them until it has none for a poll, for
		// at most drainFor. Traffic that keeps coming never leaves it
		// without one: a stop (SIGINT, SIGTERM) waited for the traffic to
		// end (a review: 14 s at 20,000 SYNs a second, for as long as 50 a
		// second went on with AF_PACKET), past a service manager's patience.
		//
		// A source that can stop taking packets (capture.Stopper) is
		// stopped first: what it holds is then all there is, read for at
		// most stoppedDrainFor, and its counters, read after, are those
		// of the packets analysed or dropped. Read while the traffic went
		// on, they counted packets that nothing analysed nor dropped (a
		// review: 1,507 of 787,083 SYNs with eBPF, 8,949 with AF_PACKET).
		var (
			p   capture.Packet
			syn decode.Syn
		)
		limit := drainFor
		if sp, ok := src.(capture.Stopper); ok && sp.Stop() == nil {
			limit = stoppedDrainFor
		}
		until := time.Now().Add(limit)
		for i := 0; i < 1<<24; i++ {
			if time.Now().After(until) {
				break
			}
			if e := src.Next(&p); e != nil {
				break
			}
			account(&p, &syn, dec, eng, &st)
		}
		lv.advance()
	}
	eng.Finish()
	if lv != nil {
		// The capture's counters as of the stop, before BeforeFinal's
		// wait: taken after it, they counted the traffic of that second,
		// which nothing analysed (a review).
		lv.capture(&st)
	}
	if hooks.BeforeFinal != nil {
		hooks.BeforeFinal()
	}
	st.Engine = eng.Counters()
	st.Ts = st.Engine.LastPacket
	st.Final = true
	w.Stats(&st)
	if werr := w.Flush(); werr != nil {
		err = errors.Join(err, fmt.Errorf("write output: %w", werr))
	}
	return st, err
}

// batchLen is how many packets the single loop asks a BatchSource for at a
// time: 256 rather than 64 took about 3 % off a one-core run of the bench
// captures (fewer calls; the packets still fit the L2 cache); the split
// loop's goroutines read splitBatchLen at a time.
const batchLen = 256

// splitBatchLen is how many packets each reading goroutine of the split
// loop (split.go) asks for at a time, decoded into its chunk.
const splitBatchLen = 64

func inputFailed(st *output.Stats, hooks Hooks, err error) {
	st.InputsFailed++
	if hooks.InputError != nil {
		hooks.InputError(err)
	}
}

// fault is a memory fault recovered from the loop: a read of a mapped file
// that is no longer there.
type fault struct {
	v    any
	addr uintptr
}

func (f *fault) Error() string { return fmt.Sprintf("memory fault at %#x", f.addr) }

// faultOf returns the fault a recovered value describes; any other panic
// goes on.
func faultOf(v any) *fault {
	if v == nil {
		return nil
	}
	if re, ok := v.(interface{ Addr() uintptr }); ok {
		return &fault{v: v, addr: re.Addr()}
	}
	panic(v)
}

// account runs one packet through the decoder and the engine.
func account(p *capture.Packet, syn *decode.Syn, dec *decode.Decoder, eng *engine.Engine, st *output.Stats) {
	st.Results[Step(eng, dec, syn, p.LinkType, p.Data, p.Timestamp, p.OrigLen)]++
}

// Step is the packet step every driver of the engine shares (the capture
// loop here, the growth harness): decode the frame into syn and hand it to
// the engine, which stamps the SYN with its clock. It returns what the
// decoder made of the frame.
func Step(eng *engine.Engine, dec *decode.Decoder, syn *decode.Syn, link capture.LinkType, data []byte, ts int64, wireLen int) decode.Result {
	r := dec.Decode(link, data, syn)
	if r == decode.Matched {
		eng.Frame(ts, wireLen, syn)
	} else if !eng.Tick(ts, wireLen) {
		eng.Frame(ts, wireLen, nil)
	}
	return r
}
