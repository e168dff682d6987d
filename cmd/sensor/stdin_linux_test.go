package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synscope/synscope/internal/captest"
)

// TestPipeStillOpenEndsOnASignal: `tcpdump -w - | sensor -r -` (the
// README's remote probe) reads a pipe that idles while the capture runs.
// The records come out as they are made (within a second, not at the end),
// and SIGTERM ends the run at once, in order: every packet read is
// analysed, the summary and stats written, exit status 143 (128 + SIGTERM). Before, the
// read of the idle pipe could not be interrupted: the signal was not
// heard, nothing had been written (the records waited in the buffer, the
// last packets in the reader's chunk), and a second signal ended the
// process with all of it lost.
func TestPipeStillOpenEndsOnASignal(t *testing.T) {
	bin := buildSensor(t)
	capture, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	whole, err := exec.Command(bin, "-r", filepath.Join("..", "..", "testdata", "demo.pcapng")).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := summaryOf(t, whole)

	out := filepath.Join(t.TempDir(), "out.jsonl")
	cmd, pw, stderr := onPipe(t, bin, out)
	defer pw.Close() // the capture still running: the pipe stays open
	if _, err := pw.Write(capture); err != nil {
		t.Fatal(err)
	}
	// The records of the windows closed so far come out while the pipe is
	// open (written out at least every second).
	awaitRecordIn(t, out, "window", cmd, stderr)
	_, err = terminate(t, cmd, stderr)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGTERM) {
		t.Errorf("exit: %v, want status %d; stderr: %s", err, 128+int(syscall.SIGTERM), stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := summaryOf(t, b)
	if got.Packets != want.Packets || got.NewSources != want.NewSources || got.Inputs != want.Packets {
		t.Errorf("interrupted with the whole capture read: %+v; the file read to its end: %+v", got, want)
	}
}

type summaryCounts struct{ Packets, NewSources, Inputs float64 }

// summaryOf is the summary record's packet and new-source counts, and the
// packets its inputs list.
func summaryOf(t *testing.T, jsonl []byte) summaryCounts {
	t.Helper()
	for _, line := range bytes.Split(bytes.TrimSpace(jsonl), []byte("\n")) {
		var m struct {
			Type       string  `json:"event_type"`
			Packets    float64 `json:"packets"`
			NewSources float64 `json:"new_sources"`
			Inputs     []struct {
				Packets float64 `json:"packets"`
			} `json:"inputs"`
		}
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if m.Type == "summary" {
			s := summaryCounts{Packets: m.Packets, NewSources: m.NewSources}
			for _, in := range m.Inputs {
				s.Inputs += in.Packets
			}
			return s
		}
	}
	t.Fatal("no summary record")
	return summaryCounts{}
}

// TestOfflineRunOutlivesSIGHUP: a terminal that hangs up, or logrotate's
// postrotate, sends SIGHUP; an offline run ended by it wrote no stats or
// summary (exit 129). It now goes on to its end.
func TestOfflineRunOutlivesSIGHUP(t *testing.T) {
	bin := buildSensor(t)
	capture, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.jsonl")
	cmd, pw, stderr := onPipe(t, bin, out)
	half := len(capture) / 2
	pw.Write(capture[:half])
	// Reading: the first window's record is out.
	awaitRecordIn(t, out, "window", cmd, stderr)
	cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(200 * time.Millisecond)
	pw.Write(capture[half:])
	pw.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v; stderr: %s", err, stderr.String())
	}
	b, _ := os.ReadFile(out)
	if !bytes.Contains(b, []byte(`"event_type":"summary"`)) || !bytes.Contains(b, []byte(`"packets":10060`)) {
		t.Errorf("no summary of the whole capture after SIGHUP")
	}
}

// onPipe starts `sensor -r - -o out` reading a pipe the test writes (pw),
// its stderr in a buffer.
func onPipe(t *testing.T, bin, out string, args ...string) (*exec.Cmd, *os.File, *bytes.Buffer) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, append([]string{"-r", "-", "-o", out}, args...)...)
	cmd.Stdin, cmd.Stderr = pr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	return cmd, pw, &stderr
}

// TestStateFileInUseExits2: a sensor started on the --state-file another
// one holds (here a run on a pipe still open) is refused at once with exit
// status 2, naming the file and the holder's pid; it had loaded the same
// memory and, at its end, written its own over the first's. Once the first
// has ended, the file is free.
func TestStateFileInUseExits2(t *testing.T) {
	bin := buildSensor(t)
	demo := filepath.Join("..", "..", "testdata", "demo.pcapng")
	capture, err := os.ReadFile(demo)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "sensor.state")
	first, pw, stderr := onPipe(t, bin, filepath.Join(dir, "first.jsonl"), "--state-file", state)
	defer pw.Close()
	if _, err := pw.Write(capture); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("pid %d", first.Process.Pid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(state + ".lock"); strings.Contains(string(b), fmt.Sprint(first.Process.Pid)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first sensor took no lock; stderr: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	second := exec.Command(bin, "-r", demo, "-o", filepath.Join(dir, "second.jsonl"), "--state-file", state)
	var serr bytes.Buffer
	second.Stderr = &serr
	err = second.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(serr.String(), state) || !strings.Contains(serr.String(), want) {
		t.Fatalf("second sensor on the held state file: %v; stderr: %s", err, serr.String())
	}
	pw.Close() // the capture ends: the first saves its state and lets go
	if err := first.Wait(); err != nil {
		t.Fatalf("first sensor: %v; stderr: %s", err, stderr.String())
	}
	serr.Reset()
	again := exec.Command(bin, "-r", demo, "-o", filepath.Join(dir, "again.jsonl"), "--state-file", state)
	again.Stderr = &serr
	if err := again.Run(); err != nil || !strings.Contains(serr.String(), "state loaded") {
		t.Fatalf("after the first ended: %v; stderr: %s", err, serr.String())
	}
}

// TestQuietPipeStartsItsClock: a capture still running on a quiet link
// (`tcpdump -w - | sensor -r -`, fewer than the 64 frames that set the
// clock) had nothing written until its 64th frame, hours on such a link.
// Now the clock starts with the frames so far once the pipe idles a
// second (here in the middle of a record), and the new sources its packet
// time has decided (10 s of it: the flood line) come out while the pipe
// stays open.
func TestQuietPipeStartsItsClock(t *testing.T) {
	bin := buildSensor(t)
	path, w, start := newScanFile(t, "quiet.pcap")
	for i := range 30 { // 30 sources, 0.7 s apart: 20 s of packet time
		src := [4]byte{203, 0, 113, byte(1 + i)}
		f := captest.Ether(nil, 0x0800, captest.IPv4(captest.V4{Src: src, Dst: [4]byte{198, 18, 0, 1}, TTL: 64, Proto: 6, TotalLen: -1},
			captest.TCP(captest.T{SrcPort: 40000, DstPort: 445, Flags: captest.SYN, Window: 1024})))
		if err := w.WritePacket(start+int64(i)*int64(700*time.Millisecond), f, len(f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	capture, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.jsonl")
	cmd, pw, stderr := onPipe(t, bin, out)
	defer pw.Close()
	// All but the end of the last record: tcpdump without -U flushes in
	// chunks that split records, and the pipe idles mid-record.
	if _, err := pw.Write(capture[:len(capture)-30]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if n := bytes.Count(b, []byte(`"event_type":"source"`)); n >= 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no source record while the pipe is open; stderr: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := pw.Write(capture[len(capture)-30:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	b, _ := os.ReadFile(out)
	if n := bytes.Count(b, []byte(`"event_type":"source"`)); n != 30 {
		t.Errorf("%d source records at the end, want 30", n)
	}
}

// TestPipeNotHeldByAHook: reading a pipe (a capture that may still be
// running), a hook that hangs does not stop the reading: its alerts are
// dropped from the hook's queue when it is full, as a live sensor's are
// (they stay in the output), where the offline wait held the whole capture
// for a minute and tcpdump upstream would have dropped packets; and
// SIGTERM ends the run at once, not after the 15 s the end of a run
// gives the hooks (a review).
func TestPipeNotHeldByAHook(t *testing.T) {
	bin := buildSensor(t)
	capture, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hook := filepath.Join(dir, "hang.sh")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\nexec sleep 3600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.jsonl")
	// Every first SYN to dark space is an alert: 156 in the demo capture,
	// more than a hook's queue holds.
	cmd, pw, stderr := onPipe(t, bin, out, "--dark-net", "0.0.0.0/0", "--dark-net", "::/0", "--alert-exec", hook)
	defer pw.Close()
	wrote := make(chan error, 1)
	// Then more than the pipe and the reader's buffers hold: the demo
	// again, eight times (a pcapng stream may hold several sections; its
	// sources are known by then and raise no alert).
	go func() {
		_, err := pw.Write(capture)
		for i := 0; i < 8 && err == nil; i++ {
			_, err = pw.Write(capture)
		}
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the sensor did not read the pipe for 10 s: held by the hook; stderr: %s", stderr.String())
	}
	awaitRecordIn(t, out, "window", cmd, stderr)
	d, err := terminate(t, cmd, stderr)
	if d > 5*time.Second {
		t.Errorf("SIGTERM ended the run after %v: the hook was waited for", d)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGTERM) {
		t.Errorf("exit: %v; stderr: %s", err, stderr.String())
	}
	b, _ := os.ReadFile(out)
	if n := bytes.Count(b, []byte(`{"event_type":"alert",`)); n != 156 {
		t.Errorf("%d alert records in the output, want the demo's 156", n)
	}
}

// TestNamedFIFOIsAStream: a FIFO named with -r (or -r <(tcpdump -w - ...))
// is read as standard input is: SIGTERM ends a run that waits for its
// writer, and one whose writer holds it open, at once (exit 143); and the
// records come out while it is open. It was read as a file: the signal was
// heard only when the writer closed, never while none had opened it, and
// nothing was written until the end (a review).
func TestNamedFIFOIsAStream(t *testing.T) {
	bin := buildSensor(t)
	capture, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	for _, writer := range []bool{false, true} {
		dir := t.TempDir()
		fifo := filepath.Join(dir, "capture.fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Skipf("no FIFO here: %v", err)
		}
		out := filepath.Join(dir, "out.jsonl")
		var stderr bytes.Buffer
		cmd := exec.Command(bin, "-r", fifo, "-o", out)
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if writer {
			w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close() // the capture still running
			if _, err := w.Write(capture); err != nil {
				t.Fatal(err)
			}
			awaitRecordIn(t, out, "window", cmd, &stderr)
		} else {
			time.Sleep(500 * time.Millisecond) // waiting for a writer
		}
		_, err = terminate(t, cmd, &stderr)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGTERM) {
			t.Errorf("writer %v: exit %v, want %d; stderr: %s", writer, err, 128+int(syscall.SIGTERM), stderr.String())
		}
		if b, _ := os.ReadFile(out); writer && !bytes.Contains(b, []byte(`"event_type":"summary"`)) {
			t.Errorf("no summary after SIGTERM")
		}
	}
}

// awaitRecordIn waits up to 10 s for a record of type typ in the file out
// that the running sensor cmd writes.
func awaitRecordIn(t *testing.T, out, typ string, cmd *exec.Cmd, stderr *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b, _ := os.ReadFile(out); !bytes.Contains(b, []byte(`"event_type":"`+typ+`"`)); b, _ = os.ReadFile(out) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no %s record written within 10 s; stderr: %s", typ, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// terminate sends cmd SIGTERM and waits up to 10 s for it to end: how
// long it took, and its Wait's error.
func terminate(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return time.Since(start), err
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("SIGTERM did not end the run within 10 s; stderr: %s", stderr.String())
		return 0, nil
	}
}

// TestFIFONamedTwiceOrAsOutput: a FIFO named twice is read once (two
// readers split its bytes between them: exit 3, 1,340 packets of 10,060);
// the same FIFO as the output is refused (the run waited for data on its
// own output); and a FIFO with standard input, also a pipe, is a stream
// still (the second took the first's place, and SIGTERM went unheard while
// the FIFO waited for its writer). A review of the FIFO streams.
func TestFIFONamedTwiceOrAsOutput(t *testing.T) {
	bin := buildSensor(t)
	demo := filepath.Join("..", "..", "testdata", "demo.pcapng")
	dir := t.TempDir()
	fifo := filepath.Join(dir, "capture.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFO here: %v", err)
	}
	go func() {
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			b, _ := os.ReadFile(demo)
			w.Write(b)
			w.Close()
		}
	}()
	out := filepath.Join(dir, "twice.jsonl")
	var stderr bytes.Buffer
	cmd := exec.Command("timeout", "-k", "5", "20", bin, "-r", fifo, "-r", fifo, "-o", out)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("named twice: %v; stderr: %s", err, stderr.String())
	}
	if got := summaryOf(t, mustRead(t, out)); got.Packets != 10060 || got.Inputs != 10060 {
		t.Errorf("named twice: %+v, want the demo's 10060 packets once", got)
	}

	stderr.Reset()
	cmd = exec.Command("timeout", "-k", "5", "20", bin, "-r", fifo, "-o", fifo)
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitUsage || !strings.Contains(stderr.String(), "name another file") {
		t.Errorf("the FIFO read as the output: %v; stderr: %s", err, stderr.String())
	}

	// Standard input the FIFO, and the output the same FIFO: refused too
	// (the run read its own records as capture data, a review).
	in, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	stderr.Reset()
	cmd = exec.Command("timeout", "-k", "5", "20", bin, "-r", "-", "-o", fifo)
	cmd.Stdin, cmd.Stderr = in, &stderr
	if err := cmd.Run(); !errors.As(err, &ee) || ee.ExitCode() != exitUsage || !strings.Contains(stderr.String(), "read from standard input") {
		t.Errorf("standard input the FIFO written as the output: %v; stderr: %s", err, stderr.String())
	}

	// A FIFO no writer opens, and standard input a pipe: SIGTERM is heard.
	lone := filepath.Join(dir, "lone.fifo")
	if err := syscall.Mkfifo(lone, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, pw, errb := onPipe(t, bin, filepath.Join(dir, "both.jsonl"), "-r", lone)
	defer pw.Close()
	time.Sleep(500 * time.Millisecond)
	if _, err = terminate(t, cmd, errb); !errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGTERM) {
		t.Errorf("a FIFO and standard input: exit %v; stderr: %s", err, errb.String())
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
