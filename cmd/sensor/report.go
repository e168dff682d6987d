package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"

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

Lines that are not usable records (truncated, unknown event_type, missing
fields) are named on stderr and skipped; the rest is drawn.

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
	for _, in := range inputs {
		if err := readReportInput(d, in); err != nil {
			fmt.Fprintf(stderr, "sensor report: %v\n", err)
			return exitFatal
		}
	}
	d.Finish()
	for _, p := range d.Problems {
		fmt.Fprintf(stderr, "sensor report: skipped %s\n", p)
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
	return exitOK
}

func readReportInput(d *report.Data, in string) error {
	if in == "-" {
		return d.Read(stdin, "stdin")
	}
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	return d.Read(f, in)
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
