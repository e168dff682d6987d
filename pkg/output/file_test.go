//go:build unix

package output

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestOpenFileOfflineStartsAfresh(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out.jsonl")
	os.WriteFile(p, []byte("old run\n"), 0o644)
	f, err := OpenFile(p, false)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("{}\n")
	f.Close()
	if b, _ := os.ReadFile(p); string(b) != "{}\n" {
		t.Fatalf("offline output %q: want only the new run", b)
	}
}

// A live run appends: a restart continues the file. A last line that a
// killed run left unfinished is ended first, so the next record is whole.
func TestOpenFileLiveAppends(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out.jsonl")
	for _, c := range []struct{ before, want string }{
		{"", "{\"n\":2}\n"},
		{"{\"n\":1}\n", "{\"n\":1}\n{\"n\":2}\n"},
		{"{\"n\":1}\n{\"n\":", "{\"n\":1}\n{\"n\":\n{\"n\":2}\n"},
	} {
		os.Remove(p)
		if c.before != "" {
			os.WriteFile(p, []byte(c.before), 0o644)
		}
		f, err := OpenFile(p, true)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("{\"n\":2}\n")
		f.Close()
		if b, _ := os.ReadFile(p); string(b) != c.want {
			t.Errorf("after %q: %q, want %q", c.before, b, c.want)
		}
	}
}

func TestOpenFileMode(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	p := filepath.Join(t.TempDir(), "out.jsonl")
	f, err := OpenFile(p, true)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
}

// A link planted at the output path (by the unprivileged user that may
// write the log directory) must not make root write what it points to.
func TestOpenFileRefusesLinks(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "shadow")
	os.WriteFile(victim, []byte("root:secret\n"), 0o600)
	sym := filepath.Join(dir, "sym.jsonl")
	os.Symlink(victim, sym)
	hard := filepath.Join(dir, "hard.jsonl")
	if err := os.Link(victim, hard); err != nil {
		t.Fatal(err)
	}
	for _, appendTo := range []bool{false, true} {
		for _, p := range []string{sym, hard} {
			f, err := OpenFile(p, appendTo)
			if err == nil {
				f.Close()
				t.Errorf("%s (append %v): opened", filepath.Base(p), appendTo)
			} else if !strings.Contains(err.Error(), "link") {
				t.Errorf("%s: %v: the error should say why", filepath.Base(p), err)
			}
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "root:secret\n" {
		t.Fatalf("the link's target changed: %q", b)
	}
}

// Devices are written in place: -o /dev/null.
func TestOpenFileDevNull(t *testing.T) {
	for _, appendTo := range []bool{false, true} {
		f, err := OpenFile(os.DevNull, appendTo)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

// The file driver reopens its path after rotation moved the file away: what
// was written before stays in the moved file, what comes after goes to a new
// one. A reopen it must refuse (a link planted at the path) leaves it
// writing where it was.
func TestFileDriverReopen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.jsonl")
	d, err := NewFile(p, true)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Created() || d.String() != p {
		t.Errorf("created %v, name %q", d.Created(), d.String())
	}
	d.Write([]byte("a\n"))
	os.Rename(p, p+".1")
	if ok, err := d.Reopen(); !ok || err != nil {
		t.Fatalf("reopen: %v %v", ok, err)
	}
	d.Write([]byte("b\n"))
	os.Rename(p, p+".2")
	os.Symlink(filepath.Join(dir, "elsewhere"), p)
	if ok, err := d.Reopen(); ok || err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("reopen onto a link: %v %v", ok, err)
	}
	d.Write([]byte("c\n"))
	d.Close()
	for name, want := range map[string]string{".1": "a\n", ".2": "b\nc\n"} {
		if b, _ := os.ReadFile(p + name); string(b) != want {
			t.Errorf("%s: %q, want %q", name, b, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "elsewhere")); err == nil {
		t.Error("the link's target was created")
	}
	os.Remove(p)
	os.WriteFile(p, []byte("old\n"), 0o640)
	d, err = NewFile(p, true)
	if err != nil {
		t.Fatal(err)
	}
	if d.Created() {
		t.Error("an existing file counted as created")
	}
	d.Close()
}

// Standard output is written as it is and has nothing to reopen or close.
func TestStreamDriver(t *testing.T) {
	var buf strings.Builder
	d, err := Open("-", true, &buf)
	if err != nil {
		t.Fatal(err)
	}
	d.Write([]byte("x\n"))
	if ok, err := d.Reopen(); ok || err != nil {
		t.Errorf("reopen: %v %v", ok, err)
	}
	if d.Close() != nil || d.String() != "-" || buf.String() != "x\n" {
		t.Errorf("close, name %q, wrote %q", d.String(), buf.String())
	}
}

// A second writer of the same output file is refused while the first
// writes it (two live sensors given one -o interleaved their records
// mid-line, a review); a reopen of the very same file (a rotation that
// copied and truncated it) keeps the lock; closed, the file is free.
func TestOutputLockedWhileWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	a, err := NewFile(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewFile(path, true); !errors.Is(err, ErrOutputInUse) {
		t.Fatalf("a second writer: %v, want ErrOutputInUse", err)
	}
	if _, err := NewFile(path, false); !errors.Is(err, ErrOutputInUse) {
		t.Fatalf("a second writer, offline: %v, want ErrOutputInUse", err)
	}
	if ok, err := a.Reopen(); !ok || err != nil {
		t.Fatalf("reopening the same file: %v %v", ok, err)
	}
	if _, err := NewFile(path, true); !errors.Is(err, ErrOutputInUse) {
		t.Fatalf("a second writer after the reopen: %v, want ErrOutputInUse", err)
	}
	a.Close()
	b, err := NewFile(path, true)
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	b.Close()
}

// TestCreatedIsTheKernels: a file someone else makes at the path just
// before the open is not the run's own (Created false: not handed to
// --user, not removed when the start is refused). It was: Created came
// from a look at the path before the open.
func TestCreatedIsTheKernels(t *testing.T) {
	for _, appendTo := range []bool{false, true} {
		p := filepath.Join(t.TempDir(), "out.jsonl")
		beforeOpen = func(path string) { os.WriteFile(path, nil, 0o640) }
		d, err := NewFile(p, appendTo)
		beforeOpen = nil
		if err != nil {
			t.Fatal(err)
		}
		if d.Created() {
			t.Errorf("append %v: a file made by another just before the open counted as created", appendTo)
		}
		d.Close()
		q := filepath.Join(t.TempDir(), "new.jsonl")
		if d, err = NewFile(q, appendTo); err != nil {
			t.Fatal(err)
		}
		if !d.Created() {
			t.Errorf("append %v: a file the open made did not count as created", appendTo)
		}
		d.Close()
	}
}
