//go:build linux

package captest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Need reports that the test cannot run here (a privilege, a kernel
// feature, a tool): a skip locally, a failure under CI=true, where
// everything the tests need is installed and permitted.
func Need(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// NeedRoot needs an effective uid of 0 (namespaces, veth, BPF, raw sockets).
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Need(t, "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for network namespaces, CAP_BPF): running as uid %d", os.Geteuid())
	}
}

// NeedTools needs each named program on PATH.
func NeedTools(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			Need(t, "needs %s (Debian package: %s): %v", n, debPackage(n), err)
		}
	}
}

func debPackage(tool string) string {
	switch tool {
	case "ip":
		return "iproute2"
	}
	return tool
}

// Addresses of the two ends of every pair (198.18.0.0/15 is for
// benchmarking; each pair lives in its own namespaces, so pairs never clash).
const (
	ScanAddr   = "198.18.0.1"
	SensorAddr = "198.18.0.2"
	Prefix     = 24
)

// Pair is two fresh network namespaces joined by a veth pair: a scanner
// side and a sensor side. Nothing is routed anywhere else.
type Pair struct {
	ScanNS, SensorNS   string // namespace names (ip netns)
	ScanIf, SensorIf   string // veth ends
	SensorMAC, ScanMAC string
}

// NewPair makes the namespaces and the veth pair, addresses them and brings
// them up. t.Cleanup removes the namespaces (and with them the veth and
// anything attached to it), whether the test passed or not.
//
// The links are quiet: IPv6 is off in both namespaces, so the kernel sends
// no MLD reports or DAD solicitations of its own, and a test sees only the
// traffic it makes, whenever it opens a source.
func NewPair(t testing.TB) *Pair {
	t.Helper()
	NeedRoot(t)
	NeedTools(t, "ip")
	id := newNamespaces(t)
	// The veth ends are created inside the new namespaces (never in the
	// caller's), so their names cannot clash with anyone's links; the id
	// keeps them apart in logs and fits IFNAMSIZ ("ssa" + 12 = 15 bytes).
	p := &Pair{
		ScanNS: nsPrefixScan + id, SensorNS: nsPrefixSensor + id,
		ScanIf: "ssa" + id, SensorIf: "ssb" + id,
	}
	for _, ns := range []string{p.ScanNS, p.SensorNS} {
		quiet(t, ns)
	}
	p.ip(t, "", "link", "add", p.ScanIf, "netns", p.ScanNS, "type", "veth", "peer", "name", p.SensorIf, "netns", p.SensorNS)
	for _, side := range []struct{ ns, ifc, addr string }{{p.ScanNS, p.ScanIf, ScanAddr}, {p.SensorNS, p.SensorIf, SensorAddr}} {
		p.ip(t, side.ns, "addr", "add", fmt.Sprintf("%s/%d", side.addr, Prefix), "dev", side.ifc)
		p.ip(t, side.ns, "link", "set", side.ifc, "up")
		p.ip(t, side.ns, "link", "set", "lo", "up")
	}
	p.SensorMAC = p.mac(t, p.SensorNS, p.SensorIf)
	p.ScanMAC = p.mac(t, p.ScanNS, p.ScanIf)
	return p
}

const (
	nsPrefixScan   = "synscope-scan-"
	nsPrefixSensor = "synscope-sens-"
)

// newNamespaces makes a scanner and a sensor namespace under a fresh
// random id and returns the id. go test runs packages as parallel
// processes, and ids made from the pid and a counter can meet; 48 random
// bits do not, and `ip netns add` refuses a name that exists (O_EXCL), so
// a clash that happens anyway is retried rather than shared.
func newNamespaces(t testing.TB) string {
	t.Helper()
	for attempt := 0; ; attempt++ {
		id := newID()
		made := 0
		for _, ns := range []string{nsPrefixScan + id, nsPrefixSensor + id} {
			out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput()
			if err != nil {
				if bytes.Contains(out, []byte("File exists")) && attempt < 5 {
					break
				}
				Need(t, "needs network namespaces (root): ip netns add %s: %v: %s", ns, err, out)
			}
			made++
			t.Cleanup(func() {
				if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
					t.Errorf("ip netns del %s: %v: %s", ns, err, out)
				}
			})
		}
		if made == 2 {
			return id
		}
	}
}

// newID makes pair ids; a test replaces it to force a clash.
var newID = randomID

// randomID is 12 hex digits from the system's random source.
func randomID() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b[:])
}

// quiet turns IPv6 off in ns before any link is made there (links take
// the namespace's default), so the kernel sends nothing unasked on them.
// A kernel without IPv6 is quiet already.
func quiet(t testing.TB, ns string) {
	t.Helper()
	err := InNS(ns, func() error {
		for _, conf := range []string{"all", "default"} {
			err := os.WriteFile("/proc/sys/net/ipv6/conf/"+conf+"/disable_ipv6", []byte("1"), 0)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("turn IPv6 off in %s: %v", ns, err)
	}
}

func (p *Pair) ip(t testing.TB, ns string, args ...string) {
	t.Helper()
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func (p *Pair) mac(t testing.TB, ns, ifc string) string {
	t.Helper()
	var mac string
	err := InNS(ns, func() error {
		i, err := net.InterfaceByName(ifc)
		if err == nil {
			mac = i.HardwareAddr.String()
		}
		return err
	})
	if err != nil {
		t.Fatalf("read MAC of %s: %v", ifc, err)
	}
	return mac
}

// InNS runs fn on an OS thread that has joined network namespace ns (by its
// ip-netns name). Sockets, links and interface look-ups made by fn belong
// to that namespace; what they create outlives fn. The thread is never
// handed back to the Go scheduler, so no other goroutine runs in ns.
func InNS(ns string, fn func() error) error {
	f, err := os.Open("/run/netns/" + ns)
	if err != nil {
		return err
	}
	defer f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Run runs a command inside ns and waits for it, at most timeout; it must
// exit 0.
func Run(t testing.TB, ns string, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	return run(t, ns, timeout, 0, name, args...)
}

// run is Run accepting exit codes up to maxCode.
func run(t testing.TB, ns string, timeout time.Duration, maxCode int, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: still running after %v: %s", name, strings.Join(args, " "), timeout, out)
	}
	if err != nil && (cmd.ProcessState == nil || cmd.ProcessState.ExitCode() > maxCode) {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Tcpdump records what iface in ns sees in direction dir ("in", "out" or
// "inout") into file, until the returned stop is called. It returns once
// tcpdump is listening.
func Tcpdump(t testing.TB, ns, iface, dir, file string) (stop func()) {
	t.Helper()
	NeedTools(t, "tcpdump")
	// -s 1024: every header the tests compare fits (tags, tunnels, IPv6
	// extension headers, TCP options), and the ring's slots are sized by
	// the snapshot length: at the default 262,144 bytes the 32 MiB buffer
	// held about 128 frames, and a burst while tcpdump was descheduled on a
	// busy machine lost half of a 6,730-frame replay (CI, 2026-12-02).
	cmd := exec.Command("ip", "netns", "exec", ns, "tcpdump", "-i", iface, "-Q", dir, "-B", "32768", "-s", "1024", "--immediate-mode", "-U", "-n", "-w", file)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start tcpdump: %v", err)
	}
	done := make(chan struct{})
	var errOut bytes.Buffer
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			errOut.WriteString(sc.Text() + "\n")
			if !once && strings.Contains(sc.Text(), "listening on") {
				once = true
				close(listening)
			}
		}
		io.Copy(io.Discard, stderr)
		close(done)
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		// Stopped, tcpdump writes no more of what waits in its ring, and
		// does not count it as dropped: on a loaded machine it can be
		// behind a burst by more than a test's pause. It is stopped once
		// its file has stopped growing for half a second (at most 15 s).
		settle(file, 500*time.Millisecond, 15*time.Second)
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = cmd.Wait()
		// A comparison with a capture that lost packets proves nothing.
		if m := regexp.MustCompile(`(\d+) packets? dropped by kernel`).FindStringSubmatch(errOut.String()); m != nil && m[1] != "0" {
			t.Errorf("tcpdump lost packets: %s", errOut.String())
		}
	}
	t.Cleanup(stop)
	select {
	case <-listening:
	case <-done:
		t.Fatalf("tcpdump exited: %s", errOut.String())
	case <-time.After(10 * time.Second):
		stop()
		t.Fatalf("tcpdump not listening after 10 s: %s", errOut.String())
	}
	return stop
}

// settle waits until file's size has not changed for quiet, at most max.
func settle(file string, quiet, max time.Duration) {
	deadline := time.Now().Add(max)
	size, since := int64(-1), time.Now()
	for time.Now().Before(deadline) {
		var n int64
		if fi, err := os.Stat(file); err == nil {
			n = fi.Size()
		}
		if n != size {
			size, since = n, time.Now()
		} else if time.Since(since) >= quiet {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Scanners, each bounded in packets and time. They send from ns to target
// (an address of the pair's other namespace), nowhere else.

// Nmap runs a SYN scan of a handful of ports, one retry at most.
func Nmap(t testing.TB, ns, target, portList string) {
	t.Helper()
	NeedTools(t, "nmap")
	Run(t, ns, 30*time.Second, "nmap", "-sS", "-n", "-Pn", "-p", portList,
		"--max-retries", "1", "--host-timeout", "15s", "--max-rtt-timeout", "500ms", target)
}

// Hping sends count SYNs to target:port, 10 ms apart, from random source
// addresses when randSource is set.
func Hping(t testing.TB, ns, target string, port, count int, randSource bool) {
	t.Helper()
	NeedTools(t, "hping3")
	args := []string{"-S", "-p", fmt.Sprint(port), "-c", fmt.Sprint(count), "-i", "u10000"}
	if randSource {
		args = append(args, "--rand-source")
	}
	// hping3 exits 1 when nothing answered: the sensor's side sends RSTs,
	// but random sources never get them.
	run(t, ns, 30*time.Second, 1, "hping3", append(args, target)...)
}

// Masscan scans targets (a range) on portList at 500 packets/s, sending out
// iface straight to routerMAC (the other end of the veth), then waits no
// longer than a second for replies.
func Masscan(t testing.TB, ns, iface, srcAddr, routerMAC, targets, portList string) {
	t.Helper()
	NeedTools(t, "masscan")
	// masscan's receive thread blocks in a read until a frame arrives, and
	// it exits only when that thread looks up: on these quiet links, with no
	// target answering, that is never. A frame of the local experimental
	// ethertype out of iface every 200 ms (bounded) wakes it; no stage of
	// the sensor takes it for anything but a non-IP frame.
	wake := [][]byte{append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5}, make([]byte, 46)...)}
	stop := make(chan struct{})
	woken := make(chan struct{})
	go func() {
		defer close(woken)
		for range 200 {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				InjectErr(ns, iface, wake)
			}
		}
	}()
	defer func() { close(stop); <-woken }()
	Run(t, ns, 30*time.Second, "masscan", targets, "-p", portList, "--rate", "500", "--wait", "0",
		"--adapter", iface, "--adapter-ip", srcAddr, "--router-mac", routerMAC)
}

// Inject sends frames as they are out of iface in ns, through a packet
// socket: crafted frames reach the other end of the veth byte for byte.
// Frames shorter than an Ethernet header are skipped (the kernel refuses
// them).
func Inject(t testing.TB, ns, iface string, frames [][]byte) int {
	t.Helper()
	sent, err := InjectErr(ns, iface, frames)
	if err != nil {
		t.Fatalf("inject: %v", err)
	}
	return sent
}

// InjectLinear sends frame on iface in namespace ns as a NIC that splits
// headers builds it: its first linear bytes in the skb's linear area, the
// rest in pages (a packet socket with a virtio-net header, whose hdr_len
// says how much is linear; the frame must be longer than a page for the
// rest to be paged).
func InjectLinear(t testing.TB, ns, iface string, frame []byte, linear int) {
	t.Helper()
	err := packetSocket(ns, iface, func(fd int, to *unix.SockaddrLinklayer) error {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
			return err
		}
		// struct virtio_net_hdr: flags, gso_type, hdr_len (host order),
		// gso_size, csum_start, csum_offset; no offloads asked.
		var hdr [10]byte
		binary.NativeEndian.PutUint16(hdr[2:], uint16(linear))
		return unix.Sendto(fd, append(hdr[:], frame...), 0, to)
	})
	if err != nil {
		t.Fatalf("inject with %d bytes linear: %v", linear, err)
	}
}

// packetSocket runs send with a raw packet socket in namespace ns and the
// address of iface there.
func packetSocket(ns, iface string, send func(fd int, to *unix.SockaddrLinklayer) error) error {
	return InNS(ns, func() error {
		ifc, err := net.InterfaceByName(iface)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return send(fd, &unix.SockaddrLinklayer{Ifindex: ifc.Index, Halen: 6})
	})
}

// InjectErr is Inject for callers that are not the test's goroutine (a
// hook inside the code under test), where t.Fatal must not be called.
func InjectErr(ns, iface string, frames [][]byte) (int, error) {
	sent := 0
	err := packetSocket(ns, iface, func(fd int, to *unix.SockaddrLinklayer) error {
		for _, f := range frames {
			if len(f) < 14 {
				continue
			}
			if err := unix.Sendto(fd, f, 0, to); err != nil {
				return fmt.Errorf("send frame %d (%d bytes): %w", sent, len(f), err)
			}
			sent++
			if sent%64 == 0 {
				time.Sleep(time.Millisecond) // stay under the backlog
			}
		}
		return nil
	})
	return sent, err
}

// Promiscuity is the interface's promiscuity count as the kernel keeps it
// (`ip -d link show`): 0 when nothing holds promiscuous mode.
func Promiscuity(t testing.TB, ns, iface string) int {
	t.Helper()
	out := Run(t, ns, 5*time.Second, "ip", "-d", "link", "show", iface)
	i := strings.Index(out, "promiscuity ")
	if i < 0 {
		t.Fatalf("no promiscuity in %s", out)
	}
	n, err := strconv.Atoi(strings.Fields(out[i:])[1])
	if err != nil {
		t.Fatalf("promiscuity in %s: %v", out, err)
	}
	return n
}

// RxPackets is how many frames iface in ns has received.
func RxPackets(t testing.TB, ns, iface string) uint64 {
	t.Helper()
	out := Run(t, ns, 5*time.Second, "ip", "-j", "-s", "link", "show", iface)
	var links []struct {
		Stats struct {
			Rx struct {
				Packets uint64 `json:"packets"`
			} `json:"rx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j -s link show %s: %v: %s", iface, err, out)
	}
	return links[0].Stats.Rx.Packets
}

// Flood has hping3 in ns send SYNs from random sources to target's port
// as fast as it can, for d at most, in the background. hping3 does not end
// on SIGTERM while it floods: it is sent SIGKILL at d (timeout -s KILL),
// and its process group is killed when the test ends, whatever happened.
func Flood(t testing.TB, ns, target string, port int, d time.Duration) {
	t.Helper()
	NeedTools(t, "hping3", "timeout")
	cmd := exec.Command("ip", "netns", "exec", ns, "timeout", "-s", "KILL", fmt.Sprintf("%.3f", d.Seconds()),
		"hping3", "-S", "-p", fmt.Sprint(port), "--flood", "--rand-source", target)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("hping3 --flood: %v", err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
}
