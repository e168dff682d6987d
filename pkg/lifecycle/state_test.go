package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/output"
	"github.com/synscope/synscope/pkg/srctable"
)

// TestLiveRunIsKeyed: a live run keys its tables' hashes; one whose state
// file was written unkeyed (by an offline run, or by a version before the
// key) keys them anew instead of keeping the file's key 0 for good; an
// offline run stays unkeyed (the same records on every run); a file's own
// key is kept.
func TestLiveRunIsKeyed(t *testing.T) {
	defer srctable.SetSeed(srctable.Seed())
	dir := t.TempDir()
	state := filepath.Join(dir, "sensor.state")
	t0 := time.Date(2009, 1, 10, 0, 0, 0, 0, time.UTC).UnixNano()
	run := func(live bool, state, out string) *Run {
		t.Helper()
		d, err := output.NewFile(filepath.Join(dir, out), false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		r, err := New(testConfig(t, live, state), d, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := run(false, state, "a.jsonl")
	if srctable.Seed() != 0 {
		t.Errorf("an offline run keyed its hashes: %#x", srctable.Seed())
	}
	src := &script{steps: []step{{frames: [][]byte{syn(1), syn(2)}, ts: t0}}}
	if _, err := r.Drive(context.Background(), Input{Source: src}); err != nil {
		t.Fatal(err)
	}
	if run(true, "", "b.jsonl"); srctable.Seed() == 0 {
		t.Error("a live run without a state file is unkeyed")
	}
	r = run(true, state, "c.jsonl")
	key := srctable.Seed()
	if key == 0 {
		t.Fatal("a live run with an offline run's state file stayed unkeyed")
	}
	// Its state, saved keyed, keeps the key in the next run.
	src = &script{steps: []step{{frames: [][]byte{syn(3)}, ts: t0 + int64(time.Minute)}}}
	if _, err := r.Drive(context.Background(), Input{Source: src}); err != nil {
		t.Fatal(err)
	}
	if run(false, state, "e.jsonl"); srctable.Seed() != key {
		t.Errorf("a keyed state file's key %#x not kept: %#x", key, srctable.Seed())
	}
}

// TestStateFileInUse: a second sensor given the state file a running one
// holds is refused at its start, naming the file and the holder (it would
// have loaded the same memory and, at its end, written its own over the
// first's: the last to save wins); once the first has ended (its state
// saved), the file is free.
func TestStateFileInUse(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock(2): two sensors may share a state file there (documented)")
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "sensor.state")
	d, _ := output.Open("-", false, io.Discard)
	first, err := New(testConfig(t, false, state), d, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(testConfig(t, false, state), d, nil)
	if !errors.Is(err, ErrStateInUse) || !strings.Contains(err.Error(), state) ||
		!strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("a second run on the state file: %v", err)
	}
	t0 := time.Date(2009, 1, 10, 0, 0, 0, 0, time.UTC).UnixNano()
	src := &script{steps: []step{{frames: [][]byte{syn(1)}, ts: t0}}}
	if _, err := first.Drive(context.Background(), Input{Source: src}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("the first run's state: %v", err)
	}
	var lg logged
	if _, err := New(testConfig(t, false, state), d, lg.log); err != nil || !lg.has("state loaded") {
		t.Fatalf("after the first run ended: %v %v", err, lg.lines)
	}
	// Another state file beside it is another lock.
	if _, err := New(testConfig(t, false, filepath.Join(dir, "other.state")), d, nil); err != nil {
		t.Fatalf("another state file: %v", err)
	}
}

// TestStateLockFollowsNoLink: STATE.lock planted as a symlink (or a hard
// link) to another file, in a state directory --user may write, is never
// written through: a run as root emptied the file it named. The lock is
// then not taken, and said.
func TestStateLockFollowsNoLink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock(2) there: no lock file")
	}
	dir := t.TempDir()
	victim := filepath.Join(dir, "precious")
	os.WriteFile(victim, []byte("root's data\n"), 0o600)
	for _, plant := range []func(string) error{
		func(name string) error { return os.Symlink(victim, name) },
		func(name string) error { return os.Link(victim, name) },
	} {
		state := filepath.Join(dir, "sensor.state")
		os.Remove(state + ".lock")
		if err := plant(state + ".lock"); err != nil {
			t.Fatal(err)
		}
		var lg logged
		lock, err := LockState(state, lg.log)
		if err != nil || lock != nil || !lg.has("lock was not taken") {
			t.Errorf("a planted lock file: %v %v %v", lock, err, lg.lines)
		}
		if b, _ := os.ReadFile(victim); string(b) != "root's data\n" {
			t.Fatalf("the file a planted link names was written: %q", b)
		}
	}
}

// TestStateThroughASymlink: a state file named by a symlink is saved to
// the file the link names, and the link stays: the save renamed onto the
// link itself, replacing it with a file while the lock followed it (the
// next run given the target loaded the old state; a review). A dangling
// link's target is created.
func TestStateThroughASymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges there")
	}
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	os.Mkdir(real, 0o700)
	target, link := filepath.Join(real, "s.state"), filepath.Join(dir, "link.state")
	if err := os.Symlink(target, link); err != nil { // dangling until the first save
		t.Fatal(err)
	}
	for pass := range 2 {
		d, err := output.NewFile(filepath.Join(dir, fmt.Sprintf("out%d.jsonl", pass)), false)
		if err != nil {
			t.Fatal(err)
		}
		r, err := New(testConfig(t, false, link), d, nil)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2009, 1, 10, 0, 0, 0, 0, time.UTC).UnixNano() + int64(pass)*int64(time.Hour)
		if _, err := r.Drive(context.Background(), Input{Source: &script{steps: []step{{frames: [][]byte{syn(1 + pass)}, ts: t0}}}}); err != nil {
			t.Fatal(err)
		}
		d.Close()
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("pass %d: the link was replaced: %v %v", pass, fi, err)
		}
		if fi, err := os.Stat(target); err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
			t.Fatalf("pass %d: the link's target holds no state: %v %v", pass, fi, err)
		}
	}
}

// TestStaleStateTemporariesRemoved: the temporary file of a save a kill
// cut short (.NAME.tmpDIGITS, as large as the state) is removed when the
// next run takes the state's lock; it stayed, one more every killed save
// (a review). Other files are left.
func TestStaleStateTemporariesRemoved(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock(2) there: no lock, nothing removed")
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "s.state")
	stale := []string{".s.state.tmp1415914647", ".s.state.tmp7"}
	kept := []string{".s.state.tmpx1", ".other.state.tmp12", "s.state.tmp3", ".s.state.tmp"}
	for _, n := range append(append([]string{}, stale...), kept...) {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600)
	}
	var lg logged
	lock, err := LockState(state, lg.log)
	if err != nil || lock == nil {
		t.Fatalf("lock: %v %v", lock, err)
	}
	defer lock.Close()
	for _, n := range stale {
		if _, err := os.Stat(filepath.Join(dir, n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left: %v", n, err)
		}
	}
	for _, n := range kept {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s removed: %v", n, err)
		}
	}
	if !lg.has("cut short") {
		t.Errorf("the removal was not said: %v", lg.lines)
	}
}

// TestStatePathFollowsLinks: a dangling link to a dangling link names the
// last one's target, and a relative target is taken from the directory the
// link really is in, not the one it was named through (a review: l2 was
// replaced by a file, and x/sym/link -> ../t/s saved to x/t/s).
func TestStatePathFollowsLinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges there")
	}
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"real", "x", "y/d", "y/t"} {
		os.MkdirAll(filepath.Join(dir, d), 0o700)
	}
	os.Symlink(filepath.Join(dir, "l2"), filepath.Join(dir, "l1"))
	os.Symlink("real/s.state", filepath.Join(dir, "l2"))
	os.Symlink(filepath.Join(dir, "y/d"), filepath.Join(dir, "x/sym"))
	os.Symlink("../t/s", filepath.Join(dir, "y/d/link"))
	for _, c := range []struct{ in, want string }{
		{"l1", "real/s.state"},
		{"x/sym/link", "y/t/s"},
		{"x/sym/new", "y/d/new"},
		{"real/plain", "real/plain"},
	} {
		if got := StatePath(filepath.Join(dir, c.in)); got != filepath.Join(dir, c.want) {
			t.Errorf("StatePath(%s) = %s, want %s", c.in, got, filepath.Join(dir, c.want))
		}
	}
	// Saved through the chain: both links stay, the target is made.
	d, err := output.NewFile(filepath.Join(dir, "out.jsonl"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r, err := New(testConfig(t, false, filepath.Join(dir, "l1")), d, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2009, 1, 10, 0, 0, 0, 0, time.UTC).UnixNano()
	if _, err := r.Drive(context.Background(), Input{Source: &script{steps: []step{{frames: [][]byte{syn(1)}, ts: t0}}}}); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"l1", "l2"} {
		if fi, err := os.Lstat(filepath.Join(dir, l)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s was replaced: %v %v", l, fi, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "real/s.state")); err != nil || fi.Size() == 0 {
		t.Errorf("the chain's target holds no state: %v %v", fi, err)
	}
}
