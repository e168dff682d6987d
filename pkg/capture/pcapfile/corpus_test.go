package pcapfile

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/synscope/synscope/internal/corpus"
)

// knownBroken are corpus files that must fail with an InputError (and must
// not panic). Paths are relative to the corpus root.
var knownBroken = map[string]string{
	"gopacket/pcapgo/tests/be/test901.pcapng": "invalid section header (version 2.0) after packet 1",
	"gopacket/pcapgo/tests/le/test901.pcapng": "invalid section header (version 2.0) after packet 1",
}

// countExceptions are corpus files whose packet count legitimately differs
// from MANIFEST.md (none so far).
var countExceptions = map[string]string{}

// manifestCounts reads the pkts column of MANIFEST.md; the value is -1 when
// it is not a number.
func manifestCounts(t *testing.T, root string) map[string]int {
	f, err := os.Open(filepath.Join(root, "MANIFEST.md"))
	if err != nil {
		t.Fatalf("corpus manifest: %v", err)
	}
	defer f.Close()
	counts := map[string]int{}
	pktsCol := -1
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cols := strings.Split(line, "|")
		for i := range cols {
			cols[i] = strings.TrimSpace(cols[i])
		}
		if pktsCol < 0 {
			if len(cols) > 1 && cols[1] == "file" {
				for i, c := range cols {
					if c == "pkts" {
						pktsCol = i
					}
				}
			}
			continue
		}
		if len(cols) <= pktsCol || !strings.HasPrefix(cols[1], "`") {
			continue
		}
		name := strings.Trim(cols[1], "`")
		n, err := strconv.Atoi(cols[pktsCol])
		if err != nil {
			n = -1
		}
		counts[name] = n
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if pktsCol < 0 || len(counts) == 0 {
		t.Fatal("MANIFEST.md: no table with a pkts column found")
	}
	return counts
}

// TestCorpus reads every file of the public capture corpus named by
// SENSOR_CORPUS (e.g. /work/shared/pcaps).
func TestCorpus(t *testing.T) {
	root := corpus.Dir(t)
	counts := manifestCounts(t, root)

	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && !strings.HasSuffix(p, ".md") && !strings.HasSuffix(p, ".txt") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	var clean, failed, other int
	var totalPkts, allPkts uint64
	seen := map[string]bool{}
	for _, p := range files {
		rel, _ := filepath.Rel(root, p)
		st, perr := readCorpusFile(t, p)
		if perr != nil {
			t.Errorf("%s: %v", rel, perr)
			continue
		}
		t.Logf("%-80s %-12s %7d  %v", rel, st.Format, st.Packets, st.Err)
		allPkts += st.Packets
		want, listed := counts[rel]
		if !listed {
			other++ // LICENSE, expected outputs, logs: read for robustness only
			continue
		}
		seen[rel] = true
		if st.Err != nil {
			failed++
		} else {
			clean++
			totalPkts += st.Packets
		}
		if reason, ok := knownBroken[rel]; ok {
			if st.Err == nil {
				t.Errorf("%s: known broken (%s) but read without error", rel, reason)
			}
			continue
		}
		if st.Err != nil {
			t.Errorf("%s: %v", rel, st.Err)
			continue
		}
		if want >= 0 && st.Packets != uint64(want) {
			if reason, ok := countExceptions[rel]; ok {
				t.Logf("%s: %d packets, manifest says %d: known exception: %s", rel, st.Packets, want, reason)
			} else {
				t.Errorf("%s: %d packets, manifest says %d", rel, st.Packets, want)
			}
		}
	}
	for name := range counts {
		if !seen[name] {
			t.Errorf("%s: listed in MANIFEST.md but not found", name)
		}
	}
	t.Logf("corpus: %d manifest files read clean (%d packets), %d failed, %d other files", clean, totalPkts, failed, other)

	// The whole corpus through one Reader: the merge must deliver exactly
	// what the files deliver one by one.
	r, err := Open([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	res := readAll(t, r)
	var failedInputs int
	for _, st := range res.stats {
		if st.Err != nil {
			failedInputs++
		}
	}
	if uint64(len(res.pkts)) != allPkts || len(res.errs) != failedInputs {
		t.Errorf("merged read: %d packets and %d errors (%d failed inputs); files one by one: %d packets",
			len(res.pkts), len(res.errs), failedInputs, allPkts)
	}
}

func readCorpusFile(t *testing.T, path string) (st InputStats, perr error) {
	defer func() {
		if v := recover(); v != nil {
			perr = fmt.Errorf("panic: %v", v)
		}
	}()
	r, err := Open([]string{path})
	if err != nil {
		return st, err
	}
	res := readAll(t, r)
	return res.stats[0], nil
}
