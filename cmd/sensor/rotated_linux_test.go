//go:build linux

package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"

	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/capture/pcapfile"
)

// A directory of rotated captures (tcpdump -G: many small files of
// consecutive times), more of them than the process may open at once, is
// read whole: the same records as the one capture they were cut from.
// Every file held open at once used to fail the files past the descriptor
// limit ("too many open files").
func TestRotatedCapturesPastTheDescriptorLimit(t *testing.T) {
	dir := t.TempDir()
	r, err := pcapfile.Open([]string{demo})
	if err != nil {
		t.Fatal(err)
	}
	var p capture.Packet
	files, per := 0, 20 // 10,060 packets: 503 files
	var w *pcapgo.Writer
	var f *os.File
	for {
		err := r.Next(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if f == nil {
			f, err = os.Create(filepath.Join(dir, fmt.Sprintf("cap-%04d.pcap", files)))
			if err != nil {
				t.Fatal(err)
			}
			w = pcapgo.NewWriterNanos(f)
			if err := w.WriteFileHeader(65535, layers.LinkType(p.LinkType)); err != nil {
				t.Fatal(err)
			}
			files++
		}
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, p.Timestamp), CaptureLength: p.CapLen, Length: p.OrigLen}
		if err := w.WritePacket(ci, p.Data); err != nil {
			t.Fatal(err)
		}
		if n := r.Stats()[0].Packets; n%uint64(per) == 0 {
			f.Close()
			f = nil
		}
	}
	if f != nil {
		f.Close()
	}
	r.Close()

	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = 64 // far fewer than the files
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	got, stderr, code := sensor(t, "-r", dir, "--sensor-id", "s", "--log-level", "error")
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if code != exitOK {
		t.Fatalf("%d files under a limit of 64 descriptors: exit %d: %s", files, code, stderr)
	}
	want, _, _ := sensor(t, "-r", demo, "--sensor-id", "s", "--log-level", "error")
	if cut(got) != cut(want) || len(cut(want)) < 1000 {
		t.Errorf("the %d rotated files' records differ from the capture's", files)
	}
}
