package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/store/storetest"
)

// BenchmarkPrune prunes a store holding about 1,000,000 rows 200 days old,
// older than a 180-day retention (posted alerts in messages of 20, a
// quarter of them filed with a Jira state, and related-alert facts), some
// of them held by pending claims, beside a day of new rows. It reports
// rows pruned per second and the longest batch: the longest any lock was
// held. The nothing-old cases prune the same store with its rows 100 days
// old: the daily prune of a full store that finds nothing to take. The
// PostgreSQL cases need TEST_DATABASE_URL.
func BenchmarkPrune(b *testing.B) {
	sqlite := func(b *testing.B) string { return "sqlite:" + filepath.Join(b.TempDir(), "state.db") }
	postgres := func(b *testing.B) string { return storetest.PostgresURL(b) }
	b.Run("sqlite", func(b *testing.B) { benchPrune(b, sqlite, false, 200) })
	b.Run("postgres", func(b *testing.B) { benchPrune(b, postgres, true, 200) })
	b.Run("sqlite-nothing-old", func(b *testing.B) { benchPrune(b, sqlite, false, 100) })
	b.Run("postgres-nothing-old", func(b *testing.B) { benchPrune(b, postgres, true, 100) })
}

// The seeded store.
const (
	benchPosted   = 420_000 // old alerts, 20 a message
	benchFacts    = 370_000 // old facts
	benchRecent   = 10_000  // new alerts and facts
	benchPerMsg   = 20
	benchHeldEach = 100 // one message in this many holds a pending claim
)

func benchPrune(b *testing.B, url func(b *testing.B) string, postgres bool, age int) {
	ctx := context.Background()
	now := time.Date(2031, 3, 10, 9, 0, 0, 0, time.UTC)
	before := now.AddDate(0, 0, -180)
	keep := store.KeepRules{ReportSince: now.AddDate(0, 0, -15), TrackSince: now.AddDate(0, 0, -14), CorrelationSince: now.AddDate(0, 0, -7)}
	var rep store.PruneReport
	for b.Loop() {
		b.StopTimer()
		s, err := store.Open(ctx, url(b), store.WithClock(func() time.Time { return now }))
		if err != nil {
			b.Fatal(err)
		}
		seedBench(b, s, now, age, postgres)
		b.StartTimer()
		rep, err = s.Prune(ctx, before, keep, store.PruneOptions{})
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		held := benchPosted / benchPerMsg / benchHeldEach
		want := int64(benchPosted - held*benchPerMsg)
		if now.AddDate(0, 0, -age).After(before) {
			want = 0
		}
		if rep.Pruned["posted_alerts"] != want {
			b.Fatalf("pruned %v, want %d posted alerts", rep.Pruned, want)
		}
		_ = s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(rep.Total()), "rows")
	if rep.Total() > 0 {
		b.ReportMetric(float64(rep.Total())/rep.Took.Seconds(), "rows/s")
	}
	b.ReportMetric(float64(rep.Longest.Microseconds())/1000, "ms/longest-batch")
	b.ReportMetric(float64(rep.Batches), "batches")
}

// seedBench fills the store with INSERT … SELECT over a number series:
// one statement (and transaction) per table.
func seedBench(b *testing.B, s store.Store, now time.Time, age int, postgres bool) {
	old, recent := now.AddDate(0, 0, -age).UnixMilli(), now.AddDate(0, 0, -1).UnixMilli()
	series := func(n int, sel string) string {
		if postgres {
			return sel + fmt.Sprintf(" FROM generate_series(0, %d) AS seq(i)", n-1)
		}
		return fmt.Sprintf("WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < %d) ", n-1) + sel + " FROM seq"
	}
	posted := `INSERT INTO posted_alerts (tenant, alert_id, channel, ts, posted_ms, severity, title, policy, account, ips, alert_ms)`
	stmts := []string{
		series(benchPosted, posted+fmt.Sprintf(` SELECT 'contoso', 'a' || i, 'C1', CAST(i / %d AS TEXT), %d + i / %[1]d * 1000, 'high', 'Impossible travel activity',
			'Impossible travel', 'user' || (i %% 3000) || '@contoso.com', '185.220.101.' || (i %% 250), %[2]d`, benchPerMsg, old)),
		series(benchPosted/benchPerMsg, fmt.Sprintf(`INSERT INTO digest_messages (channel, ts, body, updated_ms) SELECT 'C1', CAST(i AS TEXT), '%s', %d`,
			strings.Repeat("x", 2000), old)),
		// A quarter of the alerts became issues the sync saw done.
		series(benchPosted, fmt.Sprintf(`INSERT INTO issues (tenant, alert_id, state, issue_key, issue_url, claimed_by, claimed_ms, filed_ms)
			SELECT 'contoso', 'a' || i, CASE WHEN i %% %d = 0 THEN 'pending' ELSE 'created' END, 'SEC-' || i, '', 'U1', %d, %[2]d`,
			benchPerMsg*benchHeldEach, old)) + ` WHERE i % 4 = 1 OR i % ` + fmt.Sprint(benchPerMsg*benchHeldEach) + ` = 0`,
		series(benchPosted, fmt.Sprintf(`INSERT INTO jira_states (tenant, alert_id, issue_key, status, category, resolution, seen_ms, drawn)
			SELECT 'contoso', 'a' || i, 'SEC-' || i, 'Done', 'done', 'Fixed', %d, 1`, old)) + ` WHERE i % 4 = 1`,
		series(benchFacts, fmt.Sprintf(`INSERT INTO alert_facts (fact, tenant, alert_id, value, severity, alert_ms)
			SELECT 'ip:185.220.' || (i %% 5000), 'contoso', 'a' || i, '185.220.' || (i %% 5000), 'high', %d + i`, old)),
		// A day of new rows.
		series(benchRecent, posted+fmt.Sprintf(` SELECT 'contoso', 'r' || i, 'C1', 'r' || (i / %d), %d, 'high', 't', 'p', 'u', '', %[2]d`, benchPerMsg, recent)),
		series(benchRecent, fmt.Sprintf(`INSERT INTO alert_facts (fact, tenant, alert_id, value, severity, alert_ms)
			SELECT 'ip:10.0.' || (i %% 5000), 'contoso', 'r' || i, '10.0.0.1', 'high', %d`, recent)),
	}
	for _, q := range stmts {
		if err := store.ExecForTest(s, q); err != nil {
			b.Fatalf("seeding: %v\n%s", err, q)
		}
	}
	if postgres {
		if err := store.ExecForTest(s, `ANALYZE`); err != nil {
			b.Fatal(err)
		}
	}
}
