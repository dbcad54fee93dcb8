package main

import "time"

// busyConfig is how mcasbot copes with a busy SOC (issue #10): shared
// answers, a reply deadline, one request budget for every replica.
type busyConfig struct {
	QueryCacheTTL time.Duration `env:"QUERY_CACHE_TTL" envDefault:"60s"`
	ReplyDeadline time.Duration `env:"REPLY_DEADLINE" envDefault:"8s"`
	Replicas      int           `env:"MCAS_REPLICAS" envDefault:"2"`
	// TenantCooldown is how long a tenant whose call timed out is skipped
	// by commands, on this replica (issue #16); 0 turns it off.
	TenantCooldown time.Duration `env:"TENANT_COOLDOWN" envDefault:"30s"`
	// FanoutConcurrency bounds the tenant calls in flight for one question
	// (issue #18); each tenant's own calls stay bounded by WORKERS.
	FanoutConcurrency int `env:"FANOUT_CONCURRENCY" envDefault:"128"`
}

func validateBusy(cfg *Config, fatal, warn func(string, ...any)) {
	b := cfg.Busy
	if b.QueryCacheTTL < 0 || b.QueryCacheTTL > time.Hour {
		fatal("QUERY_CACHE_TTL must be from 0 (off) to 1h, not %s", b.QueryCacheTTL)
	}
	switch {
	case b.ReplyDeadline < time.Second || b.ReplyDeadline > time.Minute:
		fatal("REPLY_DEADLINE must be from 1s to 1m, not %s", b.ReplyDeadline)
	case b.ReplyDeadline >= cfg.CommandTimout:
		warn("REPLY_DEADLINE (%s) is not shorter than COMMAND_TIMEOUT (%s): a slow tenant keeps the others' answers waiting", b.ReplyDeadline, cfg.CommandTimout)
	}
	if b.TenantCooldown < 0 || b.TenantCooldown > 10*time.Minute {
		fatal("TENANT_COOLDOWN must be from 0 (off) to 10m: how long commands skip a tenant that timed out, not %s", b.TenantCooldown)
	}
	if b.FanoutConcurrency < 1 || b.FanoutConcurrency > 1000 {
		fatal("FANOUT_CONCURRENCY must be from 1 to 1000: how many tenants one question asks at a time, not %d", b.FanoutConcurrency)
	}
	if b.Replicas < 1 || b.Replicas > 10 {
		fatal("MCAS_REPLICAS must be from 1 to 10 (Slack allows 10 connections), not %d", b.Replicas)
	}
}

// fallbackBudget is a replica's share of a tenant's budget while the
// shared one cannot be reached.
func (c *Config) fallbackBudget() int { return max(1, c.MCASRate/c.Busy.Replicas) }
