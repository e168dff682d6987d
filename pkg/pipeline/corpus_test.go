package pipeline

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/synscope/synscope/internal/corpus"
	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/capture/pcapfile"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/output"
	"github.com/synscope/synscope/pkg/ports"
)

// corpusDir finds the shared captures through SENSOR_CORPUS. Without it the
// test skips, except under CI=true, where a skip would hide a gap.
func corpusDir(t *testing.T) string {
	t.Helper()
	return corpus.Dir(t)
}

type manifestRow struct {
	file string
	syn  int // -1 when the manifest has no number
}

// readManifest parses MANIFEST.md's table: the file is column 1, SYN (the
// tshark reference) column 12.
func readManifest(t *testing.T, dir string) []manifestRow {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "MANIFEST.md"))
	if err != nil {
		t.Fatalf("corpus manifest: %v", err)
	}
	defer f.Close()
	var rows []manifestRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cols := strings.Split(line, "|")
		if len(cols) < 14 {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cols[1]), "`")
		syn, err := strconv.Atoi(strings.TrimSpace(cols[12]))
		if err != nil {
			syn = -1
		}
		rows = append(rows, manifestRow{file: name, syn: syn})
	}
	if len(rows) == 0 {
		t.Fatal("corpus manifest: no rows parsed; has its format changed?")
	}
	return rows
}

// knownSynDiffs lists the captures where our SYN count differs from the
// manifest's tshark reference, and why. A file listed here that starts to
// agree fails the test too, so the list stays true.
var knownSynDiffs = map[string]string{
	"esnet-curated-pcaps/attacks/scanners/masscan/tcp_0_1000_20190821.pcap":       "masscan -p0-1000 sends one SYN to port 0, outside 1-65535",
	"testmynids/pcaps/shadowbrokers/eternalromance-doublepulsar-meterpreter.pcap": "tshark also counts the 12 SYNs quoted inside ICMP unreachable errors; a quoted SYN was not sent to the sensor's network and is not counted",
	"testmynids/pcaps/shadowbrokers/eternalromance-success-2008r2.pcap":           "tshark also counts the 6 SYNs quoted inside ICMP unreachable errors; a quoted SYN is not counted",
}

// countSyns reads one capture with every port watched and counts matches.
func countSyns(path string) (syns uint64, results [decode.NumResults]uint64, err error) {
	all, _ := ports.Parse("1-65535")
	dec := &decode.Decoder{Ports: all}
	r, err := pcapfile.Open([]string{path})
	if err != nil {
		return 0, results, err
	}
	defer r.Close()
	var p capture.Packet
	var s decode.Syn
	for {
		err := r.Next(&p)
		if errors.Is(err, io.EOF) {
			return results[decode.Matched], results, nil
		}
		if err != nil {
			return results[decode.Matched], results, err
		}
		results[dec.Decode(p.LinkType, p.Data, &s)]++
	}
}

func TestCorpusSynCounts(t *testing.T) {
	dir := corpusDir(t)
	rows := readManifest(t, dir)
	agree := 0
	for _, row := range rows {
		if row.syn < 0 {
			continue
		}
		got, res, err := countSyns(filepath.Join(dir, row.file))
		reason, known := knownSynDiffs[row.file]
		switch {
		case int(got) == row.syn && known:
			t.Errorf("%s: now agrees with the manifest (%d SYNs); remove it from knownSynDiffs (%s)", row.file, got, reason)
		case int(got) == row.syn:
			agree++
		case known:
			t.Logf("%s: %d SYNs, manifest %d: known difference: %s", row.file, got, row.syn, reason)
		default:
			t.Errorf("%s: %d SYNs, manifest says %d (read error: %v; results %v)", row.file, got, row.syn, err, res)
		}
	}
	t.Logf("%d captures agree with the manifest's SYN count, %d known differences", agree, len(knownSynDiffs))
}

// TestCorpusWholePipeline runs every capture of the corpus through the
// whole offline path. Real captures have bad timestamps (a stamp of 0, one
// decades ahead): the windows written must stay bounded by --max-gap, not
// by the span the bad stamps pretend.
func TestCorpusWholePipeline(t *testing.T) {
	dir := corpusDir(t)
	all, _ := ports.Parse("1-65535")
	files := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".md") || strings.HasSuffix(path, ".txt") {
			return err
		}
		files++
		src, err := pcapfile.Open([]string{path})
		if err != nil {
			return err
		}
		defer src.Close()
		w := output.NewWriter(io.Discard, "corpus")
		eng, _ := engine.New(engine.DefaultConfig(), w)
		st, err := Run(context.Background(), src, &decode.Decoder{Ports: all}, eng, w, Hooks{})
		if err != nil {
			t.Errorf("%s: %v", path, err)
		}
		maxWindows := uint64(2 * 7 * 24 * 12) // two max-gaps of 5-minute windows
		if st.Engine.Windows > maxWindows {
			t.Errorf("%s: %d windows for %d packets (time jumps %d, gaps %d)", path, st.Engine.Windows, st.Engine.Packets, st.Engine.TimeJumps, st.Engine.Gaps)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("only %d files under %s", files, dir)
	}
}
