package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/soc/mcasbot/schedule"
)

// retentionEnv bounds the state store (issue #19).
type retentionEnv struct {
	Retention string `env:"STATE_RETENTION" envDefault:"180d"`

	keep time.Duration // 0: history is kept forever
}

func validateRetention(cfg *Config, fatal, _ func(string, ...any)) {
	r := &cfg.Retention
	s := strings.TrimSpace(r.Retention)
	d, err := parseWindow(s)
	if s == "0" {
		d, err = 0, nil
	}
	if err != nil || d < 0 {
		fatal("STATE_RETENTION must be a number of days like 180d (or weeks like 26w, or hours like 4320h), or 0 to keep everything, not %q", r.Retention)
		return
	}
	// The report compares its period with the one before: both stay. A
	// report period that is itself wrong has been reported already.
	if p := cfg.Report.period; d > 0 && p > 0 {
		if least := schedule.ReportLookback(p) + 24*time.Hour; d < least {
			fatal("STATE_RETENTION must be 0 (keep everything) or at least %s, so the report keeps its period (REPORT_PERIOD %s) and the one it compares with; not %q",
				days(least), days(p), r.Retention)
			return
		}
	}
	r.keep = d
}

// days writes whole days as "15d", anything else as a duration.
func days(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
