// Package ring is the hand-over between the capture goroutine and the shard
// workers: a bounded single-producer/single-consumer queue of fixed-size
// values. Each side owns one index and publishes it with an atomic store;
// nothing locks and no channel operation happens per value. The producer
// publishes in batches (Batch values, or when it says so), and a side that
// has nothing to do parks on a channel that the other side signals only
// when it knows the first is parked, so a busy pair never touches it.
//
// Exactly one goroutine may call the producer methods (Slot, Commit,
// Publish, WaitSpace, Close) and exactly one the consumer methods (Peek,
// Release, Wait).
package ring

import (
	"runtime"
	"sync/atomic"
)

// Batch is how many committed values the producer gathers before it
// publishes them on its own.
const Batch = 64

// spins is how often a side looks again (yielding the processor between
// looks) before it parks.
const spins = 64

// pad keeps the two sides' indices on different cache lines.
type pad [64]byte

// Ring is a bounded SPSC queue of T. The zero value is not usable; see New.
type Ring[T any] struct {
	buf  []T
	mask uint64

	_    pad
	tail atomic.Uint64 // published: values [head, tail) are the consumer's
	_    pad
	head atomic.Uint64 // released: slots before head are the producer's again
	_    pad

	// producer-owned
	next       uint64 // the next slot Slot hands out (>= tail)
	cachedHead uint64
	_          pad

	// consumer-owned
	cachedTail uint64
	_          pad

	consumerParked atomic.Bool
	producerParked atomic.Bool
	closed         atomic.Bool
	wake           chan struct{} // to the consumer
	space          chan struct{} // to the producer
}

// New makes a ring holding at least size values (rounded up to a power of
// two, at least 2*Batch).
func New[T any](size int) *Ring[T] {
	n := 2 * Batch
	for n < size {
		n <<= 1
	}
	return &Ring[T]{
		buf:   make([]T, n),
		mask:  uint64(n - 1),
		wake:  make(chan struct{}, 1),
		space: make(chan struct{}, 1),
	}
}

// Cap is the number of values the ring holds.
func (r *Ring[T]) Cap() int { return len(r.buf) }

// Slot returns the next free slot to fill, or nil when the ring is full.
// The value is not handed over until Commit and then Publish (or a full
// batch).
func (r *Ring[T]) Slot() *T {
	if r.next-r.cachedHead >= uint64(len(r.buf)) {
		r.cachedHead = r.head.Load()
		if r.next-r.cachedHead >= uint64(len(r.buf)) {
			return nil
		}
	}
	return &r.buf[r.next&r.mask]
}

// Commit hands over the slot Slot returned, publishing once a batch has
// gathered.
func (r *Ring[T]) Commit() {
	r.next++
	if r.next-r.tail.Load() >= Batch {
		r.Publish()
	}
}

// Publish makes every committed value visible to the consumer and wakes it
// if it is parked.
func (r *Ring[T]) Publish() {
	if r.tail.Load() == r.next {
		return
	}
	r.tail.Store(r.next)
	// The consumer sets consumerParked and then looks at tail again; we set
	// tail and then look at consumerParked: one of us sees the other.
	if r.consumerParked.Load() {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// WaitSpace publishes what is committed and blocks until a slot is free:
// the back-pressure of a reader that can wait (a file). A live capture
// counts a drop instead of waiting.
func (r *Ring[T]) WaitSpace() {
	r.Publish()
	for i := 0; ; i++ {
		r.cachedHead = r.head.Load()
		if r.next-r.cachedHead < uint64(len(r.buf)) {
			return
		}
		if i < spins {
			runtime.Gosched()
			continue
		}
		r.producerParked.Store(true)
		if r.next-r.head.Load() < uint64(len(r.buf)) {
			r.producerParked.Store(false)
			continue
		}
		<-r.space
		r.producerParked.Store(false)
	}
}

// Close publishes what is committed and tells the consumer that nothing
// more comes.
func (r *Ring[T]) Close() {
	r.Publish()
	r.closed.Store(true)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Peek returns the published values not yet released, as far as the end
// of the buffer (the rest comes with the next Peek). It does not wait.
func (r *Ring[T]) Peek() []T {
	h := r.head.Load()
	if h == r.cachedTail {
		r.cachedTail = r.tail.Load()
		if h == r.cachedTail {
			return nil
		}
	}
	i := h & r.mask
	n := min(r.cachedTail-h, uint64(len(r.buf))-i)
	return r.buf[i : i+n]
}

// Release gives n values back to the producer (the first n Peek returned).
func (r *Ring[T]) Release(n int) {
	r.head.Add(uint64(n))
	if r.producerParked.Load() {
		select {
		case r.space <- struct{}{}:
		default:
		}
	}
}

// Wait blocks until a value is published; it returns false once the ring
// is closed and empty.
func (r *Ring[T]) Wait() bool {
	for i := 0; ; i++ {
		h := r.head.Load()
		if r.cachedTail = r.tail.Load(); r.cachedTail != h {
			return true
		}
		if r.closed.Load() {
			if r.cachedTail = r.tail.Load(); r.cachedTail != h {
				return true
			}
			return false
		}
		if i < spins {
			runtime.Gosched()
			continue
		}
		r.consumerParked.Store(true)
		if r.tail.Load() != h || r.closed.Load() {
			r.consumerParked.Store(false)
			continue
		}
		<-r.wake
		r.consumerParked.Store(false)
	}
}
