package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/store/storetest"
)

// The migration that adds reopened closes (issue #16) rebuilds the closes
// table: every close recorded before it is still there, and still works.
func TestReopenMigrationKeepsCloses(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) { testReopenMigration(t, "sqlite:"+filepath.Join(t.TempDir(), "s.db")) })
	t.Run("PostgreSQL", func(t *testing.T) { testReopenMigration(t, storetest.PostgresURL(t)) })
}

func testReopenMigration(t *testing.T, url string) {
	ctx := context.Background()
	at := time.Date(2026, 11, 24, 8, 10, 0, 0, time.UTC)
	old, err := store.OpenBeforeForTest(ctx, url, "CREATE TABLE closes_v7")
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range []store.CloseRecord{
		{Tenant: "contoso", AlertID: "done", By: "U1", ByName: "carol", Classification: "benign", Reason: "triggered_by_test", Comment: "pen test ✓", ClosedAt: at},
		{Tenant: "contoso", AlertID: "portal", Classification: "resolved", Elsewhere: true, HandledBy: "erin@contoso.com", ClosedAt: at},
		{Tenant: "contoso", AlertID: "pending", By: "U2"},
	} {
		if c, err := old.ClaimClose(ctx, rec); err != nil || !c.Won {
			t.Fatalf("claim %+v %v", c, err)
		}
		if rec.AlertID != "pending" {
			if err := old.CompleteClose(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := old.FailClose(ctx, "contoso", "pending", "mcas: HTTP 403"); err != nil {
		t.Fatal(err)
	}
	_ = old.Close()

	s, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	done, ok, err := s.AlertClose(ctx, "contoso", "done")
	if err != nil || !ok || done.State != store.CloseDone || done.By != "U1" || done.ByName != "carol" || done.Reason != "triggered_by_test" ||
		done.Comment != "pen test ✓" || !done.ClosedAt.Equal(at) || done.Generation != 0 {
		t.Fatalf("close after the migration %+v %v %v", done, ok, err)
	}
	if rec, _, _ := s.AlertClose(ctx, "contoso", "portal"); !rec.Elsewhere || rec.HandledBy != "erin@contoso.com" || rec.State != store.CloseDone {
		t.Fatalf("portal close after the migration %+v", rec)
	}
	if rec, _, _ := s.AlertClose(ctx, "contoso", "pending"); rec.State != store.CloseFailed || rec.Error != "mcas: HTTP 403" {
		t.Fatalf("failed claim after the migration %+v", rec)
	}
	if got, err := s.Closes(ctx, at, at.Add(time.Minute)); err != nil || len(got) != 2 {
		t.Fatalf("closes after the migration %+v %v", got, err)
	}
	// And an old close can be reopened and closed anew.
	if ok, err := s.ReopenClose(ctx, done); !ok || err != nil {
		t.Fatalf("reopen %v %v", ok, err)
	}
	if c, err := s.ClaimClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: "done", By: "U3"}); err != nil || !c.Won {
		t.Fatalf("claim after reopen %+v %v", c, err)
	}
}
