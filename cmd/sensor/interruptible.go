package main

import (
	"context"
	"fmt"
)

// interruptible runs f, which may wait in the kernel for another process
// (opening a FIFO waits for its other end), and gives up when ctx ends
// first: the signal that ended it was caught, so the open went on
// waiting and only a second signal ended the process. A result that comes
// after ctx ended is handed to discard (nil: dropped). The error then is
// an interrupted, which is context.Canceled (the run's exit status is the
// signal's) and says what was waited for.
func interruptible[T any](ctx context.Context, what string, f func() (T, error), discard func(T)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.err == nil && discard != nil {
				discard(r.v)
			}
		}()
		var zero T
		return zero, interrupted{what, context.Cause(ctx)}
	}
}

// interrupted is the error of an interruptible wait that ctx ended.
type interrupted struct {
	what  string
	cause error
}

func (e interrupted) Error() string { return fmt.Sprintf("interrupted %s: %v", e.what, e.cause) }
func (e interrupted) Unwrap() error { return context.Canceled }
