package main

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
)

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("unknown level %q (debug, info, warn, error)", s)
	}
	return l, nil
}

// newLogger builds the process logger. Every value is checked against the
// configured secrets and redacted, so a token that slips into an error
// message from a library still never reaches the log.
func newLogger(w io.Writer, level, format string, secrets []string) *slog.Logger {
	return newRedactingLogger(w, level, format, newRedactor(secrets))
}

// redactor holds the secrets to keep out of the log; a reload of the
// tenants file adds the new tenants'.
type redactor struct{ list atomic.Pointer[[]string] }

func newRedactor(secrets []string) *redactor {
	r := &redactor{}
	r.list.Store(&[]string{})
	r.Add(secrets...)
	return r
}

// Add hides these secrets too (those shorter than 6 characters are not
// worth hiding: they would blank common words).
func (r *redactor) Add(secrets ...string) {
	keep := slices.Clone(*r.list.Load())
	for _, s := range secrets {
		if len(s) >= 6 && !slices.Contains(keep, s) {
			keep = append(keep, s)
		}
	}
	r.list.Store(&keep)
}

// Redact replaces every secret in s.
func (r *redactor) Redact(s string) string { return redact(s, *r.list.Load()) }

// newRedactingLogger is newLogger with secrets that may grow.
func newRedactingLogger(w io.Writer, level, format string, secrets *redactor) *slog.Logger {
	lvl, _ := parseLevel(level)
	opts := &slog.HandlerOptions{Level: lvl, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		keep := *secrets.list.Load()
		if len(keep) == 0 {
			return a
		}
		var s string
		switch a.Value.Kind() {
		case slog.KindString:
			s = a.Value.String()
		case slog.KindAny:
			s = fmt.Sprint(a.Value.Any())
		default:
			return a
		}
		if r := redact(s, keep); r != s {
			return slog.String(a.Key, r)
		}
		return a
	}}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(h)
}

func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}
