package main

import (
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/synscope/synscope/internal/captest"
)

// TestReportInChromium renders the demo's report in a real browser
// (Debian's chromium, headless): no console message, the rendered page
// holds a bar and a cumulative point per window, and a screenshot is saved
// as a build artifact at artifacts/report-demo.png (or under
// $SYNSCOPE_ARTIFACTS). A control page that logs to the console proves the
// check sees console messages.
func TestReportInChromium(t *testing.T) {
	captest.NeedTools(t, "chromium")
	dir := t.TempDir()
	in, windows := demoJSONL(t, dir)
	html := filepath.Join(dir, "report.html")
	if _, errs, code := sensor(t, "report", "-o", html, in); code != 0 {
		t.Fatalf("report: %d %s", code, errs)
	}
	chromium := func(args ...string) (string, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
			"--user-data-dir=" + filepath.Join(dir, "profile"), "--enable-logging=stderr", "--v=0"}
		cmd := exec.CommandContext(ctx, "chromium", append(base, args...)...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
		}
		return out.String(), errb.String()
	}
	console := regexp.MustCompile(`:CONSOLE[(:][^\n]*`)

	probe := filepath.Join(dir, "probe.html")
	os.WriteFile(probe, []byte(`<!DOCTYPE html><p>probe</p><script>console.error("synscope-probe")</script>`), 0o644)
	if _, logs := chromium("--dump-dom", "file://"+probe); !strings.Contains(strings.Join(console.FindAllString(logs, -1), "\n"), "synscope-probe") {
		t.Fatalf("the console check does not see a console message on the control page:\n%s", logs)
	}

	dom, logs := chromium("--dump-dom", "file://"+html)
	if msgs := console.FindAllString(logs, -1); len(msgs) > 0 {
		t.Errorf("console messages rendering the report:\n%s", strings.Join(msgs, "\n"))
	}
	if got := strings.Count(dom, `class="bar new"`); got != windows {
		t.Errorf("rendered page: %d bars, want one per window (%d)", got, windows)
	}
	m := regexp.MustCompile(`class="series cumulative" data-name="[^"]*" data-points="(\d+)"`).FindStringSubmatch(dom)
	if m == nil || m[1] != strconv.Itoa(windows) {
		t.Errorf("rendered page: cumulative line %v, want %d points", m, windows)
	}
	if n := strings.Count(dom, "<svg "); n != 4 {
		t.Errorf("rendered page: %d charts, want 4", n)
	}

	art := os.Getenv("SYNSCOPE_ARTIFACTS")
	if art == "" {
		art = "../../artifacts"
	}
	if err := os.MkdirAll(art, 0o755); err != nil {
		t.Fatal(err)
	}
	shot, _ := filepath.Abs(filepath.Join(art, "report-demo.png"))
	os.Remove(shot)
	chromium("--window-size=1200,2200", "--screenshot="+shot, "file://"+html)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() != 1200 {
		t.Fatalf("screenshot: %v %v", err, img)
	}
	t.Logf("screenshot: %s", shot)
}
