//go:build unix

package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestConfigFileFromAPipe: a config file given as a pipe (-c <(...), a
// FIFO) is checked as a regular file is. It was read three times, and the
// checks after the first read found it empty: `ports: 0445` from a pipe
// watched port 293, a misspelt key passed unnoticed.
func TestConfigFileFromAPipe(t *testing.T) {
	for body, want := range map[string]string{
		"ports: 0445\n":    "not a plain decimal number",
		"windw: 10m\n":     `unknown key "windw"`,
		"window: [1, 2]\n": "a list, where one value goes",
		"window: 10m\n":    "",
	} {
		fifo := filepath.Join(t.TempDir(), "c.yaml")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Skipf("no FIFO here: %v", err)
		}
		go func() {
			if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
				w.WriteString(body)
				w.Close()
			}
		}()
		c, err := Load([]string{"-r", "a.pcap", "--config", fifo})
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", body, err)
		case want == "" && c.Window.String() != "10m0s":
			t.Errorf("%q: window %v", body, c.Window)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q from a pipe: %v, want %q", body, err, want)
		}
	}
}
