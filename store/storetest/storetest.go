// Package storetest is the conformance suite every store.Store passes.
package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/store"
)

// Opener returns a fresh, empty store for one test and a way to open a
// second handle on the same database (another replica), both with opts.
type Opener func(t *testing.T, opts ...store.Option) (s store.Store, reopen func() store.Store)

// OpenURL is the Opener for a database URL made per test by url.
func OpenURL(url func(t *testing.T) string) Opener {
	return func(t *testing.T, opts ...store.Option) (store.Store, func() store.Store) {
		dsn := url(t)
		open := func() store.Store {
			s, err := store.Open(context.Background(), dsn, opts...)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		s := open()
		t.Cleanup(func() { _ = s.Close() })
		return s, open
	}
}

// Run runs every conformance test.
func Run(t *testing.T, open Opener) {
	tests := map[string]func(*testing.T, Opener){
		"Cursors":                   testCursors,
		"Posted":                    testPosted,
		"ClaimOnce":                 testClaimOnce,
		"ClaimConcurrent":           testClaimConcurrent,
		"ClaimConcurrentTwoHandles": testClaimTwoHandles,
		"ClaimAfterFailure":         testClaimAfterFailure,
		"NoteKeepsClaim":            testNoteKeepsClaim,
		"Runs":                      testRuns,
		"Reopen":                    testReopen,
		"Leases":                    testLeases,
		"Messages":                  testMessages,
		"BudgetSlots":               testBudgetSlots,
		"BudgetConcurrent":          testBudgetConcurrent,
		"SharedCache":               testSharedCache,
		// issue #13
		"PostingFacts": testPostingFacts,
		"JiraStates":   testJiraStates,
		"Activity":     testActivity,
		// issue #8
		"Closes": testCloses,
		// issue #11
		"Facts":       testFacts,
		"GroupIssues": testGroupIssues,
		// issue #16
		"ReportSends":           testReportSends,
		"ReportClaimConcurrent": testReportClaimConcurrent,
		// issue #17
		"CursorSources": testCursorSources,
		// issue #19
		"Prune": testPrune, "PruneBatches": testPruneBatches, "PruneKeepRules": testPruneKeepRules,
		"PruneForever": testPruneForever, "PruneWhileClaiming": testPruneWhileClaiming, "PruneCancelled": testPruneCancelled,
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) { fn(t, open) })
	}
}

var ctx = context.Background()

func testCursors(t *testing.T, open Opener) {
	s, _ := open(t)
	if _, ok, err := s.Cursor(ctx, "contoso"); ok || err != nil {
		t.Fatalf("fresh cursor: %v %v", ok, err)
	}
	t1 := time.Date(2026, 11, 24, 8, 0, 0, 123e6, time.UTC)
	must(t, s.AdvanceCursor(ctx, "contoso", t1))
	must(t, s.AdvanceCursor(ctx, "contoso", t1.Add(-time.Hour))) // never backwards
	got, ok, err := s.Cursor(ctx, "contoso")
	if err != nil || !ok || !got.Equal(t1) {
		t.Fatalf("cursor %v %v %v, want %v", got, ok, err, t1)
	}
	must(t, s.AdvanceCursor(ctx, "contoso", t1.Add(time.Minute)))
	got, _, _ = s.Cursor(ctx, "contoso")
	if !got.Equal(t1.Add(time.Minute)) {
		t.Fatalf("cursor did not advance: %v", got)
	}
	if _, ok, _ := s.Cursor(ctx, "fabrikam"); ok {
		t.Fatal("cursors are per tenant")
	}
}

func testPosted(t *testing.T, open Opener) {
	s, _ := open(t)
	var ps []store.Posting
	var ids []string
	for i := 0; i < 700; i++ { // more than one query batch
		id := fmt.Sprintf("a%04d", i)
		ids = append(ids, id)
		if i%2 == 0 {
			ps = append(ps, store.Posting{Tenant: "contoso", AlertID: id, Channel: "C1", TS: "1.0001"})
		}
	}
	must(t, s.MarkPosted(ctx, ps))
	must(t, s.MarkPosted(ctx, ps[:1])) // re-marking is harmless
	got, err := s.Posted(ctx, "contoso", ids)
	must(t, err)
	if len(got) != 350 || !got["a0000"] || got["a0001"] {
		t.Fatalf("posted %d, a0000=%v a0001=%v", len(got), got["a0000"], got["a0001"])
	}
	if other, _ := s.Posted(ctx, "fabrikam", ids); len(other) != 0 {
		t.Fatal("posted marks leak across tenants")
	}
	loc, ok, err := s.Message(ctx, "contoso", "a0002")
	if err != nil || !ok || loc.Channel != "C1" || loc.TS != "1.0001" || loc.PostedAt.IsZero() {
		t.Fatalf("message %+v %v %v", loc, ok, err)
	}
	if _, ok, _ := s.Message(ctx, "contoso", "a0001"); ok {
		t.Fatal("message for unposted alert")
	}
}

func testClaimOnce(t *testing.T, open Opener) {
	s, _ := open(t)
	c, err := s.ClaimIssue(ctx, "contoso", "a1", "U1")
	if err != nil || !c.Won || c.TookOver {
		t.Fatalf("first claim %+v %v", c, err)
	}
	c, err = s.ClaimIssue(ctx, "contoso", "a1", "U2")
	if err != nil || c.Won || c.Record.State != store.IssuePending || c.Record.By != "U1" {
		t.Fatalf("second claim %+v %v", c, err)
	}
	must(t, s.CompleteIssue(ctx, "contoso", "a1", "SEC-1", "https://jira/browse/SEC-1"))
	must(t, s.CompleteIssue(ctx, "contoso", "a1", "SEC-1", "https://jira/browse/SEC-1")) // idempotent
	if err := s.CompleteIssue(ctx, "contoso", "a1", "SEC-2", ""); err == nil {
		t.Fatal("a second key for one alert was accepted")
	}
	c, err = s.ClaimIssue(ctx, "contoso", "a1", "U3")
	if err != nil || c.Won || c.Record.State != store.IssueCreated || c.Record.Key != "SEC-1" || c.Record.FiledAt.IsZero() {
		t.Fatalf("claim after create %+v %v", c, err)
	}
	// Same alert id in another tenant is another alert.
	if c, _ := s.ClaimIssue(ctx, "fabrikam", "a1", "U1"); !c.Won {
		t.Fatal("claims leak across tenants")
	}
}

func claimRace(t *testing.T, handles []store.Store) {
	const n = 16
	var wg sync.WaitGroup
	wins := make(chan string, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		s := handles[i%len(handles)]
		wg.Go(func() {
			c, err := s.ClaimIssue(ctx, "contoso", "race", fmt.Sprintf("U%d", i))
			if err != nil {
				errs <- err
				return
			}
			if c.Won {
				wins <- fmt.Sprintf("U%d", i)
			}
		})
	}
	wg.Wait()
	close(wins)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var won []string
	for w := range wins {
		won = append(won, w)
	}
	if len(won) != 1 {
		t.Fatalf("%d claims won (%v), want exactly 1", len(won), won)
	}
}

func testClaimConcurrent(t *testing.T, open Opener) {
	s, _ := open(t)
	claimRace(t, []store.Store{s})
}

func testClaimTwoHandles(t *testing.T, open Opener) {
	s, reopen := open(t)
	other := reopen()
	t.Cleanup(func() { _ = other.Close() })
	claimRace(t, []store.Store{s, other})
}

func testClaimAfterFailure(t *testing.T, open Opener) {
	s, _ := open(t)
	if c, _ := s.ClaimIssue(ctx, "contoso", "a1", "U1"); !c.Won {
		t.Fatal("claim")
	}
	must(t, s.FailIssue(ctx, "contoso", "a1", "Jira said: Field 'priority' is not on the screen"))
	rec, _, _ := s.Issue(ctx, "contoso", "a1")
	if rec.State != store.IssueFailed || rec.Error == "" {
		t.Fatalf("record %+v", rec)
	}
	c, err := s.ClaimIssue(ctx, "contoso", "a1", "U2")
	if err != nil || !c.Won || !c.TookOver {
		t.Fatalf("retry after failure %+v %v", c, err)
	}
	rec, _, _ = s.Issue(ctx, "contoso", "a1")
	if rec.State != store.IssuePending || rec.By != "U2" || rec.Error != "" {
		t.Fatalf("record after retry claim %+v", rec)
	}
}

func testNoteKeepsClaim(t *testing.T, open Opener) {
	s, _ := open(t)
	if c, _ := s.ClaimIssue(ctx, "contoso", "a1", "U1"); !c.Won {
		t.Fatal("claim")
	}
	must(t, s.NoteIssue(ctx, "contoso", "a1", "Jira answered 500"))
	c, err := s.ClaimIssue(ctx, "contoso", "a1", "U2")
	if err != nil || c.Won || c.Record.State != store.IssuePending || c.Record.Error != "Jira answered 500" || c.Record.By != "U1" {
		t.Fatalf("claim of a held alert: %+v %v", c, err)
	}
}

func testRuns(t *testing.T, open Opener) {
	s, reopen := open(t)
	other := reopen()
	t.Cleanup(func() { _ = other.Close() })
	ok, err := s.TryRun(ctx, "digest@08:00", "replica-a", time.Minute)
	if err != nil || !ok {
		t.Fatalf("first TryRun %v %v", ok, err)
	}
	if ok, _ := other.TryRun(ctx, "digest@08:00", "replica-b", time.Minute); ok {
		t.Fatal("two replicas took one run")
	}
	must(t, s.FinishRun(ctx, "digest@08:00", "replica-a"))
	if ok, _ := other.TryRun(ctx, "digest@08:00", "replica-b", time.Minute); ok {
		t.Fatal("a finished run was taken again (late replica)")
	}
	// A run whose owner died is taken over once its lease ends.
	if ok, _ := s.TryRun(ctx, "digest@09:00", "replica-a", time.Millisecond); !ok {
		t.Fatal("TryRun 09:00")
	}
	time.Sleep(20 * time.Millisecond)
	if ok, _ := other.TryRun(ctx, "digest@09:00", "replica-b", time.Minute); !ok {
		t.Fatal("expired lease was not taken over")
	}
}

func testReopen(t *testing.T, open Opener) {
	s, reopen := open(t)
	must(t, s.AdvanceCursor(ctx, "contoso", time.UnixMilli(1e12)))
	// Opening again re-runs migrations on a database that has them.
	again := reopen()
	defer again.Close()
	if got, ok, err := again.Cursor(ctx, "contoso"); err != nil || !ok || got.UnixMilli() != 1e12 {
		t.Fatalf("state lost on reopen: %v %v %v", got, ok, err)
	}
	must(t, again.Ping(ctx))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testLeases(t *testing.T, open Opener) {
	s, reopen := open(t)
	other := reopen()
	t.Cleanup(func() { _ = other.Close() })
	if ok, err := s.Lock(ctx, "digest", "a", time.Minute); err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	if ok, _ := other.Lock(ctx, "digest", "b", time.Minute); ok {
		t.Fatal("two owners hold one lease")
	}
	if ok, _ := s.Lock(ctx, "digest", "a", time.Minute); !ok {
		t.Fatal("owner could not renew")
	}
	must(t, other.Unlock(ctx, "digest", "b")) // not b's to release
	if ok, _ := other.Lock(ctx, "digest", "b", time.Minute); ok {
		t.Fatal("a non-owner released the lease")
	}
	must(t, s.Unlock(ctx, "digest", "a"))
	if ok, _ := other.Lock(ctx, "digest", "b", time.Millisecond); !ok {
		t.Fatal("released lease not taken")
	}
	time.Sleep(20 * time.Millisecond)
	if ok, _ := s.Lock(ctx, "digest", "a", time.Minute); !ok {
		t.Fatal("expired lease not taken")
	}
}

func testMessages(t *testing.T, open Opener) {
	s, reopen := open(t)
	if _, ok, err := s.LoadMessage(ctx, "C1", "1.1"); ok || err != nil {
		t.Fatalf("unknown message: %v %v", ok, err)
	}
	body := []byte(`{"text":"digest","alerts":[{"ID":"a1","Title":"caf\u00e9 ☕ <b>"}]}`)
	must(t, s.SaveMessage(ctx, store.MessageRecord{Channel: "C1", TS: "1.1", Body: body}))
	must(t, s.SaveMessage(ctx, store.MessageRecord{Channel: "C1", TS: "1.2", Body: []byte(`{}`)}))
	other := reopen()
	defer other.Close()
	m, ok, err := other.LoadMessage(ctx, "C1", "1.1")
	if err != nil || !ok || string(m.Body) != string(body) || m.UpdatedAt.IsZero() {
		t.Fatalf("%+v %v %v", m, ok, err)
	}
	// Saving again replaces the body.
	must(t, other.SaveMessage(ctx, store.MessageRecord{Channel: "C1", TS: "1.1", Body: []byte(`{"text":"v2"}`)}))
	if m, _, _ := s.LoadMessage(ctx, "C1", "1.1"); string(m.Body) != `{"text":"v2"}` {
		t.Fatalf("not replaced: %s", m.Body)
	}
}
