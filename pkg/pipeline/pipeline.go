// Package pipeline runs packets from a capture.Source through the decoder
// into the engine and the writer: the one loop that offline reading (and
// later live capture) shares. Per-packet work here is counting and handing
// over; anything that talks to a person (logs, progress) is a hook the caller
// supplies and that runs on the control path. It must not import gopacket,
// viper or a logger.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"

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
}

// TickEvery is how many packets pass between Tick calls.
const TickEvery = 1 << 16

// Run reads src to its end (or until ctx is done), writes every record, then
// the final stats record. It returns the final stats; the error is fatal
// trouble (the output failing, the source failing as a whole) or the
// context's error. Inputs that fail one by one are counted in the stats and
// reported through hooks, not returned.
func Run(ctx context.Context, src capture.Source, dec *decode.Decoder, eng *engine.Engine, w *output.Writer, hooks Hooks) (output.Stats, error) {
	var (
		st  output.Stats
		p   capture.Packet
		syn decode.Syn
		n   uint64
		err error
	)
	for {
		n++
		if n%TickEvery == 0 {
			if err = ctx.Err(); err != nil {
				break
			}
			if hooks.Tick != nil {
				hooks.Tick(n)
			}
			if err = w.Err(); err != nil {
				break
			}
		}
		if err = src.Next(&p); err != nil {
			if err == io.EOF {
				err = nil
				break
			}
			if capture.IsInputError(err) {
				st.InputsFailed++
				if hooks.InputError != nil {
					hooks.InputError(err)
				}
				continue
			}
			err = fmt.Errorf("capture: %w", err)
			break
		}
		ts := eng.Packet(p.Timestamp, p.OrigLen)
		r := dec.Decode(p.LinkType, p.Data, &syn)
		st.Results[r]++
		if r == decode.Matched {
			syn.Ts = ts
			eng.Syn(&syn)
		}
	}
	// Whatever stopped the loop, what was read is analysed and written.
	eng.Flush()
	st.Engine = eng.Counters()
	st.Ts = st.Engine.LastPacket
	st.Final = true
	w.Stats(&st)
	if werr := w.Flush(); werr != nil {
		err = errors.Join(err, fmt.Errorf("write output: %w", werr))
	}
	return st, err
}
