package store

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// Monitor pings the store and remembers whether it is reachable, logging
// each change, for /readyz and the logs.
type Monitor struct {
	Store    Store
	Interval time.Duration // default 10s
	Logger   *slog.Logger
	// OnChange, when set, is told of every change.
	OnChange func(up bool)

	up      atomic.Bool
	checked atomic.Bool
}

// Healthy reports the last ping's result (true before the first).
func (m *Monitor) Healthy() bool { return !m.checked.Load() || m.up.Load() }

// Check pings once and records the result.
func (m *Monitor) Check(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err := m.Store.Ping(ctx)
	up := err == nil
	first := !m.checked.Swap(true)
	if was := m.up.Swap(up); first || was != up {
		log := m.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		switch {
		case up && !first:
			log.Info("state store reachable again")
		case !up:
			log.Error("state store unreachable: commands keep working, filing Jira issues and digests wait", "error", err)
		}
		if m.OnChange != nil {
			m.OnChange(up)
		}
	}
	return up
}

// Run checks until ctx is done.
func (m *Monitor) Run(ctx context.Context) {
	every := m.Interval
	if every <= 0 {
		every = 10 * time.Second
	}
	m.Check(ctx)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Check(ctx)
		}
	}
}
