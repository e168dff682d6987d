package bpfcap

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/synscope/synscope/internal/captest"
	"github.com/synscope/synscope/pkg/ports"
)

// TestLiveWarnsOfAProgramAhead: another tool's TCX program attached after
// the sensor's at the head of the chain runs first, and one whose verdict
// ends the chain hid every packet from the sensor without a word (a
// review). The sensor now says so (Config.Warn), once a hook; not while
// its own is first.
func TestLiveWarnsOfAProgramAhead(t *testing.T) {
	p := needLive(t)
	watched, _ := ports.Parse(livePorts)
	var mu sync.Mutex
	var said []string
	src := openIn(t, p, Config{Ports: watched, Egress: true, Warn: func(msg string) {
		mu.Lock()
		said = append(said, msg)
		mu.Unlock()
	}})
	defer src.Close()
	if src.IngressHook() != HookTCX {
		t.Skipf("ingress on %s: no TCX chain", src.IngressHook())
	}
	check := func() []string {
		if err := captest.InNS(p.SensorNS, func() error { src.checkChain(); return nil }); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), said...)
	}
	if got := check(); len(got) != 0 {
		t.Fatalf("warned while the sensor's program is first: %q", got)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}}) // TC_ACT_OK: ends the chain
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	attach := func() link.Link {
		var l link.Link
		err := captest.InNS(p.SensorNS, func() error {
			ifc, err := net.InterfaceByName(p.SensorIf)
			if err != nil {
				return err
			}
			l, err = link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: prog, Attach: ebpf.AttachTCXIngress, Anchor: link.Head()})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := attach()
	check()
	got := check() // said once
	if len(got) != 1 || !strings.Contains(got[0], "ahead of the sensor's in the TCX ingress chain of "+p.SensorIf) {
		t.Errorf("warnings %q, want one naming the ingress chain of %s", got, p.SensorIf)
	}
	// Gone, and back later: said again (a first warning spent on a
	// program that went away hid a later one, a review).
	l.Close()
	check()
	l = attach()
	defer l.Close()
	if got := check(); len(got) != 2 {
		t.Errorf("warnings %q, want a second when a program is ahead again", got)
	}
}
