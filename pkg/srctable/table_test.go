package srctable

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"unsafe"
)

type val struct {
	last uint32 // non-zero when used
	x    uint64
}

// TestAgainstMap runs random puts, gets and deletes against a Go map, on
// keys drawn from a small space so that runs collide, wrap and shift.
func TestAgainstMap(t *testing.T) {
	for _, space := range []uint32{300, 5000, 200_000} {
		againstMap(t, space)
	}
}

func againstMap(t *testing.T, space uint32) {
	rng := rand.New(rand.NewPCG(1, uint64(space)))
	tb := New[uint32, val](0)
	ref := map[uint32]val{}
	grew, swept := 0, 0
	var hand Cursor
	for i := 0; i < 400_000; i++ {
		if len(tb.segs) > 1 || len(tb.segs[0].slots) > minSlots {
			grew++
		}
		if i%9973 == 0 {
			n := 0
			tb.Range(func(k uint32, v *val) bool {
				if ref[k] != *v {
					t.Fatalf("op %d: range: %d = %v, want %v", i, k, *v, ref[k])
				}
				n++
				return true
			})
			if n != len(ref) {
				t.Fatalf("op %d: range saw %d of %d ", i, n, len(ref))
			}
		}
		k := rng.Uint32N(space)
		h := Hash4(k)
		switch rng.IntN(6) {
		case 0, 1:
			v := val{last: uint32(i) + 1, x: uint64(k)}
			tb.Put(k, h, v)
			ref[k] = v
		case 2:
			if got, want := tb.Delete(k, h), ref[k].last != 0; got != want {
				t.Fatalf("op %d: delete %d: %v, want %v", i, k, got, want)
			}
			delete(ref, k)
		case 4: // an eviction: the entry of k's run with the lowest key goes, where it was found
			run := tb.Run(h, 8)
			at, seen := -1, 0
			var low uint32
			for j := range run.Len() {
				rv := run.Val(j)
				if rv == nil {
					continue
				}
				rk := run.Key(j)
				seen++
				if ref[rk] != *rv {
					t.Fatalf("op %d: run of %d, slot %d: %d = %v, want %v", i, k, j, rk, *rv, ref[rk])
				}
				if at < 0 || rk < low {
					at, low = j, rk
				}
			}
			if run.Len() != min(8, len(tb.seg(h).slots)) || seen > tb.Len() {
				t.Fatalf("op %d: a run of %d slots with %d entries in a table of %d", i, run.Len(), seen, tb.Len())
			}
			if at >= 0 {
				tb.DeleteAt(run, at)
				delete(ref, low)
				if tb.Get(low, Hash4(low)) != nil {
					t.Fatalf("op %d: %d still there after DeleteAt", i, low)
				}
				n := 0
				for _, sg := range tb.segs {
					n += sg.n
				}
				if n != tb.Len() {
					t.Fatalf("op %d: the segments count %d entries after DeleteAt, the table %d", i, n, tb.Len())
				}
			}
		case 5: // an eviction by the clock hand: the first entry from it with an even key
			c, ok := tb.Sweep(hand, 64, func(k uint32, v *val) bool {
				if ref[k] != *v {
					t.Fatalf("op %d: sweep: %d = %v, want %v", i, k, *v, ref[k])
				}
				return k%2 == 0
			})
			hand = c
			if ok {
				vk, vv := tb.At(c)
				if vk%2 != 0 || ref[vk] != *vv {
					t.Fatalf("op %d: sweep chose %d = %v", i, vk, *vv)
				}
				tb.DeleteAtCursor(c)
				delete(ref, vk)
				if tb.Get(vk, Hash4(vk)) != nil {
					t.Fatalf("op %d: %d still there after DeleteAtCursor", i, vk)
				}
				swept++
			}
		case 3:
			p := tb.Get(k, h)
			w, ok := ref[k]
			if (p != nil) != ok || (ok && *p != w) {
				t.Fatalf("op %d: get %d: %v, want %v %v", i, k, p, w, ok)
			}
		}
		if tb.Len() != len(ref) {
			t.Fatalf("op %d: len %d, want %d", i, tb.Len(), len(ref))
		}
	}
	if space > 1000 && grew == 0 {
		t.Fatalf("space %d: the table never grew during the test", space)
	}
	if swept < 1000 {
		t.Fatalf("space %d: the hand evicted only %d entries", space, swept)
	}
	n := 0
	tb.Range(func(k uint32, v *val) bool {
		if ref[k] != *v {
			t.Fatalf("range: %d = %v, want %v", k, *v, ref[k])
		}
		n++
		return true
	})
	if n != len(ref) {
		t.Fatalf("range saw %d of %d", n, len(ref))
	}
}

func TestIPv6AndDrain(t *testing.T) {
	tb := New[[16]byte, val](0)
	want := map[[16]byte]bool{}
	for i := 0; i < 10_000; i++ {
		var k [16]byte
		k[0], k[1], k[15] = 0x20, 0x01, byte(i)
		k[7], k[8] = byte(i>>8), byte(i>>16)
		tb.Put(k, Hash6(k), val{last: 1})
		want[k] = true
	}
	var c Cursor
	seen := 0
	for done := false; !done; {
		c, done = tb.Drain(c, 100, func(k [16]byte, v *val) {
			if !want[k] {
				t.Fatalf("drain: unknown key %x", k)
			}
			seen++
		})
	}
	if seen != len(want) || tb.Len() != len(want) {
		t.Fatalf("drained %d, len %d, want %d", seen, tb.Len(), len(want))
	}
}

// BenchmarkHeapPerIPv4 fills one table with 10 M random IPv4 keys and
// reports the heap it holds per key.
func BenchmarkHeapPerIPv4(b *testing.B) {
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		tb := New[uint32, [3]uint32](0)
		rng := rand.New(rand.NewPCG(3, 4))
		for tb.Len() < 10_000_000 {
			k := rng.Uint32()
			tb.Put(k, Hash4(k), [3]uint32{1, 2, 3})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/float64(tb.Len()), "bytes/key")
		runtime.KeepAlive(tb)
	}
}

func BenchmarkGetHit(b *testing.B) {
	tb := New[uint32, [3]uint32](0)
	for k := uint32(0); k < 1<<20; k++ {
		tb.Put(k*2654435761, Hash4(k*2654435761), [3]uint32{1})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := uint32(i&(1<<20-1)) * 2654435761
		if tb.Get(k, Hash4(k)) == nil {
			b.Fatal("miss")
		}
	}
}

// Add stores only what is absent, through growth, and agrees with Get.
func TestAdd(t *testing.T) {
	tab := New[uint32, val](0)
	for i := range uint32(5000) {
		k := i * 7919
		if !tab.Add(k, Hash4(k), val{1, uint64(i)}) {
			t.Fatalf("%d: not added", k)
		}
		if tab.Add(k, Hash4(k), val{1, 1 << 30}) {
			t.Fatalf("%d: added twice", k)
		}
		if j := i / 2 * 7919; tab.Add(j, Hash4(j), val{1, 1 << 30}) {
			t.Fatalf("%d (an earlier key, maybe among old slots): added again", j)
		}
	}
	for i := range uint32(5000) {
		k := i * 7919
		if v := tab.Get(k, Hash4(k)); v == nil || v.x != uint64(i) {
			t.Fatalf("%d: %v", k, v)
		}
	}
	if tab.Len() != 5000 {
		t.Errorf("len %d", tab.Len())
	}
}

// Keys that crowd segments past the directory's bound make those segments
// double: the directory stays bounded and the table stays right.
func TestDirectoryBound(t *testing.T) {
	defer func(d uint) { maxDepth = d }(maxDepth)
	maxDepth = 2
	tb := New[uint32, val](0)
	ref := map[uint32]val{}
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 60_000 {
		k := rng.Uint32()
		v := val{last: uint32(i) + 1}
		tb.Put(k, Hash4(k), v)
		ref[k] = v
		if i%3 == 0 {
			d := rng.Uint32()
			tb.Delete(d, Hash4(d))
			delete(ref, d)
		}
	}
	if len(tb.dir) > 4 {
		t.Fatalf("directory of %d entries, bound 4", len(tb.dir))
	}
	if big := len(tb.segs[0].slots); big <= segSlots {
		t.Fatalf("segments of %d slots: none doubled past %d", big, segSlots)
	}
	if tb.Len() != len(ref) {
		t.Fatalf("len %d, want %d", tb.Len(), len(ref))
	}
	for k, v := range ref {
		if p := tb.Get(k, Hash4(k)); p == nil || *p != v {
			t.Fatalf("get %d: %v, want %v", k, p, v)
		}
	}
}

// A table grown to many segments holds no more slots than a power of two
// above its entries at the split load, and its directory stays small.
func TestSegmentsGrowWithoutCopies(t *testing.T) {
	tb := New[uint32, val](0)
	rng := rand.New(rand.NewPCG(9, 10))
	for tb.Len() < 1_000_000 {
		k := rng.Uint32()
		tb.Put(k, Hash4(k), val{last: 1})
	}
	slots := tb.Slots()
	if load := float64(tb.Len()) / float64(slots); load < 0.38 || load > 0.82 {
		t.Fatalf("load %.2f (%d entries in %d slots), want 0.38..0.82", load, tb.Len(), slots)
	}
	if len(tb.dir) > 4*len(tb.segs) {
		t.Fatalf("directory of %d entries for %d segments", len(tb.dir), len(tb.segs))
	}
	n := 0
	for _, s := range tb.segs {
		n += s.n
	}
	if n != tb.Len() {
		t.Fatalf("segments hold %d, len %d", n, tb.Len())
	}
}

// BenchmarkInsertMiss inserts random IPv4 keys into a table that grows
// from empty to 4 M entries, each insertion a miss (a spoofed flood's).
func BenchmarkInsertMiss(b *testing.B) {
	for range b.N {
		tb := New[uint32, [3]uint32](0)
		rng := rand.New(rand.NewPCG(5, 6))
		for range 4 << 20 {
			k := rng.Uint32()
			tb.Put(k, Hash4(k), [3]uint32{1, 2, 3})
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(4<<20)), "ns/insert")
}

// TestHomeAddr: the address asked for is the table's header while it is
// empty, then a slot of the key's segment: the one a key alone in its run
// sits in.
func TestHomeAddr(t *testing.T) {
	tab := New[uint32, val](0)
	if got := tab.HomeAddr(Hash4(7)); got != unsafe.Pointer(tab) {
		t.Fatalf("empty table: %p, want its header %p", got, tab)
	}
	for k := uint32(1); k <= 5000; k++ {
		tab.Put(k, Hash4(k), val{last: k})
	}
	home := 0
	for k := uint32(1); k <= 5000; k++ {
		h := Hash4(k)
		s := tab.seg(h)
		a := uintptr(tab.HomeAddr(h))
		lo, hi := uintptr(unsafe.Pointer(&s.slots[0])), uintptr(unsafe.Pointer(&s.slots[len(s.slots)-1]))
		if a < lo || a > hi {
			t.Fatalf("key %d: %#x outside its segment's slots [%#x, %#x]", k, a, lo, hi)
		}
		if unsafe.Pointer(tab.Get(k, h)) == unsafe.Pointer(&s.slots[h&s.mask].v) {
			home++
		}
	}
	if home < 2500 {
		t.Errorf("%d of 5000 keys in their home slot: HomeAddr is not where lookups start", home)
	}
}

// TestFreshSlotsAreEmpty: the slots freshSlots makes, small and over many
// pages, are all empty (the bytes it writes are zeros).
func TestFreshSlotsAreEmpty(t *testing.T) {
	for _, n := range []int{1, 16, 4096, 1 << 15} {
		s := freshSlots[[16]byte, val](n)
		if len(s) != n {
			t.Fatalf("%d slots, want %d", len(s), n)
		}
		for i := range s {
			if s[i].used() || s[i].v != (val{}) || s[i].k != ([16]byte{}) {
				t.Fatalf("n %d: slot %d not empty", n, i)
			}
		}
	}
}

// TestNewRefusesOtherKeys: HashKey tells key kinds apart by their size, so
// a table of any other key type (a string, a struct of 4 bytes) is refused
// at New rather than hashed by its first bytes.
func TestNewRefusesOtherKeys(t *testing.T) {
	for name, mk := range map[string]func(){
		"string":  func() { New[string, val](0) },
		"[4]byte": func() { New[[4]byte, val](0) },
		"int32":   func() { New[int32, val](0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New with %s keys did not panic", name)
				}
			}()
			mk()
		}()
	}
	New[uint32, val](0)
	New[uint64, val](0)
	New[[16]byte, val](0)
}
