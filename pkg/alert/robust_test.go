package alert

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestExecLeavingAChildIsDelivered: a program that exits 0 but leaves a
// child holding its output (a notifier sent to the background) delivered
// the alert; it was counted and logged as failed ("WaitDelay expired").
func TestExecLeavingAChildIsDelivered(t *testing.T) {
	var logged string
	h := Start(Config{Exec: script(t, "cat >/dev/null; sleep 3 & exit 0"),
		Log: func(err error, hook string) { logged = err.Error() }})
	h.Send([]byte(line))
	h.Close(10 * time.Second)
	if h.Failed.Load() != 0 || h.Delivered.Load() != 1 {
		t.Errorf("delivered %d, failed %d (%q)", h.Delivered.Load(), h.Failed.Load(), logged)
	}
}

// TestExecBackgroundChildDoesNotOutliveTheRun: a program that exits 0 and
// leaves a child running (delivered, above) has that child killed at the
// program's timeout, or when the hooks close: 73 of them outlived a run
// that alerted 73 times (a review).
func TestExecBackgroundChildDoesNotOutliveTheRun(t *testing.T) {
	if _, err := exec.LookPath("pgrep"); err != nil {
		t.Skip("no pgrep here")
	}
	marker := "8.8" + time.Now().Format("150405")
	gone := func(within time.Duration) bool {
		deadline := time.Now().Add(within)
		for {
			out, _ := exec.Command("pgrep", "-f", "sleep "+marker).Output()
			if len(strings.TrimSpace(string(out))) == 0 {
				return true
			}
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	defer exec.Command("pkill", "-f", "sleep "+marker).Run()
	// At the timeout.
	h := Start(Config{Exec: script(t, "cat >/dev/null; sleep "+marker+" & exit 0"), Timeout: 1500 * time.Millisecond})
	h.Send([]byte(line))
	for end := time.Now().Add(5 * time.Second); h.Delivered.Load() == 0 && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	if !gone(4 * time.Second) {
		t.Error("the program's background child outlived its timeout")
	}
	h.Close(time.Second)
	// At the close, before the timeout.
	h = Start(Config{Exec: script(t, "cat >/dev/null; sleep "+marker+" & exit 0"), Timeout: time.Hour})
	h.Send([]byte(line))
	h.Close(10 * time.Second)
	if !gone(2 * time.Second) {
		t.Error("the program's background child outlived the hooks' close")
	}
	if h.Delivered.Load() != 1 {
		t.Errorf("delivered %d, want 1", h.Delivered.Load())
	}
	// The timeout falling while Run waits for the child's hold on the
	// output (WaitDelay): no kill came, and none was scheduled (a review).
	h = Start(Config{Exec: script(t, "cat >/dev/null; sleep 0.6; sleep "+marker+" & exit 0"), Timeout: time.Second})
	h.Send([]byte(line))
	h.Close(10 * time.Second)
	if !gone(2 * time.Second) {
		t.Error("the program's background child outlived a timeout that fell in WaitDelay")
	}
}

// TestExecKilledWithItsChildren: at its timeout the program is killed with
// every process it started; its children outlived it.
func TestExecKilledWithItsChildren(t *testing.T) {
	if _, err := exec.LookPath("pgrep"); err != nil {
		t.Skip("no pgrep here")
	}
	marker := "7.7" + time.Now().Format("150405")
	h := Start(Config{Exec: script(t, "sleep "+marker+" &\nsh -c 'sleep "+marker+"; true'\n"), Timeout: 300 * time.Millisecond})
	h.Send([]byte(line))
	h.Close(10 * time.Second)
	deadline := time.Now().Add(2 * time.Second)
	for {
		out, _ := exec.Command("pgrep", "-f", "sleep "+marker).Output()
		if len(strings.TrimSpace(string(out))) == 0 {
			break
		}
		if time.Now().After(deadline) {
			exec.Command("pkill", "-f", "sleep "+marker).Run()
			t.Fatalf("the program was killed at its timeout, its children live on: pids %q", strings.Fields(string(out)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if h.Failed.Load() != 1 {
		t.Errorf("failed %d, want 1", h.Failed.Load())
	}
}

// TestExecOutputIsBounded: a program that prints without end (yes) held
// its whole output in memory until it was killed: gigabytes an alert.
func TestExecOutputIsBounded(t *testing.T) {
	var logged string
	h := Start(Config{Exec: script(t, "cat >/dev/null; yes "+strings.Repeat("x", 100)), Timeout: time.Second,
		Log: func(err error, hook string) { logged = err.Error() }})
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	h.Send([]byte(line))
	h.Close(10 * time.Second)
	close(stop)
	wg.Wait()
	if p := peak.Load(); p > 64<<20 {
		t.Errorf("one run of the program held %d MiB of its output", p>>20)
	}
	if !strings.Contains(logged, "killed after") {
		t.Errorf("logged %q", logged)
	}
}

// TestWebhookSecretsNotLogged: the URL's password (and its path and query,
// where services put their tokens) stay out of the log.
func TestWebhookSecretsNotLogged(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(400) }))
	defer srv.Close()
	var logged []string
	var mu sync.Mutex
	log := func(err error, hook string) { mu.Lock(); logged = append(logged, err.Error()); mu.Unlock() }
	for _, u := range []string{
		strings.Replace(srv.URL, "http://", "http://alice:s3cret@", 1) + "/hook?token=s3cret",
		"http://alice:s3cret@127.0.0.1:1/services/s3cret", // refused: a network error
	} {
		h := Start(Config{Webhook: u, Attempts: 1, Log: log})
		h.Send([]byte(line))
		h.Close(5 * time.Second)
	}
	if len(logged) != 2 {
		t.Fatalf("logged %q", logged)
	}
	for _, l := range logged {
		if strings.Contains(l, "s3cret") || !strings.Contains(l, "127.0.0.1") {
			t.Errorf("logged %q", l)
		}
	}
}

// TestWebhookRedirectIsAFailure: a redirect (http to https, a moved
// endpoint) was followed as a GET without the alert, and the answer to
// that counted as delivered.
func TestWebhookRedirectIsAFailure(t *testing.T) {
	var mu sync.Mutex
	var got []string
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/new", http.StatusMovedPermanently) })
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) { mu.Lock(); got = append(got, r.Method); mu.Unlock() })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	var logged string
	h := Start(Config{Webhook: srv.URL + "/old", Log: func(err error, hook string) { logged = err.Error() }})
	h.Send([]byte(line))
	h.Close(5 * time.Second)
	if h.Delivered.Load() != 0 || h.Failed.Load() != 1 || len(got) != 0 ||
		!strings.Contains(logged, "301") || !strings.Contains(logged, "another path") {
		t.Errorf("delivered %d, failed %d, the new URL got %q, logged %q", h.Delivered.Load(), h.Failed.Load(), got, logged)
	}
}

// TestWebhookRedirectKeepsTheSecrets: a redirect's Location (http to https
// on the same secret path, a token in the query) is logged by its scheme
// and host only; it was logged whole.
func TestWebhookRedirectKeepsTheSecrets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://"+r.Host+r.URL.Path+"?key=s3cret", http.StatusMovedPermanently)
	}))
	defer srv.Close()
	var logged string
	h := Start(Config{Webhook: srv.URL + "/services/T0/B0/S3CRET", Log: func(err error, hook string) { logged = err.Error() }})
	h.Send([]byte(line))
	h.Close(5 * time.Second)
	if strings.Contains(logged, "S3CRET") || strings.Contains(logged, "s3cret") || !strings.Contains(logged, "https://127.0.0.1") || !strings.Contains(logged, "the same path") {
		t.Errorf("logged %q", logged)
	}
}

// TestDeadWebhookDoesNotHoldTheProgram: one queue served both hooks in
// turn, so a webhook that never answers held every alert for the program
// for its retries, and both dropped alerts once it filled.
func TestDeadWebhookDoesNotHoldTheProgram(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	out := t.TempDir() + "/got"
	h := Start(Config{Exec: script(t, "cat >> "+out), Webhook: srv.URL, Timeout: 300 * time.Millisecond, Backoff: 100 * time.Millisecond})
	for range 50 {
		h.Send([]byte(line))
		time.Sleep(5 * time.Millisecond)
	}
	deadline := time.Now().Add(20 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(out)
		if n = strings.Count(string(b), "\n"); n == 50 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.Close(100 * time.Millisecond)
	if n != 50 {
		t.Errorf("the program got %d of 50 alerts while the webhook was down", n)
	}
}

// TestCutOffIsAbandoned: a delivery still running when Close's wait is
// over is cut off and counted with those not tried (abandoned), not as
// failed for good, and not logged one by one ("context canceled" a line).
func TestCutOffIsAbandoned(t *testing.T) {
	var logged []string
	var mu sync.Mutex
	h := Start(Config{Exec: script(t, "cat >/dev/null; sleep 30"), Timeout: time.Minute,
		Log: func(err error, hook string) { mu.Lock(); logged = append(logged, err.Error()); mu.Unlock() }})
	for range 3 {
		h.Send([]byte(line))
	}
	time.Sleep(200 * time.Millisecond) // the first is running
	h.Close(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if h.Failed.Load() != 0 || h.Abandoned.Load() != 3 || len(logged) != 0 {
		t.Errorf("failed %d, abandoned %d of 3, logged %q", h.Failed.Load(), h.Abandoned.Load(), logged)
	}
}

// TestCheckWebhookKeepsTheSecrets: a URL refused at start is not quoted in
// the error, which goes to the log: a bad escape printed its password.
func TestCheckWebhookKeepsTheSecrets(t *testing.T) {
	for _, u := range []string{"http://alice:S3CRET@127.0.0.1:18099/%zz?key=K3Y", "ftp://alice:S3CRET@host/K3Y", "http://:S3CRET@/K3Y",
		"http://admin:S3CRET/K3Y@127.0.0.1:8080/hook", "http://admin:S3CRET%zz@127.0.0.1/K3Y", "http://S3CRET\x01@127.0.0.1/K3Y",
		"http://[S3CRET/K3Y", "http://adm\x7fin:S3CRET@h/K3Y", "http://h%zzS3CRET/K3Y"} {
		err := CheckWebhook(u)
		if err == nil {
			t.Fatalf("%s: accepted", u)
		}
		if m := err.Error(); strings.Contains(m, "S3CRET") || strings.Contains(m, "K3Y") {
			t.Errorf("the error quotes a secret: %s", m)
		}
	}
}

// TestExecFailureSaysItsLastWords: a program that prints a lot and then
// why it fails has its reason in the log (the first 200 bytes of its
// output were logged, and the reason was cut off).
func TestExecFailureSaysItsLastWords(t *testing.T) {
	var logged string
	h := Start(Config{Exec: script(t, "cat >/dev/null; yes chatter | head -c 20000; echo the-reason-why >&2; exit 3"), Timeout: 10 * time.Second,
		Log: func(err error, hook string) { logged = err.Error() }})
	h.Send([]byte(line))
	h.Close(10 * time.Second)
	if h.Failed.Load() != 1 || !strings.Contains(logged, "the-reason-why") || len(logged) > 400 {
		t.Errorf("failed %d, logged %q", h.Failed.Load(), logged)
	}
}

// TestCloseByCutsTheWaitAtASignal: a signal (ctx's end) during Close's
// wait for a slow hook cuts the wait to cut; it used to run its whole
// length (13.5 s of 15 after a SIGTERM, a review).
func TestCloseByCutsTheWaitAtASignal(t *testing.T) {
	h := Start(Config{Exec: script(t, "cat >/dev/null; sleep 30"), Timeout: time.Minute})
	h.Send([]byte(line))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	h.CloseBy(ctx, 20*time.Second, 200*time.Millisecond)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close waited %v after the signal, want about 0.5 s", d.Round(time.Millisecond))
	}
	if h.Abandoned.Load() != 1 || h.Delivered.Load() != 0 {
		t.Errorf("abandoned %d, delivered %d; want the one delivery cut off", h.Abandoned.Load(), h.Delivered.Load())
	}
	// Without a signal the wait is whole: a quick hook is delivered.
	h = Start(Config{Exec: script(t, "cat >/dev/null; sleep 0.3"), Timeout: time.Minute})
	h.Send([]byte(line))
	h.CloseBy(context.Background(), 20*time.Second, 10*time.Millisecond)
	if h.Delivered.Load() != 1 {
		t.Errorf("delivered %d of 1 with no signal", h.Delivered.Load())
	}
}

// TestSendAfterCloseIsCounted: an alert sent after Close is counted as
// abandoned, not sent on a closed queue (a panic).
func TestSendAfterCloseIsCounted(t *testing.T) {
	h := Start(Config{Exec: script(t, "cat >/dev/null"), Timeout: time.Minute})
	h.Close(time.Second)
	h.Send([]byte(line))
	if h.Sent.Load() != 1 || h.Abandoned.Load() != 1 {
		t.Errorf("sent %d, abandoned %d; want 1 and 1", h.Sent.Load(), h.Abandoned.Load())
	}
}
