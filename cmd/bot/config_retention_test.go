package main

import (
	"strings"
	"testing"
	"time"
)

func TestRetentionSetting(t *testing.T) {
	cfg, _, ps := Load(good, needs{slack: true, tenants: true})
	if ps.Err() != nil || cfg.Retention.keep != 180*24*time.Hour {
		t.Fatalf("default %+v %v", cfg.Retention, ps.Err())
	}
	for _, tc := range []struct {
		env  []string
		want time.Duration
	}{
		{[]string{"STATE_RETENTION=90d"}, 90 * 24 * time.Hour},
		{[]string{"STATE_RETENTION=26w"}, 26 * 7 * 24 * time.Hour},
		{[]string{"STATE_RETENTION=4320h"}, 4320 * time.Hour},
		{[]string{"STATE_RETENTION=0"}, 0},
		{[]string{"STATE_RETENTION=0d"}, 0},
		// The shortest: a weekly report and the week before, and today.
		{[]string{"STATE_RETENTION=15d"}, 15 * 24 * time.Hour},
		{[]string{"STATE_RETENTION=61d", "REPORT_PERIOD=30d"}, 61 * 24 * time.Hour},
	} {
		cfg, _, ps := Load(with(good, tc.env...), needs{slack: true, tenants: true})
		if ps.Err() != nil || cfg.Retention.keep != tc.want {
			t.Errorf("%v: %v %v", tc.env, cfg.Retention.keep, ps.Err())
		}
	}
	for _, bad := range []struct {
		env  []string
		want string
	}{
		{[]string{"STATE_RETENTION=14d"}, `STATE_RETENTION must be 0 (keep everything) or at least 15d, so the report keeps its period (REPORT_PERIOD 7d) and the one it compares with; not "14d"`},
		{[]string{"STATE_RETENTION=45d", "REPORT_PERIOD=30d"}, "at least 61d, so the report keeps its period (REPORT_PERIOD 30d)"},
		{[]string{"STATE_RETENTION=half a year"}, `STATE_RETENTION must be a number of days like 180d (or weeks like 26w, or hours like 4320h), or 0 to keep everything, not "half a year"`},
		{[]string{"STATE_RETENTION=-200h"}, "STATE_RETENTION must be a number of days like 180d"},
		{[]string{"STATE_RETENTION=6mo"}, "STATE_RETENTION must be a number of days like 180d"},
	} {
		_, _, ps := Load(with(good, bad.env...), needs{slack: true, tenants: true})
		if err := ps.Err(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: %v", bad.env, err)
		}
	}
	// A wrong report period is reported once, as itself.
	_, _, ps = Load(with(good, "REPORT_PERIOD=forever"), needs{slack: true, tenants: true})
	if err := ps.Err(); err == nil || strings.Contains(err.Error(), "STATE_RETENTION") {
		t.Errorf("bad period: %v", err)
	}
}
