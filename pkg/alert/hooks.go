package alert

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
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
	// Wait: Send waits for room in a hook's queue instead of dropping the
	// alert (an offline run: a file waits; each delivery is bounded by
	// Timeout and Attempts), for WaitBudget in all at most, and not after
	// StopWaiting. A live sensor never waits.
	Wait       bool
	WaitBudget time.Duration
}

// waitBudget is how long an offline run's Send may wait for hooks in all,
// by default: a hook that hangs (10 s an alert) held a capture of 156
// alerts for a quarter of an hour, and a signal did not cut it short.
const waitBudget = time.Minute

// DefaultConfig bounds deliveries as documented.
func DefaultConfig() Config {
	return Config{Timeout: 10 * time.Second, Attempts: 3, Backoff: time.Second}
}

// CheckWebhook refuses a URL that is not http(s)://host/... Its error
// does not quote the URL: its user, password, path and query may be
// secrets, and the error goes to the log (a review: a bad escape printed
// the password at start).
func CheckWebhook(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL that can be parsed: %s (give http://host[:port]/path or https://...)", urlProblem(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("the scheme %q is not http or https (give http://host[:port]/path or https://...)", u.Scheme)
	}
	if u.Hostname() == "" {
		return errors.New("the URL names no host (give http://host[:port]/path or https://...)")
	}
	if port := u.Port(); port != "" {
		// (one out of range was taken, and every delivery failed: a review)
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return errors.New("the URL's port is not a number from 1 to 65535 (give http://host[:port]/path or https://...)")
		}
	}
	return nil
}

// urlProblem says what is wrong with a URL url.Parse refused, without
// its parts: the parser's own message quotes them (a password with a '/'
// was read as the port: `invalid port ":S3cret" after host`, a review).
func urlProblem(err error) string {
	var esc url.EscapeError
	var host url.InvalidHostError
	var m string
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		m = ue.Err.Error()
	}
	switch {
	case errors.As(err, &esc):
		return "a bad %-escape"
	case errors.As(err, &host):
		return "a character a host name cannot hold"
	case strings.HasPrefix(m, "invalid port"):
		return "what follows the host is not a port (a '/', '?', '#' or '@' in the user or password must be %-escaped)"
	case strings.Contains(m, "userinfo"):
		return "a character the user or password cannot hold (%-escape it)"
	case strings.Contains(m, "control character"):
		return "a control character"
	case strings.Contains(m, "missing protocol scheme"):
		return "no scheme"
	}
	return "malformed"
}

// queueLen bounds the alerts waiting for delivery, per hook.
const queueLen = 64

// Hooks delivers alerts. Start it with Start, feed it with Send, and end
// it with Close. Each hook has its own queue and goroutine: a webhook that
// never answers (33 s an alert with its retries) must not hold up the
// program, nor the program the webhook.
type Hooks struct {
	cfg    Config
	where  string // the webhook's scheme and host, for messages: its user, password, path and query may be secrets
	sinks  []*sink
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
	closed bool // the queues are closed: Send drops (Send and Close are the run's, on one goroutine)
	// waited is what Send has waited so far (Wait); stopWait, closed by
	// StopWaiting, ends waiting.
	waited   time.Duration
	stopWait chan struct{}
	stopOnce sync.Once

	// groups: the process groups of programs that exited while a child of
	// theirs may still run (sent to the background), each killed at its
	// program's timeout, and at Close at the latest.
	groupsMu sync.Mutex
	groups   map[int]*time.Timer

	Sent      atomic.Uint64 // deliveries asked for (one per hook and alert)
	Dropped   atomic.Uint64 // alerts a hook dropped because its queue was full
	Delivered atomic.Uint64 // deliveries that succeeded (one per hook and alert)
	Failed    atomic.Uint64 // deliveries that failed for good
	Abandoned atomic.Uint64 // deliveries not tried, or cut off: the run ended and Close's wait was over
}

// sink is one hook's queue and what delivers from it.
type sink struct {
	name    string
	q       chan []byte
	done    chan struct{}
	deliver func([]byte) error
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
	h := &Hooks{cfg: cfg, client: &http.Client{
		Timeout: cfg.Timeout,
		// A redirect would turn the POST into a GET without the alert
		// (301 to 303), and its 200 count as delivered: the URL to
		// configure is the one it points to.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	h.where = cfg.Webhook
	if u, err := url.Parse(cfg.Webhook); err == nil {
		h.where = u.Scheme + "://" + u.Host
	}
	if cfg.WaitBudget <= 0 {
		cfg.WaitBudget = waitBudget
	}
	h.cfg.WaitBudget = cfg.WaitBudget
	h.stopWait = make(chan struct{})
	h.ctx, h.cancel = context.WithCancel(context.Background())
	if cfg.Exec != "" {
		h.sinks = append(h.sinks, &sink{name: "alert-exec", deliver: h.exec})
	}
	if cfg.Webhook != "" {
		h.sinks = append(h.sinks, &sink{name: "alert-webhook", deliver: h.post})
	}
	for _, k := range h.sinks {
		k.q, k.done = make(chan []byte, queueLen), make(chan struct{})
		go h.run(k)
	}
	return h
}

// Send queues a copy of one alert's JSON line for each hook; it never
// blocks, unless the hooks wait (Config.Wait: an offline run, whose hooks
// dropped 87 of 156 alerts, the growth alert among them, when they came
// faster than a program ran; review).
func (h *Hooks) Send(line []byte) {
	if h == nil {
		return
	}
	line = bytes.Clone(line) // the hooks only read it
	for _, k := range h.sinks {
		h.Sent.Add(1)
		if h.closed {
			// An alert after the end's wait (none is written then):
			// dropped and counted, not a send on a closed queue.
			h.Abandoned.Add(1)
			continue
		}
		select {
		case k.q <- line:
			continue
		default:
		}
		if h.cfg.Wait && h.waited < h.cfg.WaitBudget {
			start := time.Now()
			t := time.NewTimer(h.cfg.WaitBudget - h.waited)
			select {
			case k.q <- line:
			case <-h.stopWait:
				h.Dropped.Add(1)
			case <-t.C:
				h.Dropped.Add(1)
			}
			t.Stop()
			h.waited += time.Since(start)
			continue
		}
		h.Dropped.Add(1)
	}
}

// StopWaiting makes Send drop, as a live sensor's does, what finds a queue
// full (the run was interrupted). Safe from any goroutine.
func (h *Hooks) StopWaiting() {
	if h != nil {
		h.stopOnce.Do(func() { close(h.stopWait) })
	}
}

// Close delivers what is queued, waiting at most wait, then abandons the
// rest (a running program is killed, a POST cancelled).
func (h *Hooks) Close(wait time.Duration) { h.CloseBy(context.Background(), wait, wait) }

// CloseBy is Close, whose wait ctx's end (a signal) cuts to at most cut
// more: a signal that came after the last packet, while the run waited
// for a slow hook, was not heard until the whole wait was over (a review:
// 13.5 s, and exit status 0).
func (h *Hooks) CloseBy(ctx context.Context, wait, cut time.Duration) {
	if h == nil {
		return
	}
	h.once.Do(func() {
		h.closed = true
		for _, k := range h.sinks {
			close(k.q)
		}
	})
	deadline := time.Now().Add(wait)
	end := time.NewTimer(wait)
	defer end.Stop()
	stop := ctx.Done()
	for _, k := range h.sinks {
	waiting:
		for {
			select {
			case <-k.done:
				break waiting
			case <-end.C:
				h.cancel()
				<-k.done
				break waiting
			case <-stop:
				stop = nil
				if time.Until(deadline) > cut {
					deadline = time.Now().Add(cut)
					end.Reset(cut)
				}
			}
		}
	}
	h.cancel()
	h.reapAll()
}

func (h *Hooks) run(k *sink) {
	defer close(k.done)
	for line := range k.q {
		if h.ctx.Err() != nil {
			h.Abandoned.Add(1) // counted, not a line each in the log
			continue
		}
		err := k.deliver(line)
		if err != nil && h.ctx.Err() != nil {
			// Cut off by the end of the run (Close's wait was over), not
			// failed: counted as those not tried (a review: each was
			// counted failed and logged as "context canceled").
			h.Abandoned.Add(1)
			continue
		}
		h.result(err, k.name)
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
// the timeout with its process group (what it started, unless a child
// left the group: setsid makes a daemon the program owns). What it
// prints is kept, its last execKeep bytes, for the message when it fails;
// the rest is read and dropped (a program that prints without end cannot fill
// the sensor's memory).
func (h *Hooks) exec(line []byte) error {
	ctx, cancel := context.WithTimeout(h.ctx, h.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.cfg.Exec)
	cmd.Stdin = bytes.NewReader(line)
	var out capped
	cmd.Stdout, cmd.Stderr = &out, &out
	ownGroup(cmd)
	cmd.WaitDelay = time.Second // a child that keeps the pipes open cannot hold us
	deadline := time.Now().Add(h.cfg.Timeout)
	err := cmd.Run()
	if cmd.Process != nil && groupAlive(cmd.Process.Pid) {
		// A child it sent to the background: killed at its deadline (at
		// once when that has passed: the timeout fell in WaitDelay).
		if time.Now().Before(deadline) {
			h.reapAt(cmd.Process.Pid, deadline)
		} else {
			killGroup(cmd.Process.Pid)
		}
	}
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("alert-exec %s: killed after %v", h.cfg.Exec, h.cfg.Timeout)
	}
	if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success() {
		// It exited 0 and left a child holding its output (a notifier
		// sent to the background): delivered.
		return nil
	}
	if err != nil {
		// The end of what it wrote: where a program says why it failed.
		msg := bytes.TrimSpace(out.b[max(0, len(out.b)-execSay):])
		if len(msg) == 0 {
			return fmt.Errorf("alert-exec %s: %w", h.cfg.Exec, err)
		}
		return fmt.Errorf("alert-exec %s: %w: %s", h.cfg.Exec, err, msg)
	}
	return nil
}

// reapAt kills, at deadline, what is left of the process group of a
// program that exited: a child it sent to the background (sleep 777 &)
// outlived the sensor, one more every alert (a review). Only a group that
// had members when the program exited is reaped: an empty one's number is
// free, and a process that took it would be killed (once its last member
// is gone, the same holds until the deadline: a narrow window, left).
func (h *Hooks) reapAt(pid int, deadline time.Time) {
	h.groupsMu.Lock()
	defer h.groupsMu.Unlock()
	if h.groups == nil {
		h.groups = map[int]*time.Timer{}
	}
	if t := h.groups[pid]; t != nil {
		t.Stop()
	}
	var t *time.Timer
	t = time.AfterFunc(time.Until(deadline), func() {
		h.groupsMu.Lock()
		defer h.groupsMu.Unlock()
		if h.groups[pid] == t { // not a later program's of the same pid
			killGroup(pid)
			delete(h.groups, pid)
		}
	})
	h.groups[pid] = t
}

// reapAll kills what is left of every program's group now (the end).
func (h *Hooks) reapAll() {
	h.groupsMu.Lock()
	defer h.groupsMu.Unlock()
	for pid, t := range h.groups {
		t.Stop()
		killGroup(pid)
	}
	h.groups = nil
}

// execKeep bounds what is kept of a program's output, and execSay what
// of it the log says when the program failed.
const (
	execKeep = 4 << 10
	execSay  = 200
)

// capped keeps the last execKeep bytes written to it (at most twice that
// held between trims).
type capped struct{ b []byte }

func (c *capped) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > execKeep {
		p = p[len(p)-execKeep:]
	}
	if len(c.b)+len(p) > 2*execKeep {
		c.b = append(c.b[:0], c.b[len(c.b)-execKeep:]...)
	}
	c.b = append(c.b, p...)
	return n, nil
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
				return fmt.Errorf("%w (abandoned at the end of the run)", err)
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
		return false, fmt.Errorf("alert-webhook %s: %w", h.where, err)
	}
	req.Header.Set("Content-Type", "application/json")
	// The same key on every attempt of one alert: a receiver that took an
	// alert and answered too late (the POST timed out, and was tried
	// again) can tell the second from a new alert.
	sum := sha256.Sum256(line)
	req.Header.Set("Idempotency-Key", hex.EncodeToString(sum[:16]))
	resp, err := h.client.Do(req)
	if err != nil {
		// url.Error names the whole URL: the message says where only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return !errors.Is(err, context.Canceled), fmt.Errorf("alert-webhook %s: %w", h.where, err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return false, fmt.Errorf("alert-webhook %s: %s, redirected (not followed: the alert would be lost on the way); configure the URL it points to (%s)", h.where, resp.Status, h.placeOf(resp.Header.Get("Location")))
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return true, fmt.Errorf("alert-webhook %s: %s", h.where, resp.Status)
	default:
		return false, fmt.Errorf("alert-webhook %s: %s (not retried)", h.where, resp.Status)
	}
}

// placeOf says where a redirect points without its secrets: its scheme
// and host, and whether its path is the configured one (a Slack-style
// token in the path, a key in the query, would be logged otherwise).
func (h *Hooks) placeOf(loc string) string {
	u, err := url.Parse(loc)
	if loc == "" || err != nil {
		return "no usable Location"
	}
	cfg, _ := url.Parse(h.cfg.Webhook)
	if u.Host == "" && cfg != nil {
		u = cfg.ResolveReference(u)
	}
	where := u.Scheme + "://" + u.Host
	switch {
	case cfg != nil && u.Path == cfg.Path:
		return where + ", the same path"
	case u.Path != "" && u.Path != "/":
		return where + ", another path"
	}
	return where
}
