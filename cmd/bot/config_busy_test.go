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
	if cfg.Busy.QueryCacheTTL != time.Minute || cfg.Busy.ReplyDeadline != 8*time.Second || cfg.Busy.Replicas != 2 || cfg.fallbackBudget() != 12 ||
		cfg.Busy.TenantCooldown != 30*time.Second || cfg.Busy.FanoutConcurrency != 128 {
		t.Fatalf("defaults %+v, fallback %d", cfg.Busy, cfg.fallbackBudget())
	}
	cfg, _, ps = Load(with(good, "QUERY_CACHE_TTL=0", "MCAS_REPLICAS=30", "MCAS_REQUESTS_PER_MINUTE=20"), needs{slack: true, tenants: true})
	if cfg.Busy.QueryCacheTTL != 0 || ps.Err() == nil || !strings.Contains(ps.Err().Error(), "MCAS_REPLICAS must be from 1 to 10") {
		t.Fatalf("%+v %v", cfg.Busy, ps.Err())
	}
	for env, want := range map[string]string{
		"QUERY_CACHE_TTL=2h":      "QUERY_CACHE_TTL must be from 0 (off) to 1h",
		"QUERY_CACHE_TTL=-1s":     "QUERY_CACHE_TTL must be from 0 (off) to 1h",
		"REPLY_DEADLINE=10ms":     "REPLY_DEADLINE must be from 1s to 1m",
		"TENANT_COOLDOWN=11m":     "TENANT_COOLDOWN must be from 0 (off) to 10m: how long commands skip a tenant that timed out, not 11m0s",
		"TENANT_COOLDOWN=-1s":     "TENANT_COOLDOWN must be from 0 (off) to 10m",
		"FANOUT_CONCURRENCY=0":    "FANOUT_CONCURRENCY must be from 1 to 1000: how many tenants one question asks at a time, not 0",
		"FANOUT_CONCURRENCY=1001": "FANOUT_CONCURRENCY must be from 1 to 1000",
		"FANOUT_CONCURRENCY=many": "FANOUT_CONCURRENCY",
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

func TestTenantCooldownCanBeTurnedOff(t *testing.T) {
	for env, want := range map[string]time.Duration{"TENANT_COOLDOWN=0": 0, "TENANT_COOLDOWN=10m": 10 * time.Minute, "TENANT_COOLDOWN=45s": 45 * time.Second} {
		cfg, _, ps := Load(with(good, env), needs{slack: true, tenants: true})
		if err := ps.Err(); err != nil || cfg.Busy.TenantCooldown != want {
			t.Errorf("%s: %s, %v", env, cfg.Busy.TenantCooldown, err)
		}
	}
}

func TestFanoutConcurrencyIsRead(t *testing.T) {
	for env, want := range map[string]int{"FANOUT_CONCURRENCY=1": 1, "FANOUT_CONCURRENCY=1000": 1000, "FANOUT_CONCURRENCY=256": 256} {
		cfg, _, ps := Load(with(good, env), needs{slack: true, tenants: true})
		if err := ps.Err(); err != nil || cfg.Busy.FanoutConcurrency != want {
			t.Errorf("%s: %d, %v", env, cfg.Busy.FanoutConcurrency, err)
		}
	}
}
