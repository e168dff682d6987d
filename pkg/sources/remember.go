package sources

import (
	"unsafe"

	"github.com/synscope/synscope/pkg/prefetch"
)

// The memory of forgotten sources (--remember): when the table forgets a
// source (its generation is dropped a lookback after its last SYN, or it is
// evicted to make room), a 32-bit fingerprint of it goes into a compact
// set, so that when it comes back it is told as returning although the
// table no longer knows it. The fingerprint is the low half of the
// source's own 64-bit table hash (Hash4, Hash6).
//
// Two generations: fingerprints go into the current one; every Remember
// (rounded up to whole lookbacks, at a table rotation) the old one is let
// go and the current one becomes old. A source is so remembered for at
// least Remember after the table forgot it (which is at least a lookback
// after its last SYN), and at most twice that.
//
// Each generation is an open-addressing set of uint32 with linear probing
// (its runs kept sorted: fpSet); a fingerprint's home slot is (fp × slots)
// >> 32, which can be recomputed from the fingerprint alone, so the set
// grows by half its size (at 80 % full, to 53 %) whatever its size: 4 bytes
// a slot, 5 to 7.5 bytes per remembered source. A new source is looked
// for in both generations: a false positive is another remembered source
// with the same 32 bits, so the rate is the number remembered over 2^32 a
// lookup (0.023 % at a million, measured in remember_test.go). Each generation holds at most
// what a full table forgets by silence over its span (its capacity, a
// shard's share of --max-sources, once a lookback), and never more than
// fpMaxPerGen: two full generations make a false positive 0.93 % likely.
// Beyond that a forgotten source is not remembered (Totals.RememberFull).

// fpMaxPerGen bounds a generation of one table, a shard's (80 MB of slots
// at most, two generations: with S shards up to S times that).
const fpMaxPerGen = 20_000_000

// fpSet is one generation: a set of non-zero 32-bit fingerprints, in
// order. A fingerprint's home slot grows with the fingerprint, and each
// run of used slots is kept sorted (an insertion shifts the larger ones of
// its run one slot on), so the whole array is sorted but for its empty
// slots: a lookup stops at the first slot not below the fingerprint (half
// a run, not the whole of it), and growing is one merge-like pass. Runs
// never wrap: size slots are homes, and spare ones after them take the
// runs that spill over (when they are used up, the set grows).
type fpSet struct {
	slots []uint32
	size  int // home slots; len(slots) - size are spare
	n     int
}

const (
	fpMinSlots = 64
	fpSpare    = 64
)

func (s *fpSet) home(f uint32) int { return int(uint64(f) * uint64(s.size) >> 32) }

func (s *fpSet) has(f uint32) bool {
	if s.n == 0 {
		return false
	}
	return s.hasFrom(f, s.home(f))
}

// hasFrom looks for f from slot i on, every slot before i in its run
// being below f.
func (s *fpSet) hasFrom(f uint32, i int) bool {
	for ; i < len(s.slots); i++ {
		if v := s.slots[i]; v == f {
			return true
		} else if v-1 >= f { // empty (0 wraps to the largest) or above f
			return false
		}
	}
	return false
}

// add puts f in the set unless it is there; it reports false when it is
// not and the set holds max already.
func (s *fpSet) add(f uint32, max int) bool {
	if s.size == 0 {
		s.grow()
	}
	for {
		slots := s.slots
		i := s.home(f)
		// v-1 < f-1: v is used (0 wraps to the largest) and below f.
		for i < len(slots) && slots[i]-1 < f-1 {
			i++
		}
		if i < len(slots) && slots[i] == f {
			return true
		}
		if s.n >= max {
			return false
		}
		if (s.n+1)*5 <= s.size*4 {
			if slots[len(slots)-1] == 0 {
				// The run ends before the last slot: f goes in at i and
				// carries each larger one of the run a slot on, to the
				// first empty slot (one pass, no copy call).
				for c := f; ; i++ {
					v := slots[i]
					slots[i] = c
					if v == 0 {
						break
					}
					c = v
				}
				s.n++
				return true
			}
			j := i // the end of the run: the first empty slot from i on
			for j < len(slots) && slots[j] != 0 {
				j++
			}
			if j < len(slots) {
				copy(slots[i+1:j+1], slots[i:j])
				slots[i] = f
				s.n++
				return true
			}
		}
		s.grow()
	}
}

func (s *fpSet) grow() { s.resize(max(s.size+s.size/2, fpMinSlots)) }

// reserve makes room for n more without growing.
func (s *fpSet) reserve(n int) {
	if want := (s.n + n) * 5 / 4; want > s.size {
		s.resize(max(want+1, s.size+s.size/2))
	}
}

// resize moves the fingerprints, in order, to size home slots (or more,
// should their runs spill past the spare slots).
func (s *fpSet) resize(size int) {
	old := s.slots
next:
	for {
		s.slots, s.size = make([]uint32, size+fpSpare), size
		at := 0 // the first slot not taken
		for _, f := range old {
			if f == 0 {
				continue
			}
			i := max(s.home(f), at)
			if i == len(s.slots) {
				size += size / 2
				continue next
			}
			s.slots[i] = f
			at = i + 1
		}
		return
	}
}

// each calls f for every fingerprint.
func (s *fpSet) each(f func(uint32)) {
	for _, x := range s.slots {
		if x != 0 {
			f(x)
		}
	}
}

// memory is the two generations.
type memory struct {
	gens  [2]fpSet // gens[cur] fills; the other is the old one
	cur   int
	since int64 // when gens[cur] started (ns)
	// restored: since was set by RestoreMemory (from a saved state)
	restored bool
	span     int64 // ns; 0: off
	max      int   // per generation
	// The latest fingerprints to go into gens[cur], oldest at pend[head],
	// in order: each is put in the set memPend insertions later, its slot
	// asked for (prefetched) when it came, so that the cache miss of an
	// insertion at a random place in megabytes (one per evicted source,
	// per source of a dropped generation) overlaps with other work. They
	// count as in the set (has looks here too), and they only wait while
	// none of them can find the set full (see remember), so every answer
	// and the set's layout are the same as with each put in at once.
	// A slot of pend not waiting is 0 (no fingerprint is), so has
	// compares all of them, without a loop.
	pend  [memPend]uint32
	head  int
	npend int
}

// memPend is how many insertions wait (a power of two: the ring's index
// is masked).
const memPend = 8

// fpOf is a source's fingerprint from its table hash: its low half. (The
// table places sources by the high bits, so a dropped generation, walked
// in table order, comes in the order of those: were they the fingerprint,
// the set would take them sorted, every one at the end of one run.)
func fpOf(h uint64) uint32 {
	f := uint32(h)
	if f == 0 {
		f = 1
	}
	return f
}

// has looks in both generations. The two home slots are loaded before
// either is looked at, so the two cache misses (a new source's, in a
// memory of millions) overlap; most lookups end there.
func (m *memory) has(f uint32) bool {
	if p := &m.pend; m.npend > 0 && (p[0] == f || p[1] == f || p[2] == f || p[3] == f ||
		p[4] == f || p[5] == f || p[6] == f || p[7] == f) {
		return true
	}
	a, b := &m.gens[0], &m.gens[1]
	var x, y uint32
	i, j := -1, -1
	if a.n > 0 {
		i = a.home(f)
		x = a.slots[i]
	}
	if b.n > 0 {
		j = b.home(f)
		y = b.slots[j]
	}
	switch {
	case x == f || y == f:
		return true
	case x-1 >= f && y-1 >= f: // each empty, above f, or not looked at (0)
		return false
	}
	return (x-1 < f && a.hasFrom(f, i+1)) || (y-1 < f && b.hasFrom(f, j+1))
}

// prefetch asks for the home slots of the source of hash h in both
// generations (see Table.Prefetch).
// homeAddrs are the addresses of the home slots prefetch asks for (m
// itself, already in the caches, for an empty generation).
func (m *memory) homeAddrs(h uint64) (a, b unsafe.Pointer) {
	f := fpOf(h)
	a, b = unsafe.Pointer(m), unsafe.Pointer(m)
	if g := &m.gens[0]; g.n > 0 {
		a = unsafe.Pointer(&g.slots[g.home(f)])
	}
	if g := &m.gens[1]; g.n > 0 {
		b = unsafe.Pointer(&g.slots[g.home(f)])
	}
	return a, b
}

func (m *memory) prefetch(h uint64) {
	a, b := m.homeAddrs(h)
	prefetch.Lines2(a, b)
}

// rotate lets the old generation go when the current one has spanned
// span by now.
func (m *memory) rotate(now int64) {
	if m.span == 0 || now-m.since < m.span {
		return
	}
	m.flush()
	m.cur ^= 1
	m.gens[m.cur] = fpSet{}
	m.since = now
}

// forget lets both generations go (a gap in the capture longer than the
// span), the current one starting at now.
func (m *memory) forget(now int64) {
	m.gens = [2]fpSet{}
	m.pend, m.npend, m.head = [memPend]uint32{}, 0, 0
	m.since = now
}

// reserve readies the current generation for n more forgotten sources
// (a dropped generation's), within its bound.
func (m *memory) reserve(n int) {
	if m.span != 0 {
		m.flush()
		g := &m.gens[m.cur]
		g.reserve(min(n, m.max-g.n))
	}
}

// flush puts every waiting fingerprint in the set, in order.
func (m *memory) flush() {
	g := &m.gens[m.cur]
	for ; m.npend > 0; m.npend-- {
		g.add(m.pend[m.head], m.max) // cannot find it full (remember)
		m.pend[m.head] = 0
		m.head = (m.head + 1) & (memPend - 1)
	}
	m.head = 0
}

// remember notes that the table forgot the source of hash h.
func (t *Table) remember(h uint64) {
	m := &t.mem
	if m.span == 0 {
		return
	}
	f := fpOf(h)
	g := &m.gens[m.cur]
	if g.n+m.npend >= m.max {
		// Near the bound an insertion may be refused, which must be
		// counted now and never answered from pend: at once.
		m.flush()
		if !g.add(f, m.max) {
			t.tot.RememberFull++
		}
		return
	}
	// Each waiting insertion adds at most one: with g.n+npend < max
	// before this one, none of them can be refused.
	if g.size > 0 {
		prefetch.Line(unsafe.Pointer(&g.slots[g.home(f)]))
	}
	if m.npend < memPend {
		m.pend[(m.head+m.npend)&(memPend-1)] = f
		m.npend++
		return
	}
	g.add(m.pend[m.head], m.max)
	m.pend[m.head] = f
	m.head = (m.head + 1) & (memPend - 1)
}

// remembered says whether a source the table does not know was forgotten
// within the memory.
func (t *Table) remembered(h uint64) bool {
	return t.mem.span != 0 && t.mem.has(fpOf(h))
}

// Remembered is the number of fingerprints in the memory; RememberBytes
// the memory's size.
func (t *Table) Remembered() int {
	t.mem.flush()
	return t.mem.gens[0].n + t.mem.gens[1].n
}

// RememberBytes is the memory's size in bytes.
func (t *Table) RememberBytes() int {
	t.mem.flush()
	return 4 * (len(t.mem.gens[0].slots) + len(t.mem.gens[1].slots))
}
