package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// progress reports an offline run's progress on stderr, never on the data
// stream: where a person is watching (a terminal), or when forced with
// --progress always. With console logs it is a one-line bar redrawn at most
// five times a second, wiped before any log line (the logger writes
// through Writer); with JSON logs it is a log line of its own, at any
// --log-level, at most every jsonEvery (the run looks every 65,536
// packets), so that every line on stderr stays one JSON object (a bar's
// carriage returns amid them broke a log shipper's parse).
type progress struct {
	mu    sync.Mutex // the bar and the log lines, from any goroutine
	w     io.Writer
	on    bool
	asLog bool // JSON logs: a progress log line, no bar
	log   zerolog.Logger
	pos   func() (done, total int64)
	now   func() time.Time // time.Now; a test's clock
	start time.Time
	last  time.Time
	drawn bool
}

// jsonEvery is how often a JSON progress line is written.
const jsonEvery = 5 * time.Second

// newProgress makes the report for a --progress mode and a --log-format;
// console says whether logs are human-readable (then a bar). Track gives
// it the input's position.
func newProgress(mode string, console bool, stderr io.Writer) *progress {
	on := mode == "always" || (mode == "auto" && isTerminal(stderr))
	p := &progress{w: stderr, on: on, asLog: !console, now: time.Now}
	p.start = p.now()
	p.last = p.start
	return p
}

// Track sets where the position comes from, and the logger a JSON line is
// written with (one that writes through Writer).
func (p *progress) Track(pos func() (int64, int64), log zerolog.Logger) {
	p.pos, p.log = pos, log
}

// Writer is stderr for the logger: a bar on the line is wiped before a log
// line is written, and none is drawn while one is being written.
func (p *progress) Writer() io.Writer { return barWriter{p} }

type barWriter struct{ p *progress }

func (b barWriter) Write(buf []byte) (int, error) {
	b.p.mu.Lock()
	defer b.p.mu.Unlock()
	b.p.wipe()
	return b.p.w.Write(buf)
}

func (p *progress) tick(packets uint64) {
	if !p.on || p.pos == nil {
		return
	}
	now := p.now()
	every := 200 * time.Millisecond
	if p.asLog {
		every = jsonEvery
	}
	if now.Sub(p.last) < every {
		return
	}
	p.last = now
	done, total := p.pos()
	frac := 0.0
	if total > 0 {
		frac = min(1, float64(done)/float64(total))
	}
	rate := 0.0
	if s := now.Sub(p.start).Seconds(); s > 0 {
		rate = float64(packets) / s
	}
	if p.asLog {
		// At any --log-level: progress was asked for (Log writes no
		// level of its own, so it is named here).
		ev := p.log.Log().Str("level", "info")
		if total > 0 { // (a pipe has no size)
			ev = ev.Int64("done_bytes", done).Int64("total_bytes", total).Float64("percent", float64(int(frac*1000))/10)
		}
		ev.Uint64("packets", packets).Float64("packets_per_second", float64(int64(rate))).Msg("progress")
		return
	}
	const width = 30
	n := int(frac * width)
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%%  %d MiB of %d MiB  %.2f Mpkt/s ",
		strings.Repeat("=", n), strings.Repeat(" ", width-n), frac*100,
		done>>20, total>>20, rate/1e6)
	p.drawn = true
}

// wipe clears a bar that is drawn (mu held).
func (p *progress) wipe() {
	if p.drawn {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 80))
		p.drawn = false
	}
}

// done wipes the bar: the loop is over, and the lines after it stay clean.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wipe()
}
