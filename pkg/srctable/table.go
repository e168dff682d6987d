// Package srctable is the per-source state's storage: a compact open-
// addressing hash table with linear probing, keyed by a fixed-size address
// (uint32 for IPv4, [16]byte for IPv6), whose slots hold the key and a small
// value inline. Nothing in it holds a pointer, so the garbage collector never
// scans it, and an entry costs its slot size divided by the load factor: a
// 16-byte IPv4 slot at 40-81 % load is 20-40 bytes per source.
//
// The table grows without a pause and without a second copy: it is a
// directory of segments of at most segSlots slots (extendible hashing). The
// top bits of a key's hash pick its segment through the directory, the low
// bits its home slot in the segment, and probe runs wrap within the
// segment. A segment that fills splits in two by the next hash bit, moving
// at most segSlots slots' entries; the directory doubles when a segment as
// deep as it splits. So a table holds its segments and a small directory,
// never the old and the new slots of a doubling at once, and no freed copy
// waits for the garbage collector. A small table is one segment that
// doubles instead of splitting until it reaches segSlots.
//
// A value's first 32 bits must not be 0 in a used slot: zero marks a free
// one (callers store times offset by one). The table is single-owner.
package srctable

import (
	"fmt"
	"unsafe"

	"github.com/synscope/synscope/pkg/prefetch"
)

// maxLoad is the fill (in 1/16) at which a segment splits (or doubles).
const maxLoad = 13 // 81 %

const minSlots = 64

// segBits sets the largest segment: 4096 slots (64 KiB of IPv4 slots), so
// a split moves at most 3,328 entries.
const (
	segBits  = 12
	segSlots = 1 << segBits
)

// maxDepth bounds the directory (1<<maxDepth pointers, 512 KiB): keys that
// crowd one segment past it (hashes chosen to collide) make that segment
// double instead, so a crafted key set costs probes, never a directory
// that doubles without end.
var maxDepth uint = 16 // a variable only so a test can lower it

// Table maps K to V. Callers pass the key's hash (Hash4, Hash6, Hash64) with
// every call so the table needs no method on K.
type Table[K comparable, V any] struct {
	dir   []*segment[K, V] // 1<<depth entries; a segment of depth d fills 1<<(depth-d) in a row
	depth uint
	segs  []*segment[K, V] // each segment once, in the order made (Range, Drain)
	n     int
	tmp   []slot[K, V] // a split's copy of the slots it redistributes
}

type segment[K comparable, V any] struct {
	slots []slot[K, V]
	mask  uint64
	n     int
	depth uint // the top depth bits of the hashes of its keys are the same
}

type slot[K comparable, V any] struct {
	k K
	v V
}

func (s *slot[K, V]) word() *uint32 { return (*uint32)(unsafe.Pointer(&s.v)) }

// used: the first 32 bits of the value are non-zero.
func (s *slot[K, V]) used() bool { return *s.word() != 0 }

// New makes a table sized for about hint entries.
func New[K comparable, V any](hint int) *Table[K, V] {
	var k K
	switch any(k).(type) {
	case uint32, uint64, [16]byte: // the kinds HashKey hashes
	default:
		panic(fmt.Sprintf("srctable: unsupported key type %T", k))
	}
	t := &Table[K, V]{}
	n := minSlots
	for n < segSlots && n*maxLoad/16 < hint {
		n <<= 1
	}
	s := newSegment[K, V](n, 0)
	t.dir = []*segment[K, V]{s}
	t.segs = []*segment[K, V]{s}
	for hint > len(t.segs)*segSlots*maxLoad/16 && t.depth < maxDepth {
		t.splitAll()
	}
	return t
}

func newSegment[K comparable, V any](n int, depth uint) *segment[K, V] {
	return &segment[K, V]{slots: freshSlots[K, V](n), mask: uint64(n - 1), depth: depth}
}

// freshSlots makes n empty slots and writes a zero into each page of them
// before anything reads them. Memory the Go heap has just taken from the
// kernel is not touched yet; a page first read (an insertion looks for an
// empty slot) is mapped to the kernel's shared zero page, and the write
// after it faults again and, to replace that mapping, flushes the page
// from the TLB of every CPU the process runs on: an interrupt to each
// (dear in a VM). On a spoofed flood, whose tables grow by a segment every
// few thousand new sources, those faults took about a fifth of the CPU.
// A page written first is one fault, with nothing to flush. The zeros
// change nothing: the slots are zero already (slots hold no pointers).
func freshSlots[K comparable, V any](n int) []slot[K, V] {
	sl := make([]slot[K, V], n)
	size := n * int(unsafe.Sizeof(slot[K, V]{}))
	if size >= 2*touchStride {
		b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(sl))), size)
		for i := 0; i < size; i += touchStride {
			b[i] = 0
		}
	}
	return sl
}

// touchStride is the smallest page size freshSlots writes a byte in.
const touchStride = 4096

// splitAll splits every segment once (sizing a new table for its hint).
func (t *Table[K, V]) splitAll() {
	for _, s := range append([]*segment[K, V](nil), t.segs...) {
		t.split(s)
	}
}

// seg returns the segment of hash h.
func (t *Table[K, V]) seg(h uint64) *segment[K, V] {
	return t.dir[h>>(63-t.depth)>>1] // >>1: a depth of 0 shifts by 64
}

// Prefetch asks the CPU for the cache line of h's home slot without
// waiting for it: a caller that knows its next keys ahead of time overlaps
// their cache misses with its work on the current one.
func (t *Table[K, V]) Prefetch(h uint64) { prefetch.Line(t.HomeAddr(h)) }

// HomeAddr is the address of h's home slot, for a caller that asks for
// several lines in one call (prefetch.Lines8); the table's own header,
// already in the caches, while it has no entries.
func (t *Table[K, V]) HomeAddr(h uint64) unsafe.Pointer {
	if t.n > 0 {
		s := t.seg(h)
		return unsafe.Pointer(&s.slots[h&s.mask])
	}
	return unsafe.Pointer(t)
}

// Len is the number of entries.
func (t *Table[K, V]) Len() int { return t.n }

// Slots is the table's capacity in slots (for memory accounting).
func (t *Table[K, V]) Slots() int {
	n := 0
	for _, s := range t.segs {
		n += len(s.slots)
	}
	return n
}

// SlotBytes is the size of one slot.
func (t *Table[K, V]) SlotBytes() int { return int(unsafe.Sizeof(slot[K, V]{})) }

// find returns the index of k's slot in s, or -1.
func (s *segment[K, V]) find(k K, h uint64) int {
	for i := h & s.mask; ; i = (i + 1) & s.mask {
		sl := &s.slots[i]
		if !sl.used() {
			return -1
		}
		if sl.k == k {
			return int(i)
		}
	}
}

// Get returns the value stored for k, or nil. The pointer is valid until
// the next Put or Delete.
func (t *Table[K, V]) Get(k K, h uint64) *V {
	s := t.seg(h)
	if i := s.find(k, h); i >= 0 {
		return &s.slots[i].v
	}
	return nil
}

// Put stores v for k (whose first 32 bits must not be 0), replacing any
// value there, and returns a pointer to the stored value.
func (t *Table[K, V]) Put(k K, h uint64, v V) *V {
	s := t.seg(h)
	if i := s.find(k, h); i >= 0 {
		s.slots[i].v = v
		return &s.slots[i].v
	}
	s = t.room(s, h)
	t.n++
	s.n++
	return s.insert(k, h, v)
}

// room returns the segment of h with room for one more entry, splitting
// or doubling s (the segment of h) first when it is full.
func (t *Table[K, V]) room(s *segment[K, V], h uint64) *segment[K, V] {
	for (s.n+1)*16 > len(s.slots)*maxLoad {
		if len(s.slots) < segSlots || (s.depth == t.depth && t.depth >= maxDepth) {
			t.double(s)
		} else {
			t.split(s)
		}
		s = t.seg(h)
	}
	return s
}

// Add stores v for k unless k is there, and reports whether it stored it:
// one probe where Get then Put take two (a set's insertion, per packet).
func (t *Table[K, V]) Add(k K, h uint64, v V) bool {
	s := t.seg(h)
	i := h & s.mask
	for ; ; i = (i + 1) & s.mask {
		sl := &s.slots[i]
		if !sl.used() {
			break
		}
		if sl.k == k {
			return false
		}
	}
	if (s.n+1)*16 > len(s.slots)*maxLoad {
		t.Put(k, h, v)
		return true
	}
	t.n++
	s.n++
	sl := &s.slots[i]
	sl.k, sl.v = k, v
	return true
}

// insert puts an entry known to be absent into a segment with room.
func (s *segment[K, V]) insert(k K, h uint64, v V) *V {
	for i := h & s.mask; ; i = (i + 1) & s.mask {
		sl := &s.slots[i]
		if !sl.used() {
			sl.k, sl.v = k, v
			return &sl.v
		}
	}
}

// double gives s twice the slots (a small table's one segment, or one
// that cannot split), moving its entries over.
func (t *Table[K, V]) double(s *segment[K, V]) {
	old := s.slots
	s.slots = freshSlots[K, V](2 * len(old))
	s.mask = uint64(len(s.slots) - 1)
	for i := range old {
		if sl := &old[i]; sl.used() {
			s.insert(sl.k, HashKey(sl.k), sl.v)
		}
	}
}

// split moves the entries of s whose next hash bit is 1 into a new
// segment, doubling the directory first when s is as deep as it.
func (t *Table[K, V]) split(s *segment[K, V]) {
	if s.depth == t.depth {
		dir := make([]*segment[K, V], 2*len(t.dir))
		for i, d := range t.dir {
			dir[2*i], dir[2*i+1] = d, d
		}
		t.dir = dir
		t.depth++
	}
	hi := newSegment[K, V](len(s.slots), s.depth+1)
	// The directory entries of s are a run of 1<<(depth-s.depth); the
	// upper half of it goes to hi.
	run := 1 << (t.depth - s.depth)
	first := 0
	for t.dir[first] != s {
		first += run // s's run starts at a multiple of its length
	}
	for i := first + run/2; i < first+run; i++ {
		t.dir[i] = hi
	}
	s.depth++
	t.tmp = append(t.tmp[:0], s.slots...)
	clear(s.slots)
	s.n = 0
	bit := uint64(1) << (63 - (s.depth - 1))
	for i := range t.tmp {
		sl := &t.tmp[i]
		if !sl.used() {
			continue
		}
		h := HashKey(sl.k)
		d := s
		if h&bit != 0 {
			d = hi
		}
		d.insert(sl.k, h, sl.v)
		d.n++
	}
	t.segs = append(t.segs, hi)
}

// Delete removes k and reports whether it was there. Later entries of the
// probe run shift back, so no tombstones accumulate.
func (t *Table[K, V]) Delete(k K, h uint64) bool {
	s := t.seg(h)
	i := s.find(k, h)
	if i < 0 {
		return false
	}
	t.deleteIn(s, uint64(i))
	return true
}

// removeAt empties slot i and moves back every later entry of its run that
// may sit earlier (backward-shift deletion). No hash is stored, so the
// homes of the entries it passes are recomputed with HashKey.
func (s *segment[K, V]) removeAt(i uint64) {
	mask := s.mask
	for j := (i + 1) & mask; ; j = (j + 1) & mask {
		sl := &s.slots[j]
		if !sl.used() {
			break
		}
		home := HashKey(sl.k) & mask
		// sl may move to i when i lies cyclically within [home, j).
		if (j-home)&mask >= (j-i)&mask {
			s.slots[i] = *sl
			i = j
		}
	}
	s.slots[i] = slot[K, V]{}
}

// Clear removes every entry, keeping the table's segments.
func (t *Table[K, V]) Clear() {
	if t.n > 0 {
		for _, s := range t.segs {
			if s.n > 0 {
				clear(s.slots)
				s.n = 0
			}
		}
		t.n = 0
	}
}

// Range calls f for every entry until f returns false. f must not change
// the table.
func (t *Table[K, V]) Range(f func(k K, v *V) bool) {
	for _, s := range t.segs {
		for i := range s.slots {
			sl := &s.slots[i]
			if sl.used() && !f(sl.k, &sl.v) {
				return
			}
		}
	}
}

// Cursor walks the table a batch at a time (see Drain): the segment in its
// high 32 bits, the slot in the low.
type Cursor uint64

// Drain calls f for up to n entries from the cursor on and returns the
// cursor to go on from and whether the walk is done. The entries are not
// removed: a drained table is let go as a whole, and must not change
// during the walk.
func (t *Table[K, V]) Drain(c Cursor, n int, f func(k K, v *V)) (Cursor, bool) {
	si, i := int(c>>32), int(c&0xffffffff)
	for ; si < len(t.segs); si, i = si+1, 0 {
		s := t.segs[si]
		for ; i < len(s.slots); i++ {
			if n == 0 {
				return Cursor(si)<<32 | Cursor(i), false
			}
			if sl := &s.slots[i]; sl.used() {
				f(sl.k, &sl.v)
				n--
			}
		}
	}
	return Cursor(si) << 32, true
}

// Sweep looks at up to n slots from c on, segment by segment in the order
// made and past the last one back to the first, for a used slot whose
// entry ok accepts: it returns the cursor at that slot and true (see At
// and DeleteAtCursor), else the cursor to go on from and false. It is an
// eviction policy's clock hand, kept from call to call, which finds a
// victim anywhere in the table when none lies near a new key's home; a
// cursor kept across Puts and Deletes stays usable (its numbers are
// brought back within the table, and a segment split or doubled since is
// swept from where they point, whatever that holds now).
func (t *Table[K, V]) Sweep(c Cursor, n int, ok func(k K, v *V) bool) (Cursor, bool) {
	if t.n == 0 {
		return c, false
	}
	si, i := int(c>>32), int(c&0xffffffff)
	for n > 0 {
		if si >= len(t.segs) {
			si, i = 0, 0
		}
		s := t.segs[si]
		for ; i < len(s.slots) && n > 0; i, n = i+1, n-1 {
			if sl := &s.slots[i]; sl.used() && ok(sl.k, &sl.v) {
				return Cursor(si)<<32 | Cursor(i), true
			}
		}
		if i >= len(s.slots) {
			si, i = si+1, 0
		}
	}
	return Cursor(si)<<32 | Cursor(i), false
}

// At is the entry at c, a cursor Sweep returned with true (no Put or
// Delete since).
func (t *Table[K, V]) At(c Cursor) (K, *V) {
	sl := &t.segs[c>>32].slots[c&0xffffffff]
	return sl.k, &sl.v
}

// DeleteAtCursor removes the entry at c, a cursor Sweep returned with true
// (no Put or Delete since), as Delete would.
func (t *Table[K, V]) DeleteAtCursor(c Cursor) { t.deleteIn(t.segs[c>>32], uint64(c&0xffffffff)) }

// Run is the slots from a hash's home slot on, within its segment
// (wrapping): an eviction policy looks there for a victim near where a
// new key would go, slot by slot without a call per slot, and removes it
// where it found it (DeleteAt). It is valid until the next Put or Delete.
type Run[K comparable, V any] struct {
	s    *segment[K, V]
	home uint64
	n    int
}

// Run is up to n slots from h's home slot on (fewer in a smaller segment).
func (t *Table[K, V]) Run(h uint64, n int) Run[K, V] {
	s := t.seg(h)
	return Run[K, V]{s, h & s.mask, min(n, len(s.slots))}
}

// Len is how many slots r has.
func (r Run[K, V]) Len() int { return r.n }

// Val is the value in r's i-th slot, nil when the slot is free (a probe
// reads values first, and a key only when it needs it: Key).
func (r Run[K, V]) Val(i int) *V {
	sl := &r.s.slots[(r.home+uint64(i))&r.s.mask]
	if !sl.used() {
		return nil
	}
	return &sl.v
}

// Key is the key in r's i-th slot (which must be used).
func (r Run[K, V]) Key(i int) K { return r.s.slots[(r.home+uint64(i))&r.s.mask].k }

// DeleteAt removes the entry in r's i-th slot (which must be used; r one
// of t's runs, with no Put or Delete since), as Delete would.
func (t *Table[K, V]) DeleteAt(r Run[K, V], i int) { t.deleteIn(r.s, (r.home+uint64(i))&r.s.mask) }

// deleteIn removes the entry of s's slot i and counts it gone.
func (t *Table[K, V]) deleteIn(s *segment[K, V], i uint64) {
	s.removeAt(i)
	s.n--
	t.n--
}

// HashKey hashes the key kinds this package knows (uint32: Hash4, uint64:
// Hash64, [16]byte: Hash6); New refuses a table of any other key type.
//
// It tells the kinds apart by their size, which the compiler knows for
// each instantiation: a type switch through an interface cost some 25
// instructions more a call, paid for every entry a deletion shifts back.
// (By size alone, a string or a padded struct would be hashed by its
// first bytes: hence New's check.)
func HashKey[K comparable](k K) uint64 {
	p := unsafe.Pointer(&k)
	switch unsafe.Sizeof(k) {
	case 4:
		return Hash4(*(*uint32)(p))
	case 8:
		return Hash64(*(*uint64)(p))
	case 16:
		return Hash6(*(*[16]byte)(p))
	}
	panic("srctable: unsupported key type")
}

// seed keys every hash of the process (SetSeed). The finalizer below can
// be inverted: unkeyed, anyone could make as many IPv6 addresses of one
// hash as they liked (pick the low half, solve for the high), which all
// fall in one probe run that splitting cannot break, and every lookup walks
// it (80,000 such sources took 7.3 s where random ones took 0.1 s: a SYN
// flood that stalls the sensor). Keyed with a secret, their places cannot
// be chosen.
var seed uint64

// SetSeed keys the hashes (0: unkeyed, as an offline run is, so that its
// records are the same on every run). Call it before any table is used: a
// table's places and the memory's fingerprints depend on it, so a state
// file keeps it.
func SetSeed(s uint64) { seed = s }

// Seed is the key SetSeed set.
func Seed() uint64 { return seed }

// Hash64 mixes a 64-bit key (the murmur3 finalizer) under the process's
// seed: every bit of the key reaches the top bits, which pick the slot.
func Hash64(x uint64) uint64 {
	x ^= seed
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// Hash4 hashes an IPv4 address.
func Hash4(a uint32) uint64 { return Hash64(uint64(a) | 4<<32) }

// Hash6 hashes an IPv6 address.
func Hash6(a [16]byte) uint64 {
	lo := uint64(a[0]) | uint64(a[1])<<8 | uint64(a[2])<<16 | uint64(a[3])<<24 |
		uint64(a[4])<<32 | uint64(a[5])<<40 | uint64(a[6])<<48 | uint64(a[7])<<56
	hi := uint64(a[8]) | uint64(a[9])<<8 | uint64(a[10])<<16 | uint64(a[11])<<24 |
		uint64(a[12])<<32 | uint64(a[13])<<40 | uint64(a[14])<<48 | uint64(a[15])<<56
	return Hash64(Hash64(lo) ^ hi)
}
