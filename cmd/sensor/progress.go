package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws a one-line bar on stderr for offline runs, at most a few
// times a second, and only where a person is watching (a terminal), unless
// forced with --progress always. It never writes to the data stream.
type progress struct {
	w     io.Writer
	on    bool
	pos   func() (done, total int64)
	start time.Time
	last  time.Time
	drawn bool
}

func newProgress(mode string, stderr io.Writer, pos func() (int64, int64)) *progress {
	on := mode == "always" || (mode == "auto" && isTerminal(stderr))
	now := time.Now()
	return &progress{w: stderr, on: on, pos: pos, start: now, last: now}
}

func (p *progress) tick(packets uint64) {
	if !p.on {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	done, total := p.pos()
	frac := 0.0
	if total > 0 {
		frac = min(1, float64(done)/float64(total))
	}
	const width = 30
	n := int(frac * width)
	rate := float64(packets) / now.Sub(p.start).Seconds()
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%%  %d MiB of %d MiB  %.2f Mpkt/s ",
		strings.Repeat("=", n), strings.Repeat(" ", width-n), frac*100,
		done>>20, total>>20, rate/1e6)
	p.drawn = true
}

// clear wipes the bar before a log line is printed.
func (p *progress) clear() {
	if p.drawn {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 80))
		p.drawn = false
	}
}

func (p *progress) done() { p.clear() }
