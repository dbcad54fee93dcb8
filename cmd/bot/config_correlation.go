package main

import (
	"regexp"
	"strconv"
	"time"
)

// correlationEnv is related alerts across tenants and grouped repeats in the
// digest (issue #11).
type correlationEnv struct {
	Window   string `env:"CORRELATION_WINDOW" envDefault:"7d"`
	GroupMin string `env:"DIGEST_GROUP_MIN" envDefault:"3"`

	// Parsed.
	window   time.Duration
	groupMin int
}

var daysRE = regexp.MustCompile(`^(\d{1,3})([dw])$`)

// parseWindow reads a Go duration (36h) or days and weeks (7d, 2w).
func parseWindow(s string) (time.Duration, error) {
	if m := daysRE.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		unit := 24 * time.Hour
		if m[2] == "w" {
			unit *= 7
		}
		return time.Duration(n) * unit, nil
	}
	return time.ParseDuration(s)
}

func validateCorrelation(cfg *Config, fatal, _ func(string, ...any)) {
	c := &cfg.Correlation
	d, err := parseWindow(c.Window)
	if err != nil || d < time.Hour || d > 90*24*time.Hour {
		fatal("CORRELATION_WINDOW must be from 1h to 90d (like 7d, 2w or 36h), not %q", c.Window)
	}
	c.window = d
	n, err := strconv.Atoi(c.GroupMin)
	if err != nil || (n != 0 && (n < 2 || n > 1000)) {
		fatal("DIGEST_GROUP_MIN must be 0 (no grouping) or from 2 to 1000, not %q", c.GroupMin)
	}
	c.groupMin = n
}
