// Package srctable is the per-source state's storage: a compact open-
// addressing hash table with linear probing, keyed by a fixed-size address
// (uint32 for IPv4, [16]byte for IPv6), whose slots hold the key and a small
// value inline. Nothing in it holds a pointer, so the garbage collector never
// scans it, and an entry costs its slot size divided by the load factor: a
// 16-byte IPv4 slot at 50-80 % load is 20-32 bytes per source.
//
// A value's first 32 bits must be non-zero in a used slot: zero marks a free
// one (callers store times offset by one). The table is single-owner.
package srctable

import "unsafe"

// maxLoad is the fill (in 1/16) at which the table doubles.
const maxLoad = 13 // 81 %

const minSlots = 64

// Table maps K to V. Callers pass the key's hash (Hash4, Hash6, Hash64) with
// every call so the table needs no method on K.
type Table[K comparable, V any] struct {
	slots []slot[K, V]
	shift uint // 64 - log2(len(slots))
	n     int
}

type slot[K comparable, V any] struct {
	k K
	v V
}

// used: the first 32 bits of the value are non-zero.
func (s *slot[K, V]) used() bool { return *(*uint32)(unsafe.Pointer(&s.v)) != 0 }

// New makes a table sized for about hint entries.
func New[K comparable, V any](hint int) *Table[K, V] {
	t := &Table[K, V]{}
	n := minSlots
	for n*maxLoad/16 < hint {
		n <<= 1
	}
	t.alloc(n)
	return t
}

func (t *Table[K, V]) alloc(n int) {
	t.slots = make([]slot[K, V], n)
	t.shift = 64
	for m := n; m > 1; m >>= 1 {
		t.shift--
	}
}

// Len is the number of entries.
func (t *Table[K, V]) Len() int { return t.n }

// Slots is the table's capacity in slots (for memory accounting).
func (t *Table[K, V]) Slots() int { return len(t.slots) }

// SlotBytes is the size of one slot.
func (t *Table[K, V]) SlotBytes() int { return int(unsafe.Sizeof(slot[K, V]{})) }

func (t *Table[K, V]) home(h uint64) uint64 { return h >> t.shift }

// Get returns the value stored for k, or nil. The pointer is valid until
// the next Put or Delete.
func (t *Table[K, V]) Get(k K, h uint64) *V {
	mask := uint64(len(t.slots) - 1)
	for i := t.home(h); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if !s.used() {
			return nil
		}
		if s.k == k {
			return &s.v
		}
	}
}

// Put stores v for k (whose first 32 bits must be non-zero), replacing any
// value there, and returns a pointer to the stored value.
func (t *Table[K, V]) Put(k K, h uint64, v V) *V {
	if (t.n+1)*16 > len(t.slots)*maxLoad {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	for i := t.home(h); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if !s.used() {
			s.k, s.v = k, v
			t.n++
			return &s.v
		}
		if s.k == k {
			s.v = v
			return &s.v
		}
	}
}

// Delete removes k and reports whether it was there. Later entries of the
// probe run shift back, so no tombstones accumulate.
func (t *Table[K, V]) Delete(k K, h uint64) bool {
	mask := uint64(len(t.slots) - 1)
	i := t.home(h)
	for ; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if !s.used() {
			return false
		}
		if s.k == k {
			break
		}
	}
	t.removeAt(i, mask)
	return true
}

// removeAt empties slot i and moves back every later entry of its run that
// may sit earlier (backward-shift deletion). No hash is stored, so the
// homes of the entries it passes are recomputed with HashKey.
func (t *Table[K, V]) removeAt(i, mask uint64) {
	for j := (i + 1) & mask; ; j = (j + 1) & mask {
		s := &t.slots[j]
		if !s.used() {
			break
		}
		home := t.home(HashKey(s.k))
		// s may move to i when i lies cyclically within [home, j).
		if (j-home)&mask >= (j-i)&mask {
			t.slots[i] = *s
			i = j
		}
	}
	t.slots[i] = slot[K, V]{}
	t.n--
}

// Clear removes every entry, keeping the table's size.
func (t *Table[K, V]) Clear() {
	if t.n > 0 {
		clear(t.slots)
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
}

// Cursor walks the table a batch at a time (see Drain).
type Cursor int

// Drain calls f for up to n entries from the cursor on and returns the
// cursor to go on from and whether the walk is done. The entries are not
// removed: a drained table is let go as a whole.
func (t *Table[K, V]) Drain(c Cursor, n int, f func(k K, v *V)) (Cursor, bool) {
	i := int(c)
	for ; i < len(t.slots) && n > 0; i++ {
		s := &t.slots[i]
		if s.used() {
			f(s.k, &s.v)
			n--
		}
	}
	return Cursor(i), i >= len(t.slots)
}

// Probe calls f on the used slots among the n slots from k's home slot on,
// until f returns false; f may not change the table. An eviction policy
// uses it to look for a victim near where k would go.
func (t *Table[K, V]) Probe(h uint64, n int, f func(k K, v *V) bool) {
	mask := uint64(len(t.slots) - 1)
	for i := t.home(h); n > 0; i, n = (i+1)&mask, n-1 {
		s := &t.slots[i]
		if s.used() && !f(s.k, &s.v) {
			return
		}
	}
}

func (t *Table[K, V]) grow() {
	old := t.slots
	t.alloc(2 * len(old))
	mask := uint64(len(t.slots) - 1)
	for i := range old {
		s := &old[i]
		if !s.used() {
			continue
		}
		j := t.home(HashKey(s.k))
		for t.slots[j].used() {
			j = (j + 1) & mask
		}
		t.slots[j] = *s
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
