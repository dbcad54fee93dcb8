package main

import (
	"strings"
	"testing"
	"time"
)

func TestBusySettings(t *testing.T) {
	cfg, _, ps := Load(good, needs{slack: true, tenants: true})
	if err := ps.Err(); err != nil {
		t.Fatal(err)
	}
	if cfg.Busy.QueryCacheTTL != time.Minute || cfg.Busy.ReplyDeadline != 8*time.Second || cfg.Busy.Replicas != 2 || cfg.fallbackBudget() != 12 {
		t.Fatalf("defaults %+v, fallback %d", cfg.Busy, cfg.fallbackBudget())
	}
	cfg, _, ps = Load(with(good, "QUERY_CACHE_TTL=0", "MCAS_REPLICAS=30", "MCAS_REQUESTS_PER_MINUTE=20"), needs{slack: true, tenants: true})
	if cfg.Busy.QueryCacheTTL != 0 || ps.Err() == nil || !strings.Contains(ps.Err().Error(), "MCAS_REPLICAS must be from 1 to 10") {
		t.Fatalf("%+v %v", cfg.Busy, ps.Err())
	}
	for env, want := range map[string]string{
		"QUERY_CACHE_TTL=2h":  "QUERY_CACHE_TTL must be from 0 (off) to 1h",
		"QUERY_CACHE_TTL=-1s": "QUERY_CACHE_TTL must be from 0 (off) to 1h",
		"REPLY_DEADLINE=10ms": "REPLY_DEADLINE must be from 1s to 1m",
	} {
		if _, _, ps := Load(with(good, env), needs{slack: true, tenants: true}); ps.Err() == nil || !strings.Contains(ps.Err().Error(), want) {
			t.Errorf("%s: %v", env, ps.Err())
		}
	}
	_, _, ps = Load(with(good, "REPLY_DEADLINE=30s"), needs{slack: true, tenants: true})
	if ps.Err() != nil || len(ps) != 1 || !strings.Contains(ps[0].Msg, "not shorter than COMMAND_TIMEOUT") {
		t.Fatalf("problems %v", ps)
	}
}
