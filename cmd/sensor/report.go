package main

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/spf13/pflag"

	"github.com/synscope/synscope/pkg/capture/pcapfile"
	"github.com/synscope/synscope/pkg/report"
)

// stdin is where `sensor report -` reads (a variable for tests).
var stdin io.Reader = os.Stdin

const reportUsage = `Usage: sensor report [-o FILE] [--format html|svg|png] [--chart NAME] [--sensor ID] FILE...

Reads the sensor's JSONL records (files, or - for standard input; several
sensors' files together are told apart by their "sensor" field) and draws
them: by default one self-contained HTML page (no script, nothing fetched)
with, per sensor, new sources per window and cumulative with the fitted
steady and multiplying curves, the verdict over time with its confidence
and regime changes, the SYN rate and active sources, new sources per /24
beside per address, the busiest sources and prefixes, and our own hosts
caught scanning. --format svg or png writes one chart instead.

Files compressed with gzip or zstd (logrotate's sensor.jsonl.2.gz) are read
through. Lines that are not usable records (truncated, unknown event_type,
missing fields) are named on stderr and skipped; the rest is drawn. An input
that cannot be read to its end (missing, a compressed file cut short) is
named; what it held is drawn, and the exit status is 3. Several runs' files
may come in any order (sensor.jsonl*: newest first): the packets of each run
are counted once, and the busiest sources are the latest run's.

Examples:
  sensor -r capture.pcap -o run.jsonl && sensor report -o report.html run.jsonl
  sensor report -o growth.png --chart new-sources run.jsonl
  cat gw1.jsonl gw2.jsonl | sensor report -o both.html -

Flags:
`

// reportFlags are sensor report's flags (also read by the shell completion).
type reportFlags struct {
	fs                         *pflag.FlagSet
	out, format, chart, sensor *string
	width                      *int
	help                       *bool
}

func newReportFlags() *reportFlags {
	fs := pflag.NewFlagSet("sensor report", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &reportFlags{
		fs:     fs,
		out:    fs.StringP("output", "o", "", "write to this `file` (default: standard output)"),
		format: fs.String("format", "", "html, svg or png (default: from the output file's extension, else html)"),
		chart:  fs.String("chart", "new-sources", "the chart for svg and png: "+strings.Join(report.ChartNames, ", ")),
		sensor: fs.String("sensor", "", "the sensor whose chart svg and png draw, when the input holds several"),
		width:  fs.Int("width", report.ChartWidth, "chart width in pixels for svg and png"),
		help:   fs.BoolP("help", "h", false, "show this help"),
	}
}

func reportHelp(w io.Writer) {
	fmt.Fprint(w, reportUsage+newReportFlags().fs.FlagUsages())
}

func runReport(args []string, stdout, stderr io.Writer) int {
	rf := newReportFlags()
	fs, out, format, chart, sensor, width, help := rf.fs, rf.out, rf.format, rf.chart, rf.sensor, rf.width, rf.help
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "sensor report: %v\nRun 'sensor report --help' for usage.\n", err)
		return exitUsage
	}
	if *help {
		reportHelp(stdout)
		return exitOK
	}
	inputs := fs.Args()
	if len(inputs) == 0 {
		fmt.Fprintln(stderr, "sensor report: no input: give the JSONL files to draw, or - for standard input")
		return exitUsage
	}
	if *format == "" {
		switch strings.ToLower(filepath.Ext(*out)) {
		case ".svg":
			*format = "svg"
		case ".png":
			*format = "png"
		default:
			*format = "html"
		}
	}
	*format = strings.ToLower(*format)
	if *format != "html" && *format != "svg" && *format != "png" {
		fmt.Fprintf(stderr, "sensor report: --format %q: must be html, svg or png\n", *format)
		return exitUsage
	}
	if fs.Changed("chart") && !slices.Contains(report.ChartNames, *chart) {
		fmt.Fprintf(stderr, "sensor report: --chart %q: must be one of %s\n", *chart, strings.Join(report.ChartNames, ", "))
		return exitUsage
	}
	if *format == "html" && fs.Changed("chart") {
		fmt.Fprintf(stderr, "sensor report: --chart draws one chart, as svg or png (--format, or an -o ending .svg or .png); the html page has them all\n")
		return exitUsage
	}
	if *width < 400 || *width > 8000 {
		fmt.Fprintf(stderr, "sensor report: --width %d: must be 400 to 8000\n", *width)
		return exitUsage
	}
	if ofi, err := os.Stat(*out); *out != "" && *out != "-" && err == nil {
		for _, in := range inputs {
			if ifi, err := os.Stat(in); err == nil && in != "-" && os.SameFile(ofi, ifi) {
				fmt.Fprintf(stderr, "sensor report: -o %s is the input %s: name another file for the report\n", *out, in)
				return exitUsage
			}
		}
	}
	d := report.NewData()
	failed := 0 // inputs that could not be read to their end: what they gave is drawn, exit status 3
	for _, in := range inputs {
		if err := readReportInput(d, in); err != nil {
			if errors.As(err, new(notRead)) {
				fmt.Fprintf(stderr, "sensor report: %v\n", err)
			} else {
				fmt.Fprintf(stderr, "sensor report: %v (what was read before it is reported)\n", err)
			}
			failed++
		}
	}
	d.Finish()
	for _, p := range d.Problems {
		fmt.Fprintf(stderr, "sensor report: skipped %s\n", p)
	}
	for _, n := range d.Notes {
		fmt.Fprintf(stderr, "sensor report: note: %s\n", n)
	}
	if d.Skipped > len(d.Problems) {
		fmt.Fprintf(stderr, "sensor report: ... %d lines skipped in all\n", d.Skipped)
	}
	var w io.Writer = stdout
	var f *reportFile
	if *out != "" && *out != "-" {
		var err error
		if f, err = createReport(*out); err != nil {
			fmt.Fprintf(stderr, "sensor report: %v\n", err)
			return exitFatal
		}
		w = f.f
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	err := writeReport(bw, d, *format, *chart, *sensor, *width, inputs)
	if err == nil {
		err = bw.Flush()
	}
	if f != nil {
		if err == nil {
			err = f.commit()
		} else {
			f.abort()
		}
	}
	if err != nil {
		if errors.Is(err, report.ErrNoWindows) {
			fmt.Fprintf(stderr, "sensor report: %s: %v (%d lines read, %d skipped)\n", strings.Join(inputs, ", "), err, d.Lines, d.Skipped)
		} else {
			fmt.Fprintf(stderr, "sensor report: %v\n", err)
		}
		return exitFatal
	}
	if failed > 0 {
		return exitInputFailed
	}
	return exitOK
}

// readReportInput reads one input into d: a file, or - for standard
// input; gzip and zstd are read through (logrotate's compress makes
// sensor.jsonl.2.gz: read as text, its bytes were 50 bad lines, a review).
func readReportInput(d *report.Data, in string) error {
	var r io.Reader = stdin
	name := "stdin"
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			return notRead{err}
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			return notRead{fmt.Errorf("%s: is a directory: name the files in it (%s/*.jsonl*)", in, in)}
		}
		r, name = f, in
	}
	br := bufio.NewReaderSize(r, 1<<16)
	magic, _ := br.Peek(6)
	switch c := pcapfile.CompressionOf(magic); c {
	case "gzip":
		zr, err := gzip.NewReader(br)
		if err != nil {
			return notRead{fmt.Errorf("%s: a gzip file that cannot be read: %w", name, err)}
		}
		defer zr.Close()
		return d.Read(said{zr, "gzip"}, name)
	case "zstd":
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<27))
		if err != nil {
			return notRead{fmt.Errorf("%s: a zstd file that cannot be read: %w", name, err)}
		}
		defer zr.Close()
		return d.Read(said{zr, "zstd"}, name)
	case "xz", "bzip2", "lz4":
		return notRead{fmt.Errorf("%s: compressed with %s: decompress it first (%s -dc %s | sensor report -)", name, c, c, name)}
	}
	return d.Read(br, name)
}

// notRead is an input's error before anything of it was read.
type notRead struct{ error }

func (e notRead) Unwrap() error { return e.error }

// said names the decompression in its reader's errors ("gzip: unexpected
// EOF": a file cut short).
type said struct {
	r    io.Reader
	what string
}

func (s said) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w", s.what, err)
	}
	return n, err
}

func writeReport(w io.Writer, d *report.Data, format, chart, sensor string, width int, inputs []string) error {
	if format == "html" {
		return d.HTML(w, inputs)
	}
	c, err := d.Chart(chart, sensor, width)
	if err != nil {
		return err
	}
	if format == "svg" {
		_, err = io.WriteString(w, c.SVG()+"\n")
		return err
	}
	return c.PNG(w)
}

// reportFile is a report being written: into a temporary file beside the
// destination, renamed over it only when the whole report is written, so a
// failed run (no windows, a full disk) leaves an earlier report as it was.
// A device or FIFO at the path (/dev/null) is written in place, never
// replaced; a symbolic link is refused, not followed.
type reportFile struct {
	f    *os.File
	path string
	tmp  bool
}

func createReport(path string) (*reportFile, error) {
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("%s is a symbolic link: refusing to follow it (give the path of a real file)", path)
	case err == nil && fi.IsDir():
		return nil, fmt.Errorf("%s is a directory: give a file name, e.g. %s", path, filepath.Join(path, "report.html"))
	case err == nil && !fi.Mode().IsRegular():
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		return &reportFile{f: f, path: path}, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &reportFile{f: f, path: path, tmp: true}, nil
}

func (r *reportFile) commit() error {
	if !r.tmp {
		return r.f.Close()
	}
	err := r.f.Chmod(0o644) // a page to share, as a plain create would make it
	if err == nil {
		err = r.f.Close()
	} else {
		r.f.Close()
	}
	if err == nil {
		err = os.Rename(r.f.Name(), r.path)
	}
	if err != nil {
		os.Remove(r.f.Name())
		return fmt.Errorf("write %s: %w", r.path, err)
	}
	return nil
}

func (r *reportFile) abort() {
	r.f.Close()
	if r.tmp {
		os.Remove(r.f.Name())
	}
}
