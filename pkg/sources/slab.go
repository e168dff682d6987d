package sources

// slab holds fixed-size entries in chunks, bounded and reused through a
// free list: growing never copies an entry (a pointer to one stays valid),
// and once grown it allocates nothing.
type slab[T any] struct {
	chunks [][]T
	n, max int
	free   []uint32
}

const slabChunk = 64

func (s *slab[T]) at(i uint32) *T { return &s.chunks[i/slabChunk][i%slabChunk] }

// alloc returns a zeroed entry's index, or false when max are in use.
func (s *slab[T]) alloc() (uint32, bool) {
	if k := len(s.free); k > 0 {
		i := s.free[k-1]
		s.free = s.free[:k-1]
		var zero T
		*s.at(i) = zero
		return i, true
	}
	if s.n >= s.max {
		return 0, false
	}
	if s.n%slabChunk == 0 {
		s.chunks = append(s.chunks, make([]T, slabChunk))
	}
	s.n++
	return uint32(s.n - 1), true
}

func (s *slab[T]) release(i uint32) { s.free = append(s.free, i) }

// inUse is the number of entries handed out and not released.
func (s *slab[T]) inUse() int { return s.n - len(s.free) }
