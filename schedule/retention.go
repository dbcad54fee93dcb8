package schedule

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/soc/mcasbot/report"
	"github.com/soc/mcasbot/store"
)

// Retention keeps the state store bounded (STATE_RETENTION, issue #19):
// once a day one replica prunes what is older than the retention, keeping
// what the report, the Jira sync and correlation still read (see
// store/retention.go for what goes and what stays).
type Retention struct {
	Store store.Store
	// Keep is how long history is kept; 0 keeps it forever (expired runs,
	// leases, budget slots and cache entries still go).
	Keep time.Duration
	// What the other jobs read: the report's period (it compares it with
	// the one before; default 7 days), the Jira sync's days (0 when the
	// sync is off) and the correlation window.
	ReportPeriod      time.Duration
	SyncDays          int
	CorrelationWindow time.Duration
	// Options tune the batches (DryRun is Run's to set).
	Options store.PruneOptions
	Now     func() time.Time
	Logger  *slog.Logger
	// OnPruned, when set, is told of the rows each prune took per table;
	// OnSize of the store's size after each prune and RefreshSize.
	OnPruned func(table string, rows int64)
	OnSize   func(store.StoreSize)
}

// PruneSchedule is when the retention runs: daily at 03:17 in
// DIGEST_TIMEZONE, off the hour the other jobs like.
const PruneSchedule = "17 3 * * *"

// pruneLease bounds a prune run: a first prune of a large store takes
// minutes.
const pruneLease = 2 * time.Hour

// ReportLookback is how far back a report of period reads: its period and
// the one before, ending at the start of today.
func ReportLookback(period time.Duration) time.Duration {
	from, to := report.Window(time.Unix(0, 0), period)
	return 2 * to.Sub(from)
}

// Rules are where history is cut at now, and what stays anyway.
func (r *Retention) Rules(now time.Time) (before time.Time, keep store.KeepRules) {
	period := r.ReportPeriod
	if period <= 0 {
		period = 7 * 24 * time.Hour
	}
	from, to := report.Window(now, period)
	keep.ReportSince = from.Add(-to.Sub(from))
	if r.SyncDays > 0 {
		keep.TrackSince = now.AddDate(0, 0, -r.SyncDays)
	}
	if r.CorrelationWindow > 0 {
		keep.CorrelationSince = now.Add(-r.CorrelationWindow)
	}
	if r.Keep > 0 {
		before = now.Add(-r.Keep)
	}
	return before, keep
}

// Run prunes now (a dry run counts and deletes nothing), logs what it
// pruned per table, and refreshes the store's size.
func (r *Retention) Run(ctx context.Context, dryRun bool) (store.PruneReport, error) {
	r.defaults()
	before, keep := r.Rules(r.Now())
	o := r.Options
	o.DryRun = dryRun
	rep, err := r.Store.Prune(ctx, before, keep, o)
	msg := "state pruned"
	if dryRun {
		msg = "state prune dry run: nothing deleted"
	}
	attrs := []any{"retention", keepText(r.Keep), "cutoff", cutoff(rep.Cutoff), "rows", rep.Total(), "batches", rep.Batches,
		"longest_batch", rep.Longest.Round(time.Millisecond), "took", rep.Took.Round(time.Millisecond)}
	for _, t := range slices.Sorted(maps.Keys(rep.Pruned)) {
		attrs = append(attrs, t, rep.Pruned[t])
	}
	if err != nil {
		// What went before the error is gone: counted and logged.
		r.Logger.Error("state prune stopped; the next one carries on", append(attrs, "error", err)...)
	} else {
		r.Logger.Info(msg, attrs...)
	}
	if !dryRun && r.OnPruned != nil {
		for t, n := range rep.Pruned {
			r.OnPruned(t, n)
		}
	}
	if !dryRun && ctx.Err() == nil {
		if _, serr := r.RefreshSize(ctx); serr != nil {
			r.Logger.Warn("could not count the store's rows after pruning", "error", serr)
		}
	}
	return rep, err
}

// RefreshSize counts the store's rows and tells OnSize.
func (r *Retention) RefreshSize(ctx context.Context) (store.StoreSize, error) {
	size, err := r.Store.Size(ctx)
	if err == nil && r.OnSize != nil {
		r.OnSize(size)
	}
	return size, err
}

// Job schedules Run once a day on PruneSchedule in time zone tz, by one
// replica per day (the store's run claims).
func (r *Retention) Job(tz, owner string, onRun func(outcome string)) (*SlotJob, error) {
	r.defaults()
	return NewSlotJob(&SlotJob{Name: "prune", Store: r.Store, Owner: owner, Lease: pruneLease, Logger: r.Logger, OnRun: onRun,
		Run: func(ctx context.Context, _ time.Time) (string, error) {
			if _, err := r.Run(ctx, false); err != nil {
				return "failed", err
			}
			return "ok", nil
		}}, PruneSchedule, tz)
}

func (r *Retention) defaults() {
	if r.Now == nil {
		r.Now = func() time.Time { return time.Now().UTC() }
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
}

func keepText(d time.Duration) string {
	switch {
	case d <= 0:
		return "forever"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

func cutoff(t time.Time) string {
	if t.IsZero() {
		return "none (history kept)"
	}
	return t.Format(time.RFC3339)
}
