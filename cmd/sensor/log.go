package main

import (
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/synscope/synscope/pkg/config"
	"github.com/synscope/synscope/pkg/lifecycle"
)

// newLogger writes diagnostics to stderr: human-readable on a terminal
// (or with --log-format console), JSON otherwise.
func newLogger(cfg *config.Config, stderr io.Writer) zerolog.Logger {
	return logger(cfg.LogLevel, cfg.LogFormat, stderr)
}

// logger is the logger for a level and format (sensor collect has its own
// configuration).
func logger(lvl, format string, stderr io.Writer) zerolog.Logger {
	return loggerTo(lvl, consoleLogs(format, stderr), isTerminal(stderr), stderr)
}

// consoleLogs says whether a --log-format means human-readable lines on
// this stderr.
func consoleLogs(format string, stderr io.Writer) bool {
	return format == "console" || (format == "auto" && isTerminal(stderr))
}

// loggerTo writes console lines (in colour on a terminal) or JSON to w.
func loggerTo(lvl string, console, terminal bool, w io.Writer) zerolog.Logger {
	level, err := zerolog.ParseLevel(lvl)
	if err != nil {
		level = zerolog.InfoLevel
	}
	if console {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !terminal}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// runLog backs the run's Log with the logger: the same typed fields, at
// the same levels.
func runLog(log zerolog.Logger) lifecycle.Log {
	return func(level lifecycle.Level, err error, msg string, fields ...any) {
		zl := zerolog.InfoLevel
		switch level {
		case lifecycle.Warn:
			zl = zerolog.WarnLevel
		case lifecycle.Error:
			zl = zerolog.ErrorLevel
		}
		log.WithLevel(zl).Err(err).Fields(fields).Msg(msg)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// version is the module version when built from a tagged module, else the
// VCS revision, else "devel".
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "devel-" + s.Value[:12]
		}
	}
	return "devel"
}
