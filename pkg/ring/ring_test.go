package ring

import (
	"math/rand/v2"
	"sync"
	"testing"
)

type item struct {
	seq uint64
	pad [72]byte // a record's size, so slots are not single words
}

// run pushes n sequence numbers through a ring of the given size; with
// drop set a full ring drops (and counts) instead of waiting. It returns
// what the consumer received and how many were dropped.
func run(t *testing.T, size, n int, drop bool, seed uint64) (got []uint64, dropped int) {
	t.Helper()
	r := New[item](size)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for r.Wait() {
			for {
				v := r.Peek()
				if len(v) == 0 {
					break
				}
				for i := range v {
					got = append(got, v[i].seq)
				}
				r.Release(len(v))
			}
		}
	}()
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < n; i++ {
		s := r.Slot()
		if s == nil {
			if drop {
				dropped++
				continue
			}
			r.WaitSpace()
			if s = r.Slot(); s == nil {
				t.Fatal("WaitSpace returned with the ring still full")
			}
		}
		s.seq = uint64(i)
		r.Commit()
		if rng.IntN(97) == 0 {
			r.Publish()
		}
	}
	r.Close()
	wg.Wait()
	return got, dropped
}

// TestNothingLostDuplicatedOrReordered: with back-pressure every value
// arrives once and in order, through small and large rings.
func TestNothingLostDuplicatedOrReordered(t *testing.T) {
	n := 2_000_000
	if testing.Short() {
		n = 200_000
	}
	for _, size := range []int{128, 1024, 1 << 16} {
		got, _ := run(t, size, n, false, uint64(size))
		if len(got) != n {
			t.Fatalf("ring %d: received %d of %d values", size, len(got), n)
		}
		for i, v := range got {
			if v != uint64(i) {
				t.Fatalf("ring %d: value %d is %d", size, i, v)
			}
		}
	}
}

// TestFullRingDropsAndCounts: without back-pressure a full ring drops;
// what arrives is in order, without duplicates, and arrived+dropped is
// everything.
func TestFullRingDropsAndCounts(t *testing.T) {
	n := 1_000_000
	got, dropped := run(t, 128, n, true, 7)
	if len(got)+dropped != n {
		t.Fatalf("received %d + dropped %d != sent %d", len(got), dropped, n)
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("value %d (%d) after %d: reordered or duplicated", i, got[i], got[i-1])
		}
	}
	t.Logf("received %d, dropped %d", len(got), dropped)
}

func TestSlotOnFullRingIsNil(t *testing.T) {
	r := New[item](1)
	for i := 0; i < r.Cap(); i++ {
		s := r.Slot()
		if s == nil {
			t.Fatalf("slot %d of %d: nil", i, r.Cap())
		}
		s.seq = uint64(i)
		r.Commit()
	}
	if r.Slot() != nil {
		t.Fatal("a full ring handed out a slot")
	}
	r.Publish()
	v := r.Peek()
	if len(v) != r.Cap() || v[0].seq != 0 || v[len(v)-1].seq != uint64(r.Cap()-1) {
		t.Fatalf("peek: %d values", len(v))
	}
	r.Release(1)
	if r.Slot() == nil {
		t.Fatal("no slot after a release")
	}
}

// BenchmarkHandOver: the cost of moving one record-sized value through a
// ring from one goroutine to another.
func BenchmarkHandOver(b *testing.B) {
	r := New[item](4096)
	done := make(chan int)
	go func() {
		n := 0
		for r.Wait() {
			for v := r.Peek(); len(v) > 0; v = r.Peek() {
				n += len(v)
				r.Release(len(v))
			}
		}
		done <- n
	}()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s := r.Slot()
		if s == nil {
			r.WaitSpace()
			s = r.Slot()
		}
		s.seq = uint64(i)
		r.Commit()
	}
	r.Close()
	if n := <-done; n != b.N {
		b.Fatalf("received %d of %d", n, b.N)
	}
}
