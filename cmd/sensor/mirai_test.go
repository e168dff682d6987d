package main

import (
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/synscope/synscope/internal/corpus"
	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/capture/pcapfile"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/ports"
)

// On the real captures of ../shared/pcaps (SENSOR_CORPUS), the sources the
// sensor names mirai are exactly those that sent a SYN whose sequence
// number is its destination address, counted straight from the captures.
func TestCorpusMiraiSources(t *testing.T) {
	dir := corpus.Dir(t)
	// Some captures are broken on purpose: the run reads what it can.
	out, _, _ := sensor(t, "-r", dir, "--ports", "1-65535", "--log-level", "error", "--growth=false")
	named := map[string]bool{}
	for _, r := range ofType(records(t, out), "source") {
		if r["tool"] == "mirai" {
			named[r["src_ip"].(string)] = true
		}
	}
	direct := map[string]bool{}
	syns := 0
	all, _ := ports.Parse("1-65535")
	dec := &decode.Decoder{Ports: all}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		r, err := pcapfile.Open([]string{path})
		if err != nil {
			return nil
		}
		defer r.Close()
		var p capture.Packet
		var s decode.Syn
		for {
			if err := r.Next(&p); errors.Is(err, io.EOF) || err != nil {
				return nil
			}
			if dec.Decode(p.LinkType, p.Data, &s) != decode.Matched || s.V6 {
				continue
			}
			syns++
			if s.Seq == uint32(s.Dst[0])<<24|uint32(s.Dst[1])<<16|uint32(s.Dst[2])<<8|uint32(s.Dst[3]) {
				direct[s.SrcAddr().String()] = true
			}
		}
	})
	t.Logf("%d IPv4 SYNs in the corpus; sources with seq = destination: %d counted, %d named mirai", syns, len(direct), len(named))
	if syns == 0 || len(named) != len(direct) {
		t.Errorf("mirai sources: %d named, %d counted straight (%v vs %v)", len(named), len(direct), named, direct)
	}
	for a := range direct {
		if !named[a] {
			t.Errorf("%s sent seq = destination but is not named mirai", a)
		}
	}
}
