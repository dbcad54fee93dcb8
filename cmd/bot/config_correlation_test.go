package main

import (
	"strings"
	"testing"
	"time"
)

func TestCorrelationSettings(t *testing.T) {
	cfg, _, ps := Load(good, needs{slack: true, tenants: true})
	if ps.Err() != nil || cfg.Correlation.window != 7*24*time.Hour || cfg.Correlation.groupMin != 3 {
		t.Fatalf("defaults %+v %v", cfg.Correlation, ps.Err())
	}
	for in, want := range map[string]time.Duration{"36h": 36 * time.Hour, "2w": 14 * 24 * time.Hour, "1d": 24 * time.Hour, "90d": 90 * 24 * time.Hour} {
		cfg, _, ps := Load(with(good, "CORRELATION_WINDOW="+in, "DIGEST_GROUP_MIN=0"), needs{slack: true, tenants: true})
		if ps.Err() != nil || cfg.Correlation.window != want || cfg.Correlation.groupMin != 0 {
			t.Errorf("%s: %+v %v", in, cfg.Correlation, ps.Err())
		}
	}
	for _, bad := range [][2]string{
		{"CORRELATION_WINDOW=soon", "CORRELATION_WINDOW must be from 1h to 90d"},
		{"CORRELATION_WINDOW=10m", "CORRELATION_WINDOW must be from 1h to 90d"},
		{"CORRELATION_WINDOW=91d", "CORRELATION_WINDOW must be from 1h to 90d"},
		{"DIGEST_GROUP_MIN=1", "DIGEST_GROUP_MIN must be 0 (no grouping) or from 2 to 1000, not \"1\""},
		{"DIGEST_GROUP_MIN=-3", "DIGEST_GROUP_MIN must be 0"},
		{"DIGEST_GROUP_MIN=many", "DIGEST_GROUP_MIN must be 0"},
	} {
		_, _, ps := Load(with(good, bad[0]), needs{slack: true, tenants: true})
		if err := ps.Err(); err == nil || !strings.Contains(err.Error(), bad[1]) {
			t.Errorf("%s: %v", bad[0], err)
		}
	}
}
