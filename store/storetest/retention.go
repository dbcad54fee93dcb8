package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/store"
)

// Bounded state (issue #19): Prune takes what is old and keeps what the
// report, the Jira sync, pending claims and messages still need.

// clock is a settable store clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time    { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)   { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) opt() store.Option { return store.WithClock(c.Now) }

// pruneNow is "today" in these tests; any date works.
var pruneNow = time.Date(2031, 3, 10, 9, 0, 0, 0, time.UTC)

func ago(days int) time.Time { return pruneNow.AddDate(0, 0, -days) }

// retention180 is STATE_RETENTION=180d with a weekly report, a 14-day
// Jira sync and a 7-day correlation window.
var (
	before180 = ago(180)
	keepWeek  = store.KeepRules{ReportSince: ago(15), TrackSince: ago(14), CorrelationSince: ago(7)}
)

func post(t *testing.T, s store.Store, channel, ts string, at time.Time, ids ...string) {
	t.Helper()
	var ps []store.Posting
	for _, id := range ids {
		ps = append(ps, store.Posting{Tenant: "contoso", AlertID: id, Channel: channel, TS: ts, PostedAt: at, Severity: "high"})
	}
	must(t, s.MarkPosted(ctx, ps))
	must(t, s.SaveMessage(ctx, store.MessageRecord{Channel: channel, TS: ts, Body: []byte(`{"alerts":[]}`)}))
}

func file(t *testing.T, s store.Store, id, key string) {
	t.Helper()
	if c, err := s.ClaimIssue(ctx, "contoso", id, "U1"); err != nil || !c.Won {
		t.Fatalf("claim %s: %+v %v", id, c, err)
	}
	must(t, s.CompleteIssue(ctx, "contoso", id, key, "https://jira/browse/"+key))
}

func closeAlert(t *testing.T, s store.Store, id string, at time.Time) {
	t.Helper()
	c := store.CloseRecord{Tenant: "contoso", AlertID: id, By: "U1", ByName: "carol", Classification: "benign"}
	if cl, err := s.ClaimClose(ctx, c); err != nil || !cl.Won {
		t.Fatalf("close claim %s: %+v %v", id, cl, err)
	}
	c.ClosedAt = at
	must(t, s.CompleteClose(ctx, c))
}

func size(t *testing.T, s store.Store) map[string]int64 {
	t.Helper()
	sz, err := s.Size(ctx)
	must(t, err)
	return sz.Rows
}

// seedPrune records what a store holds after 200 days of use; the
// comments say what a 180-day retention does with it.
func seedPrune(t *testing.T, s store.Store, clk *clock) {
	clk.Set(ago(200))
	// M1: both alerts done long ago: the message and every record go.
	post(t, s, "C1", "1.1", ago(200), "a1", "a2")
	file(t, s, "a1", "SEC-1")
	must(t, s.SaveJiraState(ctx, "contoso", "a1", store.JiraState{Key: "SEC-1", Status: "Done", Category: "done", SeenAt: ago(199)}))
	closeAlert(t, s, "a2", ago(200))
	// M2: b2 is old, but b1 was filed 10 days ago (the sync follows it):
	// the whole message stays, b2's close included.
	post(t, s, "C1", "2.2", ago(200), "b1", "b2")
	closeAlert(t, s, "b2", ago(200))
	// M3, M4: pending claims (an issue, a close), however old, hold theirs.
	post(t, s, "C1", "3.3", ago(200), "c1")
	if c, _ := s.ClaimIssue(ctx, "contoso", "c1", "U2"); !c.Won {
		t.Fatal("claim c1")
	}
	post(t, s, "C2", "4.4", ago(200), "d1")
	if c, _ := s.ClaimClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: "d1", By: "U2", Classification: "benign"}); !c.Won {
		t.Fatal("close claim d1")
	}
	// M5: f1 was closed yesterday: the report's time to close needs when it
	// was posted.
	post(t, s, "C1", "5.5", ago(200), "f1")
	// Alerts never posted (filed or closed from a card): their own
	// records go once old.
	file(t, s, "e1", "SEC-5")
	must(t, s.SaveJiraState(ctx, "contoso", "e1", store.JiraState{Key: "SEC-5", Status: "Done", Category: "done", SeenAt: ago(199)}))
	closeAlert(t, s, "e2", ago(200))
	if c, _ := s.ClaimIssue(ctx, "contoso", "e3", "U1"); !c.Won {
		t.Fatal("claim e3")
	}
	must(t, s.FailIssue(ctx, "contoso", "e3", "Jira said no"))
	must(t, s.SaveJiraState(ctx, "contoso", "e4", store.JiraState{Key: "SEC-6", Gone: true, SeenAt: ago(200)}))
	// M8: k1 was closed, reopened and closed again, all long ago: its
	// close and the earlier one in its history go. M9: k2 was reopened 5
	// days ago: its message stays with its close and history.
	post(t, s, "C1", "8.8", ago(200), "k1")
	post(t, s, "C1", "9.9", ago(200), "k2")
	for _, id := range []string{"k1", "k2"} {
		closeAlert(t, s, id, ago(200))
	}
	reopen := func(id string) {
		t.Helper()
		rec, _, err := s.AlertClose(ctx, "contoso", id)
		must(t, err)
		if ok, err := s.ReopenClose(ctx, rec); err != nil || !ok {
			t.Fatalf("reopen %s: %v %v", id, ok, err)
		}
	}
	reopen("k1")
	closeAlert(t, s, "k1", ago(199))
	// Each period's scheduled report: an old one goes.
	if _, ok, _ := s.ClaimReport(ctx, "2030-08-01/2030-08-08", "a", time.Minute); !ok {
		t.Fatal("report claim")
	}
	if ok, _ := s.FinishReport(ctx, "2030-08-01/2030-08-08", "a", store.ReportSent, ""); !ok {
		t.Fatal("report sent")
	}
	// M6: a message whose alerts were never recorded.
	must(t, s.SaveMessage(ctx, store.MessageRecord{Channel: "C1", TS: "6.6", Body: []byte(`{}`)}))
	must(t, s.RecordDigestRun(ctx, []store.TenantRun{{At: ago(200), Tenant: "contoso"}, {At: ago(200), Tenant: "fabrikam", Failed: true}}))
	var facts []store.AlertFact
	for i, at := range []time.Time{ago(200), ago(200), ago(200), ago(100), ago(100), ago(1)} {
		facts = append(facts, store.AlertFact{Key: "ip:185.220.101.4", Tenant: "contoso", AlertID: fmt.Sprintf("x%d", i), Value: "185.220.101.4", Severity: "high", AlertTime: at})
	}
	must(t, s.RememberFacts(ctx, facts))
	must(t, s.SaveGroupIssue(ctx, store.GroupIssue{Tenant: "contoso", Signature: "old", Key: "SEC-7", Last: ago(200)}))
	must(t, s.SaveGroupIssue(ctx, store.GroupIssue{Tenant: "contoso", Signature: "new", Key: "SEC-8", Last: ago(1)}))
	if ok, _ := s.TryRun(ctx, "digest@old", "a", 30*time.Minute); !ok {
		t.Fatal("run")
	}
	must(t, s.FinishRun(ctx, "digest@old", "a"))
	if ok, _ := s.TryRun(ctx, "digest@crashed", "a", 30*time.Minute); !ok {
		t.Fatal("run")
	}
	if ok, _ := s.Lock(ctx, "message:C1/1.1", "a", time.Minute); !ok {
		t.Fatal("lock")
	}
	must(t, s.CachePut(ctx, "fresh", []byte("1"), 300*24*time.Hour))
	must(t, s.CachePut(ctx, "stale", []byte("1"), time.Hour))

	clk.Set(ago(10))
	file(t, s, "b1", "SEC-2")
	must(t, s.SaveJiraState(ctx, "contoso", "b1", store.JiraState{Key: "SEC-2", Status: "In Progress", Category: "indeterminate", SeenAt: ago(10)}))

	clk.Set(ago(5))
	reopen("k2")
	if _, ok, _ := s.ClaimReport(ctx, "2031-03-01/2031-03-08", "a", time.Minute); !ok {
		t.Fatal("report claim")
	}

	clk.Set(ago(1))
	closeAlert(t, s, "f1", ago(1))
	post(t, s, "C1", "7.7", ago(1), "h1")
	must(t, s.RecordDigestRun(ctx, []store.TenantRun{{At: ago(1), Tenant: "contoso"}}))

	clk.Set(pruneNow)
	if ok, _ := s.TryRun(ctx, "digest@now", "a", 30*time.Minute); !ok {
		t.Fatal("run")
	}
	if ok, _ := s.Lock(ctx, "digest", "a", time.Minute); !ok {
		t.Fatal("lock")
	}
}

// prunedBySeed is what a 180-day retention takes from seedPrune's store.
var prunedBySeed = map[string]int64{
	"posted_alerts": 3, "issues": 3, "jira_states": 3, "closes": 3, "close_history": 1, "digest_messages": 3, // a1, a2, k1, e1-e4, M1, M6, M8
	"digest_tenant_runs": 2, "report_sends": 1, "alert_facts": 3, "group_issues": 1,
	"runs": 2, "leases": 1, "shared_cache": 1,
}

func testPrune(t *testing.T, open Opener) {
	clk := &clock{}
	s, reopen := open(t, clk.opt())
	seedPrune(t, s, clk)
	full := size(t, s)

	// A dry run says what would go and takes nothing.
	dry, err := s.Prune(ctx, before180, keepWeek, store.PruneOptions{DryRun: true})
	must(t, err)
	if !maps.Equal(dry.Pruned, prunedBySeed) || !dry.Cutoff.Equal(before180) {
		t.Fatalf("dry run would prune %v (cutoff %v), want %v", dry.Pruned, dry.Cutoff, prunedBySeed)
	}
	if got := size(t, s); !maps.Equal(got, full) {
		t.Fatalf("a dry run changed the store: %v, was %v", got, full)
	}

	rep, err := s.Prune(ctx, before180, keepWeek, store.PruneOptions{})
	must(t, err)
	if !maps.Equal(rep.Pruned, prunedBySeed) || rep.Batches == 0 || rep.Longest <= 0 {
		t.Fatalf("pruned %v in %d batches (longest %v), want %v", rep.Pruned, rep.Batches, rep.Longest, prunedBySeed)
	}
	after := size(t, s)
	for table, n := range full {
		if after[table] != n-prunedBySeed[table] {
			t.Errorf("%s: %d rows left of %d, want %d gone", table, after[table], n, prunedBySeed[table])
		}
	}

	other := reopen()
	t.Cleanup(func() { _ = other.Close() })
	gone := func(what string, ok bool, err error) {
		t.Helper()
		if err != nil || ok {
			t.Errorf("%s was kept (%v)", what, err)
		}
	}
	kept := func(what string, ok bool, err error) {
		t.Helper()
		if err != nil || !ok {
			t.Errorf("%s was pruned (%v)", what, err)
		}
	}
	_, ok, err := other.Message(ctx, "contoso", "a1")
	gone("a1's posting", ok, err)
	_, ok, err = other.Issue(ctx, "contoso", "a1")
	gone("a1's issue", ok, err)
	_, ok, err = other.JiraState(ctx, "contoso", "a1")
	gone("a1's Jira state", ok, err)
	_, ok, err = other.AlertClose(ctx, "contoso", "a2")
	gone("a2's close", ok, err)
	_, ok, err = other.LoadMessage(ctx, "C1", "1.1")
	gone("M1", ok, err)
	_, ok, err = other.LoadMessage(ctx, "C1", "6.6")
	gone("M6", ok, err)
	for _, id := range []string{"e1", "e3"} {
		_, ok, err = other.Issue(ctx, "contoso", id)
		gone(id+"'s issue", ok, err)
	}
	_, ok, err = other.AlertClose(ctx, "contoso", "e2")
	gone("e2's close", ok, err)
	_, ok, err = other.JiraState(ctx, "contoso", "e4")
	gone("e4's Jira state", ok, err)

	// M2 stays whole: b1's issue is followed by the sync, b2 is drawn with it.
	if h, err := other.CloseHistory(ctx, "contoso", "k2"); err != nil || len(h) != 1 {
		t.Errorf("k2's close history %+v %v", h, err)
	}
	if h, err := other.CloseHistory(ctx, "contoso", "k1"); err != nil || len(h) != 0 {
		t.Errorf("k1's close history was kept: %+v %v", h, err)
	}
	if _, ok, _ := other.ReportSend(ctx, "2031-03-01/2031-03-08"); !ok {
		t.Error("this month's report record was pruned")
	}
	for _, id := range []string{"b1", "b2", "c1", "d1", "f1", "h1", "k2"} {
		_, ok, err = other.Message(ctx, "contoso", id)
		kept(id+"'s posting", ok, err)
	}
	for _, m := range []string{"2.2", "3.3", "5.5", "7.7"} {
		_, ok, err = other.LoadMessage(ctx, "C1", m)
		kept("message "+m, ok, err)
	}
	_, ok, err = other.LoadMessage(ctx, "C2", "4.4")
	kept("message 4.4", ok, err)
	if rec, ok, err := other.Issue(ctx, "contoso", "b1"); err != nil || !ok || rec.Key != "SEC-2" {
		t.Errorf("b1's issue %+v %v %v", rec, ok, err)
	}
	if st, ok, err := other.JiraState(ctx, "contoso", "b1"); err != nil || !ok || st.Status != "In Progress" {
		t.Errorf("b1's Jira state %+v %v %v", st, ok, err)
	}
	if rec, ok, err := other.AlertClose(ctx, "contoso", "b2"); err != nil || !ok || rec.State != store.CloseDone {
		t.Errorf("b2's close %+v %v %v", rec, ok, err)
	}
	if rec, ok, err := other.Issue(ctx, "contoso", "c1"); err != nil || !ok || rec.State != store.IssuePending || rec.By != "U2" {
		t.Errorf("c1's pending claim %+v %v %v", rec, ok, err)
	}
	if rec, ok, err := other.AlertClose(ctx, "contoso", "d1"); err != nil || !ok || rec.State != store.ClosePending {
		t.Errorf("d1's pending close %+v %v %v", rec, ok, err)
	}
	// The report still sees f1's time to close.
	a, err := other.Activity(ctx, ago(7), pruneNow)
	must(t, err)
	if len(a.Closed) != 1 || a.Closed[0].AlertID != "f1" || !a.Closed[0].PostedAt.Equal(ago(200)) || len(a.Runs) != 1 {
		t.Errorf("report's week: closed %+v, runs %+v", a.Closed, a.Runs)
	}
	if facts, _ := other.FactsFor(ctx, []string{"ip:185.220.101.4"}, time.Time{}); len(facts) != 3 {
		t.Errorf("%d facts left, want the 3 newer than the retention", len(facts))
	}
	if g, _ := other.GroupIssues(ctx, "contoso", []string{"old", "new"}, time.Time{}); len(g) != 1 || g["new"].Key != "SEC-8" {
		t.Errorf("groups left %+v", g)
	}
	if v, ok, _ := other.CacheGet(ctx, "fresh"); !ok || string(v) != "1" {
		t.Error("an unexpired cache entry was pruned")
	}
	// The live lease and run still hold.
	if ok, _ := other.Lock(ctx, "digest", "b", time.Minute); ok {
		t.Error("a held lease was pruned")
	}
	if ok, _ := other.TryRun(ctx, "digest@now", "b", time.Minute); ok {
		t.Error("a live run was pruned")
	}

	// Pruning again finds nothing.
	again, err := other.Prune(ctx, before180, keepWeek, store.PruneOptions{})
	must(t, err)
	if again.Total() != 0 || !maps.Equal(size(t, s), after) {
		t.Fatalf("a second prune took %v", again.Pruned)
	}
}

// More rows than a batch, messages straddling batches, and one held
// message in the middle.
func testPruneBatches(t *testing.T, open Opener) {
	clk := &clock{t: ago(200)}
	s, _ := open(t, clk.opt())
	const messages, perMessage = 40, 30
	for m := range messages {
		var ids []string
		for i := range perMessage {
			ids = append(ids, fmt.Sprintf("m%02d-%02d", m, i))
		}
		// Every alert of a message shares its time: batches end inside
		// messages.
		post(t, s, "C1", fmt.Sprintf("%d.0001", 1000+m), ago(200).Add(time.Duration(m)*time.Minute), ids...)
	}
	if c, _ := s.ClaimIssue(ctx, "contoso", "m17-29", "U1"); !c.Won {
		t.Fatal("claim")
	}
	var facts []store.AlertFact
	for i := range 1500 {
		facts = append(facts, store.AlertFact{Key: fmt.Sprintf("acct:u%d@contoso.com", i), Tenant: "contoso", AlertID: fmt.Sprint(i), Value: "u", Severity: "low", AlertTime: ago(190)})
	}
	must(t, s.RememberFacts(ctx, facts))
	clk.Set(pruneNow)

	const batch = 100
	dry, err := s.Prune(ctx, before180, keepWeek, store.PruneOptions{Batch: batch, DryRun: true})
	must(t, err)
	rep, err := s.Prune(ctx, before180, keepWeek, store.PruneOptions{Batch: batch})
	must(t, err)
	want := map[string]int64{"posted_alerts": (messages - 1) * perMessage, "digest_messages": messages - 1, "alert_facts": 1500}
	if !maps.Equal(rep.Pruned, want) || !maps.Equal(dry.Pruned, want) {
		t.Fatalf("pruned %v (dry run %v), want %v", rep.Pruned, dry.Pruned, want)
	}
	if least := (messages*perMessage + 1500) / batch; rep.Batches < least {
		t.Fatalf("%d batches for %d rows of %d", rep.Batches, rep.Total(), batch)
	}
	left := size(t, s)
	if left["posted_alerts"] != perMessage || left["digest_messages"] != 1 || left["alert_facts"] != 0 {
		t.Fatalf("left %v", left)
	}
	if p, ok, _ := s.Message(ctx, "contoso", "m17-00"); !ok || p.TS != "1017.0001" {
		t.Fatalf("the held message's alerts were pruned: %+v %v", p, ok)
	}
	if again, _ := s.Prune(ctx, before180, keepWeek, store.PruneOptions{Batch: batch}); again.Total() != 0 {
		t.Fatalf("a second prune took %v", again.Pruned)
	}
}

// What the report, the Jira sync and correlation read stays even when the
// retention is shorter than what they look back over.
func testPruneKeepRules(t *testing.T, open Opener) {
	clk := &clock{t: ago(200)}
	s, _ := open(t, clk.opt())
	post(t, s, "C1", "1.1", ago(200), "old", "filed")
	file(t, s, "old", "SEC-1")
	must(t, s.SaveJiraState(ctx, "contoso", "old", store.JiraState{Key: "SEC-1", Category: "done", SeenAt: ago(199)}))
	clk.Set(ago(20))
	file(t, s, "filed", "SEC-2") // an old alert filed 20 days ago
	clk.Set(ago(12))
	post(t, s, "C1", "2.2", ago(12), "week-before")
	must(t, s.RecordDigestRun(ctx, []store.TenantRun{{At: ago(12), Tenant: "contoso"}}))
	must(t, s.RememberFacts(ctx, []store.AlertFact{
		{Key: "ip:1.2.3.4", Tenant: "contoso", AlertID: "f20", Value: "1.2.3.4", AlertTime: ago(20)},
		{Key: "ip:1.2.3.4", Tenant: "contoso", AlertID: "f40", Value: "1.2.3.4", AlertTime: ago(40)},
	}))
	must(t, s.SaveGroupIssue(ctx, store.GroupIssue{Tenant: "contoso", Signature: "sig", Key: "SEC-3", Last: ago(20)}))
	clk.Set(pruneNow)

	// A 10-day retention with a report over two weeks, a 30-day sync and a
	// 30-day correlation window.
	keep := store.KeepRules{ReportSince: ago(15), TrackSince: ago(30), CorrelationSince: ago(30)}
	rep, err := s.Prune(ctx, ago(10), keep, store.PruneOptions{})
	must(t, err)
	want := map[string]int64{"alert_facts": 1}
	if !maps.Equal(rep.Pruned, want) || !rep.Cutoff.Equal(ago(15)) {
		t.Fatalf("pruned %v, cut at %v; want %v cut at the report's lookback %v", rep.Pruned, rep.Cutoff, want, ago(15))
	}
	a, _ := s.Activity(ctx, ago(14), ago(7))
	if len(a.Posted) != 1 || len(a.Runs) != 1 {
		t.Fatalf("the report's previous period lost rows: %+v", a)
	}
	// The sync's issue keeps its message whole.
	if _, ok, _ := s.Issue(ctx, "contoso", "old"); !ok {
		t.Fatal("an old issue in the message of one the sync follows was pruned")
	}
	if g, _ := s.GroupIssues(ctx, "contoso", []string{"sig"}, time.Time{}); len(g) != 1 {
		t.Fatal("a group issue inside the correlation window was pruned")
	}

	// Without the rules the same retention takes all of it.
	rep, err = s.Prune(ctx, ago(10), store.KeepRules{}, store.PruneOptions{})
	must(t, err)
	want = map[string]int64{"posted_alerts": 3, "issues": 2, "jira_states": 1, "digest_messages": 2, "digest_tenant_runs": 1, "alert_facts": 1, "group_issues": 1}
	if !maps.Equal(rep.Pruned, want) {
		t.Fatalf("pruned without rules %v, want %v", rep.Pruned, want)
	}
}

// A zero retention keeps history forever; operational rows still go.
func testPruneForever(t *testing.T, open Opener) {
	// Budget slots are stamped by the database's clock (PostgreSQL; SQLite
	// keeps them in memory), so this test's days count from the wall
	// clock: it prunes two days after now.
	now := time.Now().UTC().Add(48 * time.Hour)
	old := now.AddDate(0, 0, -400)
	clk := &clock{t: old}
	s, _ := open(t, clk.opt())
	post(t, s, "C1", "1.1", old, "a1")
	file(t, s, "a1", "SEC-1")
	must(t, s.RememberFacts(ctx, []store.AlertFact{{Key: "ip:1.2.3.4", Tenant: "contoso", AlertID: "a1", Value: "1.2.3.4", AlertTime: old}}))
	if ok, _ := s.TryRun(ctx, "digest@old", "a", time.Minute); !ok {
		t.Fatal("run")
	}
	if ok, _ := s.Lock(ctx, "jira-sync", "a", time.Minute); !ok {
		t.Fatal("lock")
	}
	must(t, s.CachePut(ctx, "abuseipdb:report:8.8.8.8", []byte("{}"), time.Hour))
	if _, err := s.ReserveSlot(ctx, "mcas:contoso", 5, time.Minute); err != nil {
		t.Fatal(err)
	}
	slots := size(t, s)["budget_slots"]
	clk.Set(now)
	rep, err := s.Prune(ctx, time.Time{}, store.KeepRules{}, store.PruneOptions{})
	must(t, err)
	want := map[string]int64{"runs": 1, "leases": 1, "shared_cache": 1}
	if slots > 0 {
		want["budget_slots"] = slots
	}
	if !maps.Equal(rep.Pruned, want) || !rep.Cutoff.IsZero() {
		t.Fatalf("pruned %v (cutoff %v), want %v", rep.Pruned, rep.Cutoff, want)
	}
	left := size(t, s)
	if left["posted_alerts"] != 1 || left["issues"] != 1 || left["digest_messages"] != 1 || left["alert_facts"] != 1 || left["budget_slots"] != 0 {
		t.Fatalf("history was pruned: %v", left)
	}
}

// Clicks on old alerts while a prune runs: every claim that won is still
// there to complete. From the pruning process (another goroutine: on
// PostgreSQL another connection), and from another process, which on
// SQLite gets the lock in the prune's pauses.
func testPruneWhileClaiming(t *testing.T, open Opener) {
	clk := &clock{t: ago(200)}
	s, reopen := open(t, clk.opt())
	other := reopen()
	t.Cleanup(func() { _ = other.Close() })
	for round, c := range []struct {
		claimer store.Store
		o       store.PruneOptions
	}{
		{s, store.PruneOptions{Batch: 7}},
		{other, store.PruneOptions{Batch: 25, Pause: 100 * time.Millisecond}},
	} {
		const messages = 40
		clk.Set(ago(200))
		for m := range messages {
			var ids []string
			for i := range 10 {
				ids = append(ids, fmt.Sprintf("r%d-m%02d-%d", round, m, i))
			}
			post(t, s, "C1", fmt.Sprintf("%d.%04d", round, m), ago(200), ids...)
		}
		clk.Set(pruneNow)
		var wg sync.WaitGroup
		errs := make(chan error, messages)
		wg.Go(func() {
			for m := range messages {
				id := fmt.Sprintf("r%d-m%02d-3", round, m)
				cl, err := c.claimer.ClaimIssue(ctx, "contoso", id, "U1")
				if err != nil || !cl.Won {
					errs <- fmt.Errorf("claim %s: %+v %v", id, cl, err)
					continue
				}
				if err := c.claimer.CompleteIssue(ctx, "contoso", id, fmt.Sprintf("SEC-%d", m), ""); err != nil {
					errs <- fmt.Errorf("the claim of %s vanished: %v", id, err)
				}
			}
		})
		_, err := s.Prune(ctx, before180, keepWeek, c.o)
		wg.Wait()
		close(errs)
		must(t, err)
		for err := range errs {
			t.Error(err)
		}
		for m := range messages {
			id := fmt.Sprintf("r%d-m%02d-3", round, m)
			if rec, ok, _ := s.Issue(ctx, "contoso", id); !ok || rec.State != store.IssueCreated {
				t.Fatalf("issue of %s: %+v %v", id, rec, ok)
			}
		}
	}
}

// A cancelled prune stops and says so.
func testPruneCancelled(t *testing.T, open Opener) {
	clk := &clock{t: ago(200)}
	s, _ := open(t, clk.opt())
	post(t, s, "C1", "1.1", ago(200), "a1")
	clk.Set(pruneNow)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Prune(cctx, before180, keepWeek, store.PruneOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if left := size(t, s); left["posted_alerts"] != 1 || left["digest_messages"] != 1 {
		t.Fatalf("a cancelled prune pruned: %v", left)
	}
}
