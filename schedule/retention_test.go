package schedule_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/report"
	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/store"
)

// retentionNow is "today" for these tests; any date works.
var retentionNow = time.Date(2031, 3, 10, 9, 0, 0, 0, time.UTC)

type storeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *storeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *storeClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// history opens a store (and a second handle: another replica) holding
// days of digests: each day three alerts posted in one message, one of
// them filed an hour later and one closed two hours later, and a digest
// run over two tenants.
func history(t *testing.T, days int) (store.Store, func() store.Store, *storeClock) {
	t.Helper()
	clk := &storeClock{}
	path := filepath.Join(t.TempDir(), "state.db")
	open := func() store.Store {
		s, err := store.Open(context.Background(), path, store.WithClock(clk.Now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	s := open()
	ctx := context.Background()
	for d := range days {
		day := retentionNow.AddDate(0, 0, -d).Add(-time.Hour)
		ids := []string{fmt.Sprintf("d%d-a", d), fmt.Sprintf("d%d-b", d), fmt.Sprintf("d%d-c", d)}
		var ps []store.Posting
		for i, id := range ids {
			ps = append(ps, store.Posting{Tenant: "contoso", AlertID: id, Channel: "C0DIGEST", TS: fmt.Sprintf("%d.0001", d),
				PostedAt: day, Severity: []string{"high", "medium", "low"}[i], Title: "Impossible travel", User: "carol@contoso.com", AlertTime: day.Add(-time.Hour)})
		}
		must(t, s.MarkPosted(ctx, ps))
		clk.Set(day)
		must(t, s.SaveMessage(ctx, store.MessageRecord{Channel: "C0DIGEST", TS: fmt.Sprintf("%d.0001", d), Body: []byte(`{}`)}))
		must(t, s.RecordDigestRun(ctx, []store.TenantRun{{At: day, Tenant: "contoso"}, {At: day, Tenant: "fabrikam", Failed: d%5 == 0, Reason: "throttled"}}))
		clk.Set(day.Add(time.Hour))
		if c, err := s.ClaimIssue(ctx, "contoso", ids[0], "U0CAROL"); err != nil || !c.Won {
			t.Fatalf("claim: %+v %v", c, err)
		}
		must(t, s.CompleteIssue(ctx, "contoso", ids[0], fmt.Sprintf("SEC-%d", d), ""))
		clk.Set(day.Add(2 * time.Hour))
		cl := store.CloseRecord{Tenant: "contoso", AlertID: ids[1], By: "U0DAVE", ByName: "dave", Classification: "benign"}
		if c, err := s.ClaimClose(ctx, cl); err != nil || !c.Won {
			t.Fatalf("close: %+v %v", c, err)
		}
		must(t, s.CompleteClose(ctx, cl))
	}
	clk.Set(retentionNow)
	return s, open, clk
}

// The report stays exactly as it was whatever the retention: one day
// (shorter than the configuration allows: the store keeps the report's
// two periods anyway) or the shortest the configuration allows, for a
// weekly and a monthly report.
func TestRetentionKeepsWhatTheReportReads(t *testing.T) {
	for _, days := range []int{7, 30} {
		t.Run(fmt.Sprintf("%dd", days), func(t *testing.T) {
			t.Parallel()
			s, _, _ := history(t, 2*days+15)
			period := time.Duration(days) * 24 * time.Hour
			now := func() time.Time { return retentionNow }
			r := &schedule.PeriodicReport{Store: s, Period: period, Now: now}
			from, to := report.Window(retentionNow, period)
			before, err := r.Build(context.Background(), from, to)
			must(t, err)
			if before.Stats.Alerts.Total() == 0 || before.Stats.Filed == 0 || before.Stats.Closes.Total == 0 || before.Stats.PrevAlerts.Total() == 0 {
				t.Fatalf("an empty report proves nothing: %+v", before.Stats)
			}
			for _, keep := range []time.Duration{24 * time.Hour, schedule.ReportLookback(period) + 24*time.Hour} {
				ret := &schedule.Retention{Store: s, Keep: keep, ReportPeriod: period, Now: now}
				if _, err := ret.Run(context.Background(), false); err != nil {
					t.Fatal(err)
				}
				after, err := r.Build(context.Background(), from, to)
				must(t, err)
				if !reflect.DeepEqual(before.Stats, after.Stats) {
					t.Fatalf("keeping %v changed the report:\nbefore %+v\nafter  %+v", keep, before.Stats, after.Stats)
				}
			}
			// What is older than the report's two periods went.
			if sz, _ := s.Size(context.Background()); sz.Rows["posted_alerts"] >= int64(3*(2*days+15)) || sz.Rows["posted_alerts"] < int64(3*2*days) {
				t.Fatalf("rows left %v", sz.Rows)
			}
		})
	}
}

func TestRetentionRulesFollowTheOtherJobs(t *testing.T) {
	r := &schedule.Retention{Keep: 180 * 24 * time.Hour, ReportPeriod: 7 * 24 * time.Hour, SyncDays: 14, CorrelationWindow: 30 * 24 * time.Hour}
	before, keep := r.Rules(retentionNow)
	today := retentionNow.Truncate(24 * time.Hour)
	if !before.Equal(retentionNow.Add(-r.Keep)) || !keep.ReportSince.Equal(today.AddDate(0, 0, -14)) ||
		!keep.TrackSince.Equal(retentionNow.AddDate(0, 0, -14)) || !keep.CorrelationSince.Equal(retentionNow.Add(-r.CorrelationWindow)) {
		t.Fatalf("before %v, keep %+v", before, keep)
	}
	if got := schedule.ReportLookback(r.ReportPeriod); got != 14*24*time.Hour {
		t.Fatalf("a weekly report looks back %v", got)
	}
	// Forever, with the sync off.
	r.Keep, r.SyncDays = 0, 0
	if before, keep := r.Rules(retentionNow); !before.IsZero() || !keep.TrackSince.IsZero() {
		t.Fatalf("before %v, keep %+v", before, keep)
	}
}

// Every replica's cron fires; one prunes, the others find the day's run
// taken, and a replica waking late too.
func TestRetentionPrunesOncePerDayAcrossReplicas(t *testing.T) {
	s, reopen, _ := history(t, 40)
	ctx := context.Background()
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	var mu sync.Mutex
	var outcomes []string
	pruned := map[string]int64{}
	var sizes []store.StoreSize
	var jobs []*schedule.SlotJob
	for i, st := range []store.Store{s, reopen()} {
		r := &schedule.Retention{Store: st, Keep: 30 * 24 * time.Hour, ReportPeriod: 7 * 24 * time.Hour, SyncDays: 14,
			CorrelationWindow: 7 * 24 * time.Hour, Now: func() time.Time { return retentionNow }, Logger: logger,
			OnPruned: func(table string, n int64) { mu.Lock(); pruned[table] += n; mu.Unlock() },
			OnSize:   func(sz store.StoreSize) { mu.Lock(); sizes = append(sizes, sz); mu.Unlock() }}
		j, err := r.Job("UTC", fmt.Sprintf("replica-%d", i), func(o string) { mu.Lock(); outcomes = append(outcomes, o); mu.Unlock() })
		must(t, err)
		jobs = append(jobs, j)
	}
	fired := time.Date(2031, 3, 10, 3, 17, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() { j.RunSlot(ctx, fired.Add(20*time.Millisecond)) })
	}
	wg.Wait()
	jobs[1].RunSlot(ctx, fired.Add(3*time.Hour))
	ok := 0
	for _, o := range outcomes {
		if o == "ok" {
			ok++
		}
	}
	if ok != 1 || len(outcomes) != 3 {
		t.Fatalf("outcomes %v: want one ok and two skipped", outcomes)
	}
	// 40 days of digests, 30 kept. A day's alerts go with their message,
	// issue and close once the last of them (the close, two hours after
	// the post) is older than the cutoff; its digest runs once they are.
	cut := retentionNow.AddDate(0, 0, -30)
	daysBefore := func(after time.Duration) (n int64) {
		for d := range 40 {
			if retentionNow.AddDate(0, 0, -d).Add(-time.Hour + after).Before(cut) {
				n++
			}
		}
		return n
	}
	alertDays, runDays := daysBefore(2*time.Hour), daysBefore(0)
	want := map[string]int64{"posted_alerts": 3 * alertDays, "digest_messages": alertDays, "issues": alertDays, "closes": alertDays, "digest_tenant_runs": 2 * runDays}
	if !maps.Equal(pruned, want) || alertDays == 0 {
		t.Fatalf("pruned %v, want %v", pruned, want)
	}
	if len(sizes) != 1 || sizes[0].Rows["posted_alerts"] != 3*40-pruned["posted_alerts"] {
		t.Fatalf("sizes after the prune %+v", sizes)
	}
	line := ""
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, `msg="state pruned"`) {
			line = l
		}
	}
	for _, want := range []string{"retention=30d", fmt.Sprintf("posted_alerts=%d", pruned["posted_alerts"]), fmt.Sprintf("closes=%d", pruned["closes"]), "longest_batch="} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %q: %s", want, logs.String())
		}
	}
	// The next day's prune finds nothing new at the same time.
	rep, err := (&schedule.Retention{Store: s, Keep: 30 * 24 * time.Hour, Now: func() time.Time { return retentionNow }}).Run(ctx, false)
	if err != nil || rep.Total() != 0 {
		t.Fatalf("second prune %v %v", rep.Pruned, err)
	}
}

// A dry run says what would go and changes nothing; a cancelled run says
// it stopped.
func TestRetentionDryRunAndCancel(t *testing.T) {
	s, _, _ := history(t, 30)
	ctx := context.Background()
	var logs lockedBuffer
	var called bool
	r := &schedule.Retention{Store: s, Keep: 20 * 24 * time.Hour, Now: func() time.Time { return retentionNow },
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), OnPruned: func(string, int64) { called = true }}
	sz, err := s.Size(ctx)
	must(t, err)
	rep, err := r.Run(ctx, true)
	must(t, err)
	if rep.Pruned["posted_alerts"] == 0 || called || !strings.Contains(logs.String(), "dry run: nothing deleted") {
		t.Fatalf("dry run %v, OnPruned called %v, logs %s", rep.Pruned, called, logs.String())
	}
	if after, _ := s.Size(ctx); !maps.Equal(after.Rows, sz.Rows) {
		t.Fatalf("a dry run pruned: %v, was %v", after.Rows, sz.Rows)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Run(cctx, false); !errors.Is(err, context.Canceled) || !strings.Contains(logs.String(), "state prune stopped") {
		t.Fatalf("cancelled: %v\n%s", err, logs.String())
	}
}
