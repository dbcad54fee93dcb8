package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/soc/mcasbot/ops"
	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/store"
)

// Bounded state (issue #19): the daily prune, `bot prune`, and the
// store's size in `bot check`.

// retention builds the prune of the state store; m may be nil.
func (a *app) retention(m *ops.Metrics) *schedule.Retention {
	c := a.cfg
	r := &schedule.Retention{Store: a.store, Keep: c.Retention.keep, ReportPeriod: c.Report.period,
		CorrelationWindow: c.Correlation.window, Logger: a.logger}
	if c.SyncEnabled() {
		r.SyncDays = c.JiraSync.Days
	}
	if m != nil {
		r.OnPruned = func(table string, n int64) { m.Pruned.WithLabelValues(table).Add(float64(n)) }
		r.OnSize = func(s store.StoreSize) { m.SetStoreSize(s.Rows, s.Bytes) }
	}
	return r
}

// startRetention counts the store's rows now and prunes it once a day (one
// replica a day); stop waits for a running prune.
func (a *app) startRetention(ctx context.Context, m *ops.Metrics) (stop func()) {
	r := a.retention(m)
	go func() {
		if _, err := r.RefreshSize(ctx); err != nil && ctx.Err() == nil {
			a.logger.Warn("could not count the state store's rows", "error", err)
		}
	}()
	j, err := r.Job(a.cfg.DigestTimezone, schedule.DefaultOwner(), func(o string) { m.PruneRuns.WithLabelValues(o).Inc() })
	if err != nil {
		a.logger.Error("cannot schedule the state prune", "error", err)
		return func() {}
	}
	j.Start(ctx)
	return j.Stop
}

// pruneCmd prunes the state store now, or with --dry-run says what would
// go, table by table.
func pruneCmd(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) int {
	fs := flag.NewFlagSet("prune", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dry := fs.Bool("dry-run", false, "count what would be pruned; delete nothing")
	pause := fs.Duration("pause", -1, "wait between batches (default: 100ms on SQLite, where a running bot is another process waiting for the lock; 0 on PostgreSQL)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg, tenants, _, ok := loadOrExplain(environ, needs{}, stderr)
	if !ok {
		return exitUsage
	}
	logger := newLogger(stderr, cfg.LogLevel, cfg.LogFormat, secretsOf(cfg, tenants))
	kind := store.Kind(cfg.DatabaseURL.Reveal())
	st, err := store.Open(ctx, cfg.DatabaseURL.Reveal())
	if err != nil {
		fmt.Fprintf(stderr, "state store %s: %v\n", kind, err)
		return exitUpstream
	}
	defer st.Close()
	a := &app{cfg: cfg, store: st, logger: logger}
	r := a.retention(nil)
	r.Options.Pause = *pause
	if *pause < 0 {
		r.Options.Pause = 0
		if strings.HasPrefix(kind, "sqlite") {
			r.Options.Pause = 100 * time.Millisecond
		}
	}
	rep, err := r.Run(ctx, *dry)
	verb := "pruned"
	if *dry {
		verb = "would prune (dry run, nothing deleted)"
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, t := range store.Tables {
		if n := rep.Pruned[t]; n > 0 {
			fmt.Fprintf(tw, "%s\t%d\t\n", t, n)
		}
	}
	_ = tw.Flush()
	fmt.Fprintf(stderr, "%s: %s %d rows older than %s in %d batches (longest %s) in %s\n", kind, verb, rep.Total(), cutoffOf(cfg, rep.Cutoff),
		rep.Batches, rep.Longest.Round(time.Millisecond), rep.Took.Round(time.Millisecond))
	if !*dry {
		outcome := "pruned"
		if err != nil {
			outcome = "stopped"
		}
		logger.Info("audit: state pruned by bot prune", "rows", rep.Total(), "cutoff", rep.Cutoff, "outcome", outcome)
	}
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return exitUpstream
	}
	if size, err := st.Size(ctx); err == nil {
		fmt.Fprintln(stderr, "now", sizeLine(size))
	}
	return exitOK
}

func cutoffOf(cfg *Config, cut time.Time) string {
	if cut.IsZero() {
		return "their expiry (STATE_RETENTION=0 keeps history)"
	}
	return fmt.Sprintf("%s (STATE_RETENTION=%s, the report's two periods kept)", cut.Format(time.RFC3339), cfg.Retention.Retention)
}

// checkStoreSize adds the store's size to `bot check`, in one line.
func checkStoreSize(ctx context.Context, cfg *Config, st store.Store, add adder) {
	size, err := st.Size(ctx)
	if err != nil {
		add("store", fail, "counting rows: %v", err)
		return
	}
	keep := "history kept forever (STATE_RETENTION=0)"
	if cfg.Retention.keep > 0 {
		keep = "pruned daily of what is older than " + days(cfg.Retention.keep)
	}
	add("store", pass, "%s; %s", sizeLine(size), keep)
}

// sizeLine is "1200 rows (posted_alerts 900, …), 1.2 MB": the tables
// that have rows, in Tables order.
func sizeLine(s store.StoreSize) string {
	var parts []string
	for _, t := range store.Tables {
		if n := s.Rows[t]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", t, n))
		}
	}
	line := fmt.Sprintf("%d rows", s.Total())
	if len(parts) > 0 {
		line += " (" + strings.Join(parts, ", ") + ")"
	}
	if s.Bytes > 0 {
		line += ", " + humanBytes(s.Bytes)
	}
	return line
}

func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %cB", v, "kMGTP"[i-1])
}
