// Package srctable is the per-source state's storage: a compact open-
// addressing hash table with linear probing, keyed by a fixed-size address
// (uint32 for IPv4, [16]byte for IPv6), whose slots hold the key and a small
// value inline. Nothing in it holds a pointer, so the garbage collector never
// scans it, and an entry costs its slot size divided by the load factor: a
// 16-byte IPv4 slot at 50-80 % load is 20-32 bytes per source.
//
// The table grows without a pause: when it doubles, the old slots stay and
// are moved over a few at a time by later insertions; until then lookups
// look in both.
//
// A value's first 32 bits must be neither 0 nor 0xffffffff in a used slot:
// zero marks a free one, all ones an entry of the old slots that moved or
// was deleted (callers store times offset by one and clamped). The table is
// single-owner.
package srctable

import "unsafe"

// maxLoad is the fill (in 1/16) at which the table doubles.
const maxLoad = 13 // 81 %

const minSlots = 64

// migrateStep is how many old slots each insertion moves while the table
// grows: the old slots are gone long before the new ones fill.
const migrateStep = 128

const tomb = 0xffffffff

// Table maps K to V. Callers pass the key's hash (Hash4, Hash6, Hash64) with
// every call so the table needs no method on K.
type Table[K comparable, V any] struct {
	slots []slot[K, V]
	shift uint // 64 - log2(len(slots))
	// While growing: the slots before, moved from cursor on; entries
	// before cursor are copies of entries now in slots (or deleted since).
	old      []slot[K, V]
	oldShift uint
	cursor   int
	n        int // entries, in slots and not yet moved from old
}

type slot[K comparable, V any] struct {
	k K
	v V
}

func (s *slot[K, V]) word() *uint32 { return (*uint32)(unsafe.Pointer(&s.v)) }

// used: the first 32 bits of the value are non-zero (a tombstone is used:
// probes go past it).
func (s *slot[K, V]) used() bool { return *s.word() != 0 }

// New makes a table sized for about hint entries.
func New[K comparable, V any](hint int) *Table[K, V] {
	t := &Table[K, V]{}
	n := minSlots
	for n*maxLoad/16 < hint {
		n <<= 1
	}
	t.slots, t.shift = alloc[K, V](n)
	return t
}

func alloc[K comparable, V any](n int) ([]slot[K, V], uint) {
	shift := uint(64)
	for m := n; m > 1; m >>= 1 {
		shift--
	}
	return make([]slot[K, V], n), shift
}

// Len is the number of entries.
func (t *Table[K, V]) Len() int { return t.n }

// Slots is the table's capacity in slots, old ones included while it
// grows (for memory accounting).
func (t *Table[K, V]) Slots() int { return len(t.slots) + len(t.old) }

// SlotBytes is the size of one slot.
func (t *Table[K, V]) SlotBytes() int { return int(unsafe.Sizeof(slot[K, V]{})) }

// find returns the index of k's slot in slots, or -1.
func find[K comparable, V any](slots []slot[K, V], shift uint, k K, h uint64) int {
	mask := uint64(len(slots) - 1)
	for i := h >> shift; ; i = (i + 1) & mask {
		s := &slots[i]
		if !s.used() {
			return -1
		}
		if s.k == k {
			return int(i)
		}
	}
}

// findOld returns the index of k's live entry among the old slots not yet
// moved, or -1.
func (t *Table[K, V]) findOld(k K, h uint64) int {
	if t.old == nil {
		return -1
	}
	i := find(t.old, t.oldShift, k, h)
	if i < t.cursor || *t.old[i].word() == tomb {
		return -1
	}
	return i
}

// Get returns the value stored for k, or nil. The pointer is valid until
// the next Put or Delete.
func (t *Table[K, V]) Get(k K, h uint64) *V {
	if i := find(t.slots, t.shift, k, h); i >= 0 {
		return &t.slots[i].v
	}
	if i := t.findOld(k, h); i >= 0 {
		return &t.old[i].v
	}
	return nil
}

// Put stores v for k (whose first 32 bits must be neither 0 nor
// 0xffffffff), replacing any value there, and returns a pointer to the
// stored value.
func (t *Table[K, V]) Put(k K, h uint64, v V) *V {
	if t.old != nil {
		t.migrate(migrateStep)
	}
	if i := find(t.slots, t.shift, k, h); i >= 0 {
		t.slots[i].v = v
		return &t.slots[i].v
	}
	if i := t.findOld(k, h); i >= 0 {
		*t.old[i].word() = tomb // it moves now, with its new value
		t.n--
	}
	if (t.n+1)*16 > len(t.slots)*maxLoad {
		t.grow()
	}
	t.n++
	return t.insert(k, h, v)
}

// Add stores v for k unless k is there, and reports whether it stored it:
// one probe where Get then Put take two (a set's insertion, per packet).
func (t *Table[K, V]) Add(k K, h uint64, v V) bool {
	mask := uint64(len(t.slots) - 1)
	i := h >> t.shift
	for ; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if !s.used() {
			break
		}
		if s.k == k {
			return false
		}
	}
	if t.old != nil {
		if t.findOld(k, h) >= 0 {
			return false
		}
		t.Put(k, h, v) // while growing: Put moves old slots along
		return true
	}
	if (t.n+1)*16 > len(t.slots)*maxLoad {
		t.Put(k, h, v)
		return true
	}
	t.n++
	s := &t.slots[i]
	s.k, s.v = k, v
	return true
}

// insert puts an entry known to be absent.
func (t *Table[K, V]) insert(k K, h uint64, v V) *V {
	mask := uint64(len(t.slots) - 1)
	for i := h >> t.shift; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if !s.used() {
			s.k, s.v = k, v
			return &s.v
		}
	}
}

// Delete removes k and reports whether it was there. Later entries of the
// probe run shift back, so no tombstones accumulate (but in the old slots
// of a growing table, which are read-only but for them).
func (t *Table[K, V]) Delete(k K, h uint64) bool {
	found := false
	if i := find(t.slots, t.shift, k, h); i >= 0 {
		t.removeAt(uint64(i))
		found = true
	}
	if t.old != nil {
		if i := find(t.old, t.oldShift, k, h); i >= 0 && *t.old[i].word() != tomb {
			if i >= t.cursor && !found {
				found = true
			}
			*t.old[i].word() = tomb
		}
	}
	if found {
		t.n--
	}
	return found
}

// removeAt empties slot i and moves back every later entry of its run that
// may sit earlier (backward-shift deletion). No hash is stored, so the
// homes of the entries it passes are recomputed with HashKey.
func (t *Table[K, V]) removeAt(i uint64) {
	mask := uint64(len(t.slots) - 1)
	for j := (i + 1) & mask; ; j = (j + 1) & mask {
		s := &t.slots[j]
		if !s.used() {
			break
		}
		home := HashKey(s.k) >> t.shift
		// s may move to i when i lies cyclically within [home, j).
		if (j-home)&mask >= (j-i)&mask {
			t.slots[i] = *s
			i = j
		}
	}
	t.slots[i] = slot[K, V]{}
}

// grow doubles the slots; the old ones move over later (migrate).
func (t *Table[K, V]) grow() {
	if t.old != nil {
		t.migrate(len(t.old)) // grown again before the last move ended: finish it
	}
	t.old, t.oldShift, t.cursor = t.slots, t.shift, 0
	t.slots, t.shift = alloc[K, V](2 * len(t.old))
}

// migrate moves up to n old slots' entries into the slots.
func (t *Table[K, V]) migrate(n int) {
	end := min(t.cursor+n, len(t.old))
	for ; t.cursor < end; t.cursor++ {
		s := &t.old[t.cursor]
		if s.used() && *s.word() != tomb {
			t.insert(s.k, HashKey(s.k), s.v)
		}
	}
	if t.cursor == len(t.old) {
		t.old = nil
	}
}

// Clear removes every entry, keeping the table's size.
func (t *Table[K, V]) Clear() {
	if t.n > 0 || t.old != nil {
		clear(t.slots)
		t.old = nil
		t.n = 0
	}
}

// Range calls f for every entry until f returns false. f must not change
// the table.
func (t *Table[K, V]) Range(f func(k K, v *V) bool) {
	for i := range t.slots {
		s := &t.slots[i]
		if s.used() && !f(s.k, &s.v) {
			return
		}
	}
	for i := t.cursor; i < len(t.old); i++ {
		s := &t.old[i]
		if s.used() && *s.word() != tomb && !f(s.k, &s.v) {
			return
		}
	}
}

// Cursor walks the table a batch at a time (see Drain).
type Cursor int

// Drain calls f for up to n entries from the cursor on and returns the
// cursor to go on from and whether the walk is done. The entries are not
// removed: a drained table is let go as a whole, and must not change
// during the walk.
func (t *Table[K, V]) Drain(c Cursor, n int, f func(k K, v *V)) (Cursor, bool) {
	i := int(c)
	total := len(t.slots) + len(t.old)
	for ; i < total && n > 0; i++ {
		var s *slot[K, V]
		if i < len(t.slots) {
			s = &t.slots[i]
		} else if j := i - len(t.slots); j >= t.cursor {
			s = &t.old[j]
		} else {
			continue
		}
		if s.used() && *s.word() != tomb {
			f(s.k, &s.v)
			n--
		}
	}
	return Cursor(i), i >= total
}

// Probe calls f on the used slots among the n slots from k's home slot on,
// until f returns false; f may not change the table. An eviction policy
// uses it to look for a victim near where k would go.
func (t *Table[K, V]) Probe(h uint64, n int, f func(k K, v *V) bool) {
	mask := uint64(len(t.slots) - 1)
	for i := h >> t.shift; n > 0; i, n = (i+1)&mask, n-1 {
		s := &t.slots[i]
		if s.used() && !f(s.k, &s.v) {
			return
		}
	}
}

// HashKey hashes the key kinds this package knows (uint32: Hash4, uint64:
// Hash64, [16]byte: Hash6); it panics on others.
func HashKey[K comparable](k K) uint64 {
	switch k := any(k).(type) {
	case uint32:
		return Hash4(k)
	case uint64:
		return Hash64(k)
	case [16]byte:
		return Hash6(k)
	}
	panic("srctable: unsupported key type")
}

// Hash64 mixes a 64-bit key (the murmur3 finalizer): every bit of the key
// reaches the top bits, which pick the slot.
func Hash64(x uint64) uint64 {
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
