package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"
)

// Config says where alerts go and how long a delivery may take.
type Config struct {
	Exec    string // program run once per alert, the alert's JSON on stdin ("" for none)
	Webhook string // URL the alert's JSON is POSTed to ("" for none)
	// Timeout bounds one run of Exec and one POST.
	Timeout time.Duration
	// Attempts bounds the POSTs of one alert (retried on a network error
	// or a 5xx/429 answer, after Backoff, doubling).
	Attempts int
	Backoff  time.Duration
	// Log reports a failed delivery (never called on the capture path).
	Log func(err error, hook string)
}

// DefaultConfig bounds deliveries as documented.
func DefaultConfig() Config {
	return Config{Timeout: 10 * time.Second, Attempts: 3, Backoff: time.Second}
}

// CheckWebhook refuses a URL that is not http(s)://host/...
func CheckWebhook(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL", s)
	}
	return nil
}

// queueLen bounds the alerts waiting for delivery.
const queueLen = 64

// Hooks delivers alerts. Start it with Start, feed it with Send, and end
// it with Close.
type Hooks struct {
	cfg       Config
	q         chan []byte
	done      chan struct{}
	client    *http.Client
	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once

	Dropped   atomic.Uint64 // alerts dropped because the queue was full
	Delivered atomic.Uint64 // deliveries that succeeded (one per hook and alert)
	Failed    atomic.Uint64 // deliveries that failed for good
}

// Start starts delivering; nil when no hook is configured.
func Start(cfg Config) *Hooks {
	if cfg.Exec == "" && cfg.Webhook == "" {
		return nil
	}
	d := DefaultConfig()
	if cfg.Timeout <= 0 {
		cfg.Timeout = d.Timeout
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = d.Attempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = d.Backoff
	}
	h := &Hooks{cfg: cfg, q: make(chan []byte, queueLen), done: make(chan struct{}),
		client: &http.Client{Timeout: cfg.Timeout}}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	go h.run()
	return h
}

// Send queues a copy of one alert's JSON line; it never blocks.
func (h *Hooks) Send(line []byte) {
	if h == nil {
		return
	}
	select {
	case h.q <- bytes.Clone(line):
	default:
		h.Dropped.Add(1)
	}
}

// Close delivers what is queued, waiting at most wait, then abandons the
// rest (a running program is killed, a POST cancelled).
func (h *Hooks) Close(wait time.Duration) {
	if h == nil {
		return
	}
	h.closeOnce.Do(func() { close(h.q) })
	select {
	case <-h.done:
	case <-time.After(wait):
		h.cancel()
		<-h.done
	}
	h.cancel()
}

func (h *Hooks) run() {
	defer close(h.done)
	for line := range h.q {
		if h.cfg.Exec != "" {
			h.result(h.exec(line), "alert-exec")
		}
		if h.cfg.Webhook != "" {
			h.result(h.post(line), "alert-webhook")
		}
	}
}

func (h *Hooks) result(err error, hook string) {
	if err == nil {
		h.Delivered.Add(1)
		return
	}
	h.Failed.Add(1)
	if h.cfg.Log != nil {
		h.cfg.Log(err, hook)
	}
}

// exec runs the program with the alert on its standard input, killed at
// the timeout.
func (h *Hooks) exec(line []byte) error {
	ctx, cancel := context.WithTimeout(h.ctx, h.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.cfg.Exec)
	cmd.Stdin = bytes.NewReader(line)
	cmd.WaitDelay = time.Second // a child that keeps the pipes open cannot hold us
	out, err := cmd.CombinedOutput()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("alert-exec %s: killed after %v", h.cfg.Exec, h.cfg.Timeout)
	}
	if err != nil {
		return fmt.Errorf("alert-exec %s: %w: %s", h.cfg.Exec, err, bytes.TrimSpace(out[:min(len(out), 200)]))
	}
	return nil
}

// post POSTs the alert, retrying a network error or a 5xx/429 answer.
func (h *Hooks) post(line []byte) error {
	var err error
	wait := h.cfg.Backoff
	for attempt := 1; attempt <= h.cfg.Attempts; attempt++ {
		if attempt > 1 {
			select {
			case <-time.After(wait):
			case <-h.ctx.Done():
				return fmt.Errorf("alert-webhook: %w (abandoned at the end of the run)", err)
			}
			wait *= 2
		}
		var retry bool
		if retry, err = h.postOnce(line); err == nil || !retry {
			return err
		}
	}
	return fmt.Errorf("%w (after %d attempts)", err, h.cfg.Attempts)
}

func (h *Hooks) postOnce(line []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(h.ctx, http.MethodPost, h.cfg.Webhook, bytes.NewReader(line))
	if err != nil {
		return false, fmt.Errorf("alert-webhook %s: %w", h.cfg.Webhook, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return !errors.Is(err, context.Canceled), fmt.Errorf("alert-webhook %s: %w", h.cfg.Webhook, err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return true, fmt.Errorf("alert-webhook %s: %s", h.cfg.Webhook, resp.Status)
	default:
		return false, fmt.Errorf("alert-webhook %s: %s (not retried)", h.cfg.Webhook, resp.Status)
	}
}
