package storetest

import (
	"testing"
	"time"

	"github.com/soc/mcasbot/store"
)

// A cursor says which API it was read through; a change of API makes the
// cursor the floor, once (issue #17).
func testCursorSources(t *testing.T, open Opener) {
	s, reopen := open(t)
	t1 := time.Date(2026, 11, 24, 8, 0, 0, 5e6, time.UTC)
	// A cursor made before sources existed reads as MCAS's.
	must(t, s.AdvanceCursor(ctx, "contoso", t1))
	if c, ok, err := s.DigestCursor(ctx, "contoso"); err != nil || !ok || c.Source != "mcas" || !c.Newest.Equal(t1) || !c.Floor.IsZero() {
		t.Fatalf("legacy cursor %+v %v %v", c, ok, err)
	}
	// Without alerts, a tenant without a cursor gets none.
	must(t, s.MoveCursor(ctx, "fabrikam", "graph", time.Time{}))
	if _, ok, err := s.DigestCursor(ctx, "fabrikam"); ok || err != nil {
		t.Fatalf("a cursor without alerts: %v %v", ok, err)
	}
	if _, ok, _ := s.Cursor(ctx, "fabrikam"); ok {
		t.Fatal("Cursor sees a cursor that should not exist")
	}
	// Same source: forward only, no floor.
	must(t, s.MoveCursor(ctx, "contoso", "mcas", t1.Add(time.Hour)))
	must(t, s.MoveCursor(ctx, "contoso", "mcas", t1))
	if c, _, _ := s.DigestCursor(ctx, "contoso"); !c.Newest.Equal(t1.Add(time.Hour)) || !c.Floor.IsZero() {
		t.Fatalf("%+v", c)
	}
	// The switch, with nothing new read: the cursor becomes the floor.
	must(t, s.MoveCursor(ctx, "contoso", "graph", time.Time{}))
	c, _, _ := s.DigestCursor(ctx, "contoso")
	if c.Source != "graph" || !c.Floor.Equal(t1.Add(time.Hour)) || !c.Newest.Equal(t1.Add(time.Hour)) {
		t.Fatalf("after the switch %+v", c)
	}
	// Later moves keep the floor; another replica sees the same.
	must(t, s.MoveCursor(ctx, "contoso", "graph", t1.Add(3*time.Hour)))
	other := reopen()
	defer other.Close()
	c, _, _ = other.DigestCursor(ctx, "contoso")
	if c.Source != "graph" || !c.Floor.Equal(t1.Add(time.Hour)) || !c.Newest.Equal(t1.Add(3*time.Hour)) {
		t.Fatalf("later %+v", c)
	}
	if got, _, _ := other.Cursor(ctx, "contoso"); !got.Equal(c.Newest) {
		t.Fatalf("Cursor %v", got)
	}
	// A switch with alerts read: the floor is the cursor before the move.
	must(t, s.MoveCursor(ctx, "contoso", "mcas", t1.Add(5*time.Hour)))
	c, _, _ = s.DigestCursor(ctx, "contoso")
	if c.Source != "mcas" || !c.Floor.Equal(t1.Add(3*time.Hour)) || !c.Newest.Equal(t1.Add(5*time.Hour)) {
		t.Fatalf("back %+v", c)
	}
	// A new tenant's first cursor records its source.
	must(t, s.MoveCursor(ctx, "northwind", "graph", t1))
	if c, ok, _ := s.DigestCursor(ctx, "northwind"); !ok || c.Source != "graph" || !c.Floor.IsZero() {
		t.Fatalf("new %+v", c)
	}
	var _ store.DigestCursor = c
}
