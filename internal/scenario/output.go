package scenario

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// FileOptions tune CreateFile.
type FileOptions struct {
	// Nanosecond writes pcap files with nanosecond timestamps (magic
	// 0xa1b23c4d); the default is microseconds. pcapng is always written
	// with nanosecond resolution.
	Nanosecond bool
	// SnapLen is recorded in the file header (0 = 262144). It should match
	// Config.SnapLen, which is what actually truncates frames.
	SnapLen int
}

// FileWriter writes an Ethernet capture file: pcap or pcapng, optionally
// gzip-compressed, as chosen by the file name. It implements PacketWriter
// and Resolutioner.
type FileWriter struct {
	path    string
	f       *os.File
	gz      *gzip.Writer
	bw      *bufio.Writer
	pcap    *pcapgo.Writer
	ng      *pcapgo.NgWriter
	res     time.Duration
	packets int64
}

// FormatOf tells the format a capture path asks for: .pcap or .pcapng,
// each optionally followed by .gz.
func FormatOf(path string) (pcapng, gz bool, err error) {
	p := strings.ToLower(path)
	if strings.HasSuffix(p, ".gz") {
		gz = true
		p = strings.TrimSuffix(p, ".gz")
	}
	switch {
	case strings.HasSuffix(p, ".pcapng"):
		return true, gz, nil
	case strings.HasSuffix(p, ".pcap"):
		return false, gz, nil
	}
	return false, false, fmt.Errorf("capture file %q: name must end in .pcap, .pcapng, .pcap.gz or .pcapng.gz", path)
}

// TruthPath is the default truth file of a capture: its extension(s)
// replaced by ".truth.json" (testdata/demo.pcapng -> testdata/demo.truth.json).
func TruthPath(capture string) string {
	p := capture
	if strings.HasSuffix(strings.ToLower(p), ".gz") {
		p = p[:len(p)-3]
	}
	for _, ext := range []string{".pcapng", ".pcap"} {
		if strings.HasSuffix(strings.ToLower(p), ext) {
			p = p[:len(p)-len(ext)]
			break
		}
	}
	return p + ".truth.json"
}

// CreateFile creates (truncates) path and writes the capture header.
func CreateFile(path string, opts FileOptions) (*FileWriter, error) {
	ng, gz, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := &FileWriter{path: path, f: f}
	var sink io.Writer = f
	if gz {
		w.gz = gzip.NewWriter(f) // no name, no mod time: reproducible bytes
		sink = w.gz
	}
	w.bw = bufio.NewWriterSize(sink, 1<<16)
	snap := opts.SnapLen
	if snap <= 0 {
		snap = 262144
	}
	if ng {
		w.res = 1
		w.ng, err = pcapgo.NewNgWriterInterface(w.bw, pcapgo.NgInterface{
			Name:                "scenario0",
			Description:         "synscope scenario generator",
			LinkType:            layers.LinkTypeEthernet,
			SnapLength:          uint32(snap),
			TimestampResolution: 9,
		}, pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "synscope pcapgen"}})
	} else {
		if opts.Nanosecond {
			w.res = 1
			w.pcap = pcapgo.NewWriterNanos(w.bw)
		} else {
			w.res = time.Microsecond
			w.pcap = pcapgo.NewWriter(w.bw)
		}
		err = w.pcap.WriteFileHeader(uint32(snap), layers.LinkTypeEthernet)
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

// Resolution is the timestamp resolution of the file.
func (w *FileWriter) Resolution() time.Duration { return w.res }

// Packets is the number of frames written so far.
func (w *FileWriter) Packets() int64 { return w.packets }

// WritePacket writes one frame.
func (w *FileWriter) WritePacket(ts int64, data []byte, origLen int) error {
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, ts).UTC(), CaptureLength: len(data), Length: origLen}
	var err error
	if w.ng != nil {
		err = w.ng.WritePacket(ci, data)
	} else {
		err = w.pcap.WritePacket(ci, data)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", w.path, err)
	}
	w.packets++
	return nil
}

// Close flushes and closes the file.
func (w *FileWriter) Close() error {
	var errs []error
	if w.ng != nil {
		errs = append(errs, w.ng.Flush())
	}
	errs = append(errs, w.bw.Flush())
	if w.gz != nil {
		errs = append(errs, w.gz.Close())
	}
	errs = append(errs, w.f.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: %w", w.path, err)
	}
	return nil
}

// GenerateFile runs cfg into the capture file path (format from its name)
// and returns the truth; it does not write the truth file. On failure the
// partial capture is removed.
func GenerateFile(cfg Config, path string, opts FileOptions) (*Truth, error) {
	if opts.SnapLen == 0 {
		opts.SnapLen = cfg.SnapLen
	}
	if _, _, err := FormatOf(path); err != nil {
		return nil, err
	}
	norm := cfg.Normalize()
	if err := norm.Validate(); err != nil {
		return nil, err
	}
	w, err := CreateFile(path, opts)
	if err != nil {
		return nil, err
	}
	t, err := Generate(norm, w)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return nil, err
	}
	return t, nil
}
