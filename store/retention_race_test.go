package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/store/storetest"
)

// A click that claims an old alert after a prune chose it, before the
// prune deletes it (PostgreSQL: other connections write between the
// batch's statements; SQLite holds the lock for the whole batch): the
// claim stays and completes.
func TestPruneKeepsClaimsMadeMidBatch(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2031, 3, 10, 9, 0, 0, 0, time.UTC)
	old := now.AddDate(0, 0, -200)
	dsn := storetest.PostgresURL(t)
	clock := old
	open := func() store.Store {
		s, err := store.Open(ctx, dsn, store.WithClock(func() time.Time { return clock }))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	s, other := open(), open()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.MarkPosted(ctx, []store.Posting{{Tenant: "contoso", AlertID: "a1", Channel: "C1", TS: "1.1", PostedAt: old},
		{Tenant: "contoso", AlertID: "a2", Channel: "C1", TS: "1.1", PostedAt: old}}))
	// a2 had a close that failed long ago: a click now claims it again.
	if c, _ := s.ClaimClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: "a2", By: "U1", Classification: "benign"}); !c.Won {
		t.Fatal("close claim")
	}
	must(s.FailClose(ctx, "contoso", "a2", "MCAS answered 500"))
	clock = now
	var clicked bool
	store.SetBeforeDropForTest(func() {
		if clicked {
			return
		}
		clicked = true
		if c, err := other.ClaimIssue(ctx, "contoso", "a1", "U2"); err != nil || !c.Won {
			t.Errorf("issue claim: %+v %v", c, err)
		}
		if c, err := other.ClaimClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: "a2", By: "U2", Classification: "benign"}); err != nil || !c.Won {
			t.Errorf("close claim: %+v %v", c, err)
		}
	})
	t.Cleanup(func() { store.SetBeforeDropForTest(nil) })
	if _, err := s.Prune(ctx, now.AddDate(0, 0, -180), store.KeepRules{}, store.PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	if !clicked {
		t.Fatal("the prune chose nothing")
	}
	must(other.CompleteIssue(ctx, "contoso", "a1", "SEC-1", ""))
	must(other.CompleteClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: "a2", Classification: "benign"}))
	if rec, ok, _ := s.AlertClose(ctx, "contoso", "a2"); !ok || rec.State != store.CloseDone || rec.By != "U2" {
		t.Fatalf("close %+v %v", rec, ok)
	}
}
