package scenario

type evKind uint8

const (
	evInfect evKind = iota
	evSource
	evBackground
	evFlood
	evRetransmit
)

// event is one entry of the scheduler's min-heap: the next thing an actor
// (the infection process, a source, the background, the flood, or one
// pending retransmission) does.
type event struct {
	t    int64
	id   uint64 // creation order: breaks ties deterministically
	kind evKind
	src  *source
	pkt  *pktSpec
}

type evHeap []*event

func (h evHeap) less(i, j int) bool {
	if h[i].t != h[j].t {
		return h[i].t < h[j].t
	}
	return h[i].id < h[j].id
}

func (h *evHeap) push(e *event) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

// fixTop restores the heap after the top's time changed.
func (h evHeap) fixTop() {
	n := len(h)
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func (h *evHeap) popTop() {
	s := *h
	n := len(s) - 1
	s[0] = s[n]
	s[n] = nil
	*h = s[:n]
	if n > 0 {
		(*h).fixTop()
	}
}
