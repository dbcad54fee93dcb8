package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soc/mcasbot/store"
)

// testCloses: one close per alert, across handles; what it was is kept
// for the messages and the weekly report.
func testCloses(t *testing.T, open Opener) {
	t.Run("ClaimOnce", func(t *testing.T) {
		s, _ := open(t)
		mine := store.CloseRecord{Tenant: "contoso", AlertID: "a1", By: "U1", ByName: "carol", Classification: "benign", Reason: "confirmed_with_end_user", Comment: "called her ✓"}
		c, err := s.ClaimClose(ctx, mine)
		if err != nil || !c.Won || c.TookOver {
			t.Fatalf("first claim %+v %v", c, err)
		}
		c, err = s.ClaimClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: "a1", By: "U2", Classification: "true_positive"})
		if err != nil || c.Won || c.Record.State != store.ClosePending || c.Record.By != "U1" || c.Record.Classification != "benign" || c.Record.ClaimedAt.IsZero() {
			t.Fatalf("second claim %+v %v", c, err)
		}
		must(t, s.CompleteClose(ctx, mine))
		must(t, s.CompleteClose(ctx, mine)) // idempotent
		rec, ok, err := s.AlertClose(ctx, "contoso", "a1")
		if err != nil || !ok || rec.State != store.CloseDone || rec.By != "U1" || rec.ByName != "carol" || rec.Reason != "confirmed_with_end_user" ||
			rec.Comment != "called her ✓" || rec.Elsewhere || rec.ClosedAt.IsZero() || rec.ClosedAt.Before(rec.ClaimedAt) {
			t.Fatalf("record %+v %v %v", rec, ok, err)
		}
		c, _ = s.ClaimClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: "a1", By: "U3", Classification: "false_positive"})
		if c.Won || c.Record.State != store.CloseDone || c.Record.By != "U1" {
			t.Fatalf("claim after close %+v", c)
		}
		if c, _ := s.ClaimClose(ctx, store.CloseRecord{Tenant: "fabrikam", AlertID: "a1", By: "U1"}); !c.Won {
			t.Fatal("close claims leak across tenants")
		}
		if err := s.CompleteClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: "never-claimed"}); err == nil {
			t.Fatal("completed a close nobody claimed")
		}
	})
	t.Run("RaceTwoHandles", func(t *testing.T) {
		s, reopen := open(t)
		other := reopen()
		t.Cleanup(func() { _ = other.Close() })
		const n = 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []string
		for i := range n {
			h := []store.Store{s, other}[i%2]
			wg.Go(func() {
				c, err := h.ClaimClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: "race", By: fmt.Sprintf("U%d", i), Classification: "benign"})
				if err != nil {
					t.Error(err)
					return
				}
				if c.Won {
					mu.Lock()
					won = append(won, fmt.Sprintf("U%d", i))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(won) != 1 {
			t.Fatalf("%d close claims won (%v), want exactly 1", len(won), won)
		}
	})
	t.Run("AfterFailure", func(t *testing.T) {
		s, _ := open(t)
		if c, _ := s.ClaimClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: "a1", By: "U1", Classification: "benign"}); !c.Won {
			t.Fatal("claim")
		}
		must(t, s.FailClose(ctx, "contoso", "a1", "mcas: permission denied (HTTP 403)"))
		rec, _, _ := s.AlertClose(ctx, "contoso", "a1")
		if rec.State != store.CloseFailed || rec.Error == "" {
			t.Fatalf("record %+v", rec)
		}
		c, err := s.ClaimClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: "a1", By: "U2", ByName: "dave", Classification: "false_positive", Reason: "not_accurate"})
		if err != nil || !c.Won || !c.TookOver {
			t.Fatalf("retry after failure %+v %v", c, err)
		}
		rec, _, _ = s.AlertClose(ctx, "contoso", "a1")
		if rec.State != store.ClosePending || rec.By != "U2" || rec.Classification != "false_positive" || rec.Reason != "not_accurate" || rec.Error != "" {
			t.Fatalf("record after retry claim %+v", rec)
		}
	})
	t.Run("ElsewhereAndList", func(t *testing.T) {
		s, _ := open(t)
		t0 := time.Now().UTC().Add(-time.Hour)
		for i, id := range []string{"a1", "a2", "a3"} {
			if c, _ := s.ClaimClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: id, By: "U1", Classification: "benign", Reason: "triggered_by_test"}); !c.Won {
				t.Fatal("claim")
			}
			rec := store.CloseRecord{Tenant: "contoso", AlertID: id, Classification: "benign", Reason: "triggered_by_test", ClosedAt: t0.Add(time.Duration(i) * time.Minute)}
			if id == "a2" {
				rec = store.CloseRecord{Tenant: "contoso", AlertID: id, Classification: "resolved", Elsewhere: true, HandledBy: "erin@contoso.com", ClosedAt: t0.Add(time.Minute)}
			}
			must(t, s.CompleteClose(ctx, rec))
		}
		if c, _ := s.ClaimClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: "pending", By: "U1"}); !c.Won {
			t.Fatal("claim")
		}
		got, err := s.Closes(ctx, t0, t0.Add(2*time.Minute))
		must(t, err)
		if len(got) != 2 || got[0].AlertID != "a1" || got[1].AlertID != "a2" || !got[1].Elsewhere || got[1].HandledBy != "erin@contoso.com" || got[1].Classification != "resolved" {
			t.Fatalf("closes in window: %+v", got)
		}
		if !got[0].ClosedAt.Equal(t0.Truncate(time.Millisecond)) {
			t.Fatalf("closed at %v, want %v", got[0].ClosedAt, t0)
		}
		// The report's activity counts closes made from Slack, with the
		// time their digest posted them.
		posted := t0.Add(-2 * time.Hour).Truncate(time.Millisecond)
		must(t, s.MarkPosted(ctx, []store.Posting{{Tenant: "contoso", AlertID: "a1", Channel: "C1", TS: "1.1", PostedAt: posted}}))
		act, err := s.Activity(ctx, t0, t0.Add(time.Hour))
		must(t, err)
		if len(act.Closed) != 2 || act.Closed[0].AlertID != "a1" || !act.Closed[0].PostedAt.Equal(posted) || act.Closed[0].Reason != "triggered_by_test" ||
			act.Closed[1].AlertID != "a3" || !act.Closed[1].PostedAt.IsZero() {
			t.Fatalf("activity closes %+v", act.Closed)
		}
	})
	// Issue #16: an alert reopened in the portal after its close is closed
	// anew; the earlier close stays in the history and in the report.
	t.Run("ReopenedAndClosedAgain", func(t *testing.T) {
		s, _ := open(t)
		week := time.Now().UTC().Add(-10 * 24 * time.Hour).Truncate(time.Millisecond)
		first := store.CloseRecord{Tenant: "contoso", AlertID: "a1", By: "U1", ByName: "carol", Classification: "benign", Reason: "triggered_by_test", Comment: "pen test", ClosedAt: week}
		if c, _ := s.ClaimClose(ctx, first); !c.Won {
			t.Fatal("claim")
		}
		must(t, s.CompleteClose(ctx, first))
		must(t, s.MarkPosted(ctx, []store.Posting{{Tenant: "contoso", AlertID: "a1", Channel: "C1", TS: "1.1", PostedAt: week.Add(-time.Hour)}}))
		closed, _, _ := s.AlertClose(ctx, "contoso", "a1")
		if closed.Generation != 0 || !closed.ReopenedAt.IsZero() {
			t.Fatalf("first close %+v", closed)
		}
		// A stale view (another generation) reopens nothing.
		if ok, err := s.ReopenClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: "a1", Generation: 1}); ok || err != nil {
			t.Fatalf("reopened from a stale record: %v %v", ok, err)
		}
		ok, err := s.ReopenClose(ctx, closed)
		if !ok || err != nil {
			t.Fatalf("reopen %v %v", ok, err)
		}
		if ok, _ := s.ReopenClose(ctx, closed); ok {
			t.Fatal("reopened twice")
		}
		rec, _, _ := s.AlertClose(ctx, "contoso", "a1")
		if rec.State != store.CloseReopened || rec.Generation != 1 || rec.ReopenedAt.IsZero() || rec.By != "U1" || rec.ByName != "carol" ||
			rec.Classification != "benign" || !rec.ClosedAt.Equal(week) {
			t.Fatalf("reopened record %+v", rec)
		}
		// The report still counts the close in its week; the reopened record
		// is not a second one.
		inWeek := func(from, to time.Time) []store.ClosedAlert {
			t.Helper()
			a, err := s.Activity(ctx, from, to)
			must(t, err)
			return a.Closed
		}
		got := inWeek(week.Add(-time.Hour), week.Add(time.Hour))
		if len(got) != 1 || got[0].By != "U1" || !got[0].ClosedAt.Equal(week) || got[0].Reason != "triggered_by_test" || !got[0].PostedAt.Equal(week.Add(-time.Hour)) {
			t.Fatalf("report of the first week %+v", got)
		}
		// The bot's rules (the Jira sync) leave a reopened alert to people.
		if c, err := s.ClaimClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: "a1", By: store.JiraSyncCloser, ByName: "Jira sync"}); err != nil || c.Won ||
			c.Record.State != store.CloseReopened {
			t.Fatalf("the Jira sync claimed a reopened alert: %+v %v", c, err)
		}
		// The next close claims it anew.
		second := store.CloseRecord{Tenant: "contoso", AlertID: "a1", By: "U2", ByName: "dave", Classification: "true_positive"}
		c, err := s.ClaimClose(ctx, second)
		if err != nil || !c.Won || !c.TookOver {
			t.Fatalf("claim after reopen %+v %v", c, err)
		}
		if c, _ := s.ClaimClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: "a1", By: "U3"}); c.Won || c.Record.By != "U2" {
			t.Fatalf("a second claim after reopen %+v", c)
		}
		// Failed, it is free again for people, and still not for the bot.
		must(t, s.FailClose(ctx, "contoso", "a1", "mcas: HTTP 503"))
		if c, _ := s.ClaimClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: "a1", By: store.JiraSyncCloser}); c.Won {
			t.Fatal("the Jira sync took over a failed close of a reopened alert")
		}
		if c, _ := s.ClaimClose(ctx, second); !c.Won {
			t.Fatal("claim after a failed claim of a reopened alert")
		}
		second.ClosedAt = time.Now().UTC().Truncate(time.Millisecond)
		must(t, s.CompleteClose(ctx, second))
		rec, _, _ = s.AlertClose(ctx, "contoso", "a1")
		if rec.State != store.CloseDone || rec.By != "U2" || rec.Classification != "true_positive" || rec.Reason != "" || rec.Comment != "" || rec.Generation != 1 {
			t.Fatalf("second close %+v", rec)
		}
		hist, err := s.CloseHistory(ctx, "contoso", "a1")
		must(t, err)
		if len(hist) != 1 || hist[0].State != store.CloseDone || hist[0].Generation != 0 || hist[0].By != "U1" || hist[0].Comment != "pen test" ||
			!hist[0].ClosedAt.Equal(week) || hist[0].ReopenedAt.IsZero() {
			t.Fatalf("history %+v", hist)
		}
		if got := inWeek(week.Add(-time.Hour), week.Add(time.Hour)); len(got) != 1 || got[0].By != "U1" {
			t.Fatalf("first week after the second close %+v", got)
		}
		if got := inWeek(second.ClosedAt.Add(-time.Minute), second.ClosedAt.Add(time.Minute)); len(got) != 1 || got[0].By != "U2" || got[0].Generation != 1 {
			t.Fatalf("this week %+v", got)
		}
		all, err := s.Closes(ctx, week.Add(-time.Hour), second.ClosedAt.Add(time.Minute))
		must(t, err)
		if len(all) != 2 || all[0].By != "U1" || all[1].By != "U2" {
			t.Fatalf("closes of both weeks %+v", all)
		}
		// Reopened again: a second history row.
		if ok, _ := s.ReopenClose(ctx, rec); !ok {
			t.Fatal("second reopen")
		}
		if hist, _ := s.CloseHistory(ctx, "contoso", "a1"); len(hist) != 2 || hist[1].By != "U2" || hist[1].Generation != 1 {
			t.Fatalf("history after the second reopen %+v", hist)
		}
		if hist, _ := s.CloseHistory(ctx, "fabrikam", "a1"); len(hist) != 0 {
			t.Fatal("history leaks across tenants")
		}
	})
	t.Run("ReopenOnceAcrossHandles", func(t *testing.T) {
		s, reopen := open(t)
		other := reopen()
		t.Cleanup(func() { _ = other.Close() })
		rec := store.CloseRecord{Tenant: "contoso", AlertID: "race", By: "U1", Classification: "benign"}
		if c, _ := s.ClaimClose(ctx, rec); !c.Won {
			t.Fatal("claim")
		}
		must(t, s.CompleteClose(ctx, rec))
		closed, _, _ := s.AlertClose(ctx, "contoso", "race")
		const n = 16
		var wg sync.WaitGroup
		var won atomic.Int32
		for i := range n {
			h := []store.Store{s, other}[i%2]
			wg.Go(func() {
				ok, err := h.ReopenClose(ctx, closed)
				if err != nil {
					t.Error(err)
				}
				if ok {
					won.Add(1)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("%d reopens won, want exactly 1", won.Load())
		}
		if hist, _ := s.CloseHistory(ctx, "contoso", "race"); len(hist) != 1 {
			t.Fatalf("history %+v", hist)
		}
	})
}
