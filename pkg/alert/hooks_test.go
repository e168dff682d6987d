package alert

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const line = `{"event_type":"alert","kind":"exponential"}` + "\n"

// server is a real HTTP server on 127.0.0.1 answering with the codes
// given, in turn (200 once they run out), and keeping the bodies.
func server(t *testing.T, codes ...int) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s with %q", r.Method, r.Header.Get("Content-Type"))
		}
		code := 200
		if len(bodies) < len(codes) {
			code = codes[len(bodies)]
		}
		bodies = append(bodies, string(b))
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), bodies...) }
}

func TestWebhookPostsAndRetries(t *testing.T) {
	srv, bodies := server(t, 503)
	h := Start(Config{Webhook: srv.URL, Backoff: 10 * time.Millisecond})
	h.Send([]byte(line))
	h.Close(5 * time.Second)
	if b := bodies(); len(b) != 2 || b[1] != line || h.Delivered.Load() != 1 || h.Failed.Load() != 0 {
		t.Errorf("bodies %q, delivered %d, failed %d", b, h.Delivered.Load(), h.Failed.Load())
	}
}

func TestWebhookRetriesAreBounded(t *testing.T) {
	srv, bodies := server(t, 500, 500, 500, 500, 500)
	var logged []string
	h := Start(Config{Webhook: srv.URL, Backoff: 10 * time.Millisecond, Attempts: 3,
		Log: func(err error, hook string) { logged = append(logged, hook+": "+err.Error()) }})
	h.Send([]byte(line))
	h.Close(5 * time.Second)
	if n := len(bodies()); n != 3 || h.Failed.Load() != 1 || len(logged) != 1 || !strings.Contains(logged[0], "after 3 attempts") {
		t.Errorf("%d POSTs, failed %d, logged %q", n, h.Failed.Load(), logged)
	}
	// A 4xx is the receiver refusing: not retried.
	srv2, bodies2 := server(t, 400)
	h = Start(Config{Webhook: srv2.URL, Backoff: 10 * time.Millisecond})
	h.Send([]byte(line))
	h.Close(5 * time.Second)
	if n := len(bodies2()); n != 1 || h.Failed.Load() != 1 {
		t.Errorf("4xx: %d POSTs, failed %d", n, h.Failed.Load())
	}
}

// script writes an executable shell script.
func script(t *testing.T, body string) string {
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX shell")
	}
	p := filepath.Join(t.TempDir(), "hook.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExecGetsTheAlertOnStdin(t *testing.T) {
	out := filepath.Join(t.TempDir(), "got")
	h := Start(Config{Exec: script(t, "cat >> "+out)})
	h.Send([]byte(line))
	h.Send([]byte(line))
	h.Close(5 * time.Second)
	b, err := os.ReadFile(out)
	if err != nil || string(b) != line+line || h.Delivered.Load() != 2 {
		t.Errorf("%q %v, delivered %d", b, err, h.Delivered.Load())
	}
}

func TestExecIsKilledAtItsTimeout(t *testing.T) {
	var logged string
	h := Start(Config{Exec: script(t, "sleep 30"), Timeout: 200 * time.Millisecond,
		Log: func(err error, hook string) { logged = err.Error() }})
	start := time.Now()
	h.Send([]byte(line))
	h.Close(10 * time.Second)
	if d := time.Since(start); d > 5*time.Second || h.Failed.Load() != 1 || !strings.Contains(logged, "killed after") {
		t.Errorf("took %v, failed %d, logged %q", d, h.Failed.Load(), logged)
	}
}

// TestSendNeverBlocks: a hook that hangs does not hold the sender; what
// does not fit the queue is dropped and counted, and Close gives up at
// its deadline.
func TestSendNeverBlocks(t *testing.T) {
	h := Start(Config{Exec: script(t, "sleep 30"), Timeout: time.Minute})
	start := time.Now()
	for range 1000 {
		h.Send([]byte(line))
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("1000 sends took %v", d)
	}
	h.Close(300 * time.Millisecond)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if h.Dropped.Load() < 1000-queueLen-1 {
		t.Errorf("dropped %d of 1000 with a queue of %d", h.Dropped.Load(), queueLen)
	}
	// What waited in the queue when Close gave up is counted as abandoned
	// (it was tried and logged, a line each), the one running killed.
	if n := h.Abandoned.Load(); n < queueLen-2 || h.Failed.Load() > 2 || h.Dropped.Load()+n+h.Failed.Load() != 1000 {
		t.Errorf("abandoned %d, failed %d, dropped %d of 1000", n, h.Failed.Load(), h.Dropped.Load())
	}
}

func TestCheckWebhook(t *testing.T) {
	for s, ok := range map[string]bool{"http://127.0.0.1:8080/a": true, "https://x.example/h": true, "ftp://x": false, "/path": false, "http://": false,
		"http://x:99999/": false, "http://x:0/": false, "http://x:8080/": true, "http://[::1]:8080/a": true, "http://:8080/": false} {
		if err := CheckWebhook(s); (err == nil) != ok {
			t.Errorf("%q: %v", s, err)
		}
	}
}

// TestWaitingHooksDropNothing: an offline run's hooks (Wait) take every
// alert, however fast they come: 200 alerts to a program that takes a
// while each are all delivered, none dropped (without Wait, most were).
func TestWaitingHooksDropNothing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "got")
	h := Start(Config{Exec: script(t, "cat >> "+out+"; sleep 0.002"), Wait: true})
	for range 200 {
		h.Send([]byte(line))
	}
	h.Close(time.Minute)
	b, _ := os.ReadFile(out)
	if n := strings.Count(string(b), line); n != 200 || h.Dropped.Load() != 0 || h.Delivered.Load() != 200 {
		t.Errorf("%d delivered in the file, %d counted, %d dropped", n, h.Delivered.Load(), h.Dropped.Load())
	}
}

// TestWebhookRetryKeepsItsKey: every attempt of one alert carries the same
// Idempotency-Key, another alert another (a receiver that took an alert but
// answered too late got it twice, with nothing to tell them apart).
func TestWebhookRetryKeepsItsKey(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		if n++; n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	h := Start(Config{Webhook: srv.URL, Backoff: 10 * time.Millisecond})
	h.Send([]byte(line))
	h.Send([]byte(strings.Replace(line, "exponential", "cleared", 1)))
	h.Close(5 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 3 || keys[0] == "" || keys[0] != keys[1] || keys[2] == keys[0] {
		t.Errorf("keys %q: want the first twice (retried), then another", keys)
	}
}

// TestWaitingIsBounded: waiting hooks wait at most their budget in all, and
// not after StopWaiting (a signal): a hook that hangs held an offline run
// for a timeout an alert past its queue, and an interrupt did not help.
func TestWaitingIsBounded(t *testing.T) {
	h := Start(Config{Exec: script(t, "sleep 30"), Timeout: time.Minute, Wait: true, WaitBudget: 300 * time.Millisecond})
	start := time.Now()
	for range 200 {
		h.Send([]byte(line))
	}
	if d := time.Since(start); d > 3*time.Second || h.Dropped.Load() == 0 {
		t.Errorf("200 sends to a hung hook took %v, %d dropped", d, h.Dropped.Load())
	}
	h.Close(100 * time.Millisecond)

	h = Start(Config{Exec: script(t, "sleep 30"), Timeout: time.Minute, Wait: true})
	go func() { time.Sleep(200 * time.Millisecond); h.StopWaiting() }()
	start = time.Now()
	for range 200 {
		h.Send([]byte(line))
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("sends went on waiting %v after StopWaiting", d)
	}
	h.Close(100 * time.Millisecond)
}
