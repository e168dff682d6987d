package engine

import "github.com/synscope/synscope/pkg/decode"

// For tests of package engine_test (which may import output).

// SetFastPath turns Frame's fast path (Tick) on or off and returns a
// function that restores it.
func SetFastPath(on bool) (restore func()) {
	old := fastPath
	fastPath = on
	return func() { fastPath = old }
}

func MixedStream(seed uint64, n int) []decode.Syn   { return mixedStream(seed, n) }
func HostileStream(seed uint64, n int) []decode.Syn { return hostileStream(seed, n) }

const JumpConfirm = jumpConfirm
