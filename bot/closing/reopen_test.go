package closing_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/closing"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// Issue #16: an alert the store has closed but MCAS shows open again.

// closeThenReopen closes the world's alert as carol, then reopens it in
// the portal.
func (w *world) closeThenReopen(t *testing.T) store.CloseRecord {
	t.Helper()
	res, err := w.svc.Close(context.Background(), w.req(source.Benign, "triggered_by_test", "pen test"))
	if err != nil || res.Outcome != closing.Closed {
		t.Fatalf("first close %+v %v", res, err)
	}
	if !w.mcas.Reopen(w.alert.ID) {
		t.Fatal("reopen")
	}
	w.later()
	return res.Record
}

// later moves the service's clock past ReopenAfter: the alert is read
// well after its close.
func (w *world) later() {
	w.svc.Now = func() time.Time { return time.Now().UTC().Add(90 * time.Second) }
}

func (w *world) logTo(buf *bytes.Buffer) {
	w.svc.Logger = slog.New(slog.NewJSONHandler(buf, nil))
}

func TestAReopenedAlertIsClosedAnew(t *testing.T) {
	w := newWorld(t)
	var logs bytes.Buffer
	w.logTo(&logs)
	first := w.closeThenReopen(t)
	ctx := context.Background()
	res, err := w.svc.Close(ctx, closing.Request{Tenant: "contoso", AlertID: w.alert.ID, By: closing.Analyst{ID: "U0DAVE", Name: "dave"}, Classification: source.TruePositive})
	if err != nil || res.Outcome != closing.Closed || res.Record.By != "U0DAVE" || res.Reopened == nil || res.Reopened.By != "U0CAROL" {
		t.Fatalf("close of the reopened alert %+v %v", res, err)
	}
	if c := w.mcas.Closes(); len(c) != 2 || c[1].Kind != "true_positive" || c[1].IDs[0] != w.alert.ID {
		t.Fatalf("MCAS got %+v", c)
	}
	rec, _, _ := w.store.AlertClose(ctx, "contoso", w.alert.ID)
	hist, _ := w.store.CloseHistory(ctx, "contoso", w.alert.ID)
	if rec.State != store.CloseDone || rec.By != "U0DAVE" || rec.Generation != 1 || len(hist) != 1 || hist[0].By != "U0CAROL" || hist[0].Reason != "triggered_by_test" ||
		!hist[0].ClosedAt.Equal(first.ClosedAt.Truncate(time.Millisecond)) {
		t.Fatalf("record %+v, history %+v", rec, hist)
	}
	line := auditLine(t, logs.String(), "audit: alert reopened in Defender")
	for _, want := range []string{`"tenant":"contoso"`, `"alert":"` + w.alert.ID + `"`, `"earlier_closed_by":"U0CAROL"`, `"earlier_classification":"benign"`,
		`"earlier_closed_at":"`, `"closes_before":1`, `"outcome":"reopened"`} {
		if !strings.Contains(line, want) {
			t.Errorf("audit line lacks %s: %s", want, line)
		}
	}
	// Closed again: the next close is told so, and MCAS is not called.
	res, err = w.svc.Close(ctx, w.req(source.Benign, "triggered_by_test", ""))
	if err != nil || res.Outcome != closing.AlreadyClosed || res.Record.By != "U0DAVE" || res.Reopened != nil || len(w.mcas.Closes()) != 2 {
		t.Fatalf("third close %+v %v", res, err)
	}
}

// Without a reopen in MCAS, the store's close stands: told at once, one
// read of MCAS, no close call.
func TestAClosedAlertStaysClosed(t *testing.T) {
	w := newWorld(t)
	if _, err := w.svc.Close(context.Background(), w.req(source.Benign, "triggered_by_test", "")); err != nil {
		t.Fatal(err)
	}
	w.mcas.ResetRequests()
	res, err := w.svc.Close(context.Background(), w.req(source.TruePositive, "", ""))
	if err != nil || res.Outcome != closing.AlreadyClosed || res.Reopened != nil || len(w.mcas.Closes()) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	if reqs := w.mcas.Requests(); len(reqs) != 1 || reqs[0].Method != "GET" {
		t.Fatalf("requests %+v", reqs)
	}
	chk, err := w.svc.Recheck(context.Background(), "contoso", w.alert.ID)
	if err != nil || chk.Closed == nil || chk.Reopened != nil || chk.Recorded {
		t.Fatalf("recheck %+v %v", chk, err)
	}
}

// Many analysts on two replicas press Close… on a reopened alert at once:
// one reopen, one new close, one audit line.
func TestAReopenIsRecordedOnce(t *testing.T) {
	w := newWorld(t)
	var logs bytes.Buffer
	w.logTo(&logs)
	w.closeThenReopen(t)
	w.mcas.SetLatency(50 * time.Millisecond)
	other := *w.svc // another replica on the same store
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[closing.Outcome]int{}
	recorded := 0
	for i := range 8 {
		svc := []*closing.Service{w.svc, &other}[i%2]
		wg.Go(func() {
			if i%4 == 0 {
				chk, err := svc.Recheck(context.Background(), "contoso", w.alert.ID)
				if err != nil || chk.Reopened == nil {
					t.Errorf("recheck %+v %v", chk, err)
				}
				mu.Lock()
				if chk.Recorded {
					recorded++
				}
				mu.Unlock()
				return
			}
			res, err := svc.Close(context.Background(), closing.Request{Tenant: "contoso", AlertID: w.alert.ID, By: closing.Analyst{ID: "U0DAVE"}, Classification: source.TruePositive})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			outcomes[res.Outcome]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if n := len(w.mcas.Closes()); n != 2 || outcomes[closing.Closed] != 1 {
		t.Fatalf("%d close calls, outcomes %v", n, outcomes)
	}
	if n := strings.Count(logs.String(), `"msg":"audit: alert reopened in Defender"`); n != 1 {
		t.Fatalf("%d reopen audit lines", n)
	}
	if hist, _ := w.store.CloseHistory(context.Background(), "contoso", w.alert.ID); len(hist) != 1 {
		t.Fatalf("history %+v", hist)
	}
}

// Close… opening on an alert the store has closed asks MCAS once; a
// reopen found there is recorded once, and the next check needs no read.
func TestRecheckReopensOnce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	// Never closed: MCAS is not asked.
	w.mcas.ResetRequests()
	if chk, err := w.svc.Recheck(ctx, "contoso", w.alert.ID); err != nil || chk.Closed != nil || chk.Reopened != nil || len(w.mcas.Requests()) != 0 {
		t.Fatalf("open alert %+v %v %d requests", chk, err, len(w.mcas.Requests()))
	}
	w.closeThenReopen(t)
	// MCAS cannot be read: the store's close stands, with why.
	w.mcas.Fail(mcasfake.Fault{Path: "/api/v1/alerts/" + w.alert.ID, Status: 503}, mcasfake.Fault{Path: "/api/v1/alerts/" + w.alert.ID, Status: 503})
	if chk, err := w.svc.Recheck(ctx, "contoso", w.alert.ID); err == nil || chk.Closed == nil || chk.Reopened != nil || !strings.Contains(err.Error(), "whether it was reopened") {
		t.Fatalf("unreadable %+v %v", chk, err)
	}
	chk, err := w.svc.Recheck(ctx, "contoso", w.alert.ID)
	if err != nil || chk.Reopened == nil || !chk.Recorded || chk.Closed != nil || chk.Reopened.By != "U0CAROL" || chk.Alert == nil || !chk.Alert.Open() {
		t.Fatalf("reopened %+v %v", chk, err)
	}
	w.mcas.ResetRequests()
	if chk, err := w.svc.Recheck(ctx, "contoso", w.alert.ID); err != nil || chk.Reopened == nil || chk.Recorded || len(w.mcas.Requests()) != 0 {
		t.Fatalf("second check %+v %v", chk, err)
	}
	if rec, _, _ := w.store.AlertClose(ctx, "contoso", w.alert.ID); rec.State != store.CloseReopened {
		t.Fatalf("record %+v", rec)
	}
}

// JIRA_DONE_CLOSES_ALERT closes on the issue's done; an alert people
// reopened since is left to them, even while its issue stays done.
func TestJiraDoneLeavesAReopenedAlertToAnalysts(t *testing.T) {
	w := newWorld(t)
	key := w.fileIssue(t)
	d := w.jiraDone(source.Benign)
	ctx := context.Background()
	if changed, err := d.CloseDone(ctx, "contoso", key, []string{w.alert.ID}, done); err != nil || len(changed) != 1 {
		t.Fatalf("sync close %v %v", changed, err)
	}
	w.mcas.Reopen(w.alert.ID)
	w.later()
	if chk, err := w.svc.Recheck(ctx, "contoso", w.alert.ID); err != nil || !chk.Recorded || chk.Reopened.By != store.JiraSyncCloser {
		t.Fatalf("recheck %+v %v", chk, err)
	}
	for range 2 { // the next syncs, the issue still done
		changed, err := d.CloseDone(ctx, "contoso", key, []string{w.alert.ID}, done)
		if err != nil || len(changed) != 0 {
			t.Fatalf("sync after the reopen %v %v", changed, err)
		}
	}
	if n := len(w.mcas.Closes()); n != 1 {
		t.Fatalf("%d close calls: the sync closed a reopened alert", n)
	}
	if a, _ := w.mcas.Alert(w.alert.ID); a.ResolutionStatusValue != source.ResolutionOpen {
		t.Fatal("the alert is not open")
	}
	// Its close by an analyst after a failure is not taken over either.
	if _, err := w.svc.Close(ctx, w.req(source.TruePositive, "", "")); err != nil {
		t.Fatal(err)
	}
	w.mcas.Reopen(w.alert.ID)
	w.svc.Now = func() time.Time { return time.Now().UTC().Add(4 * time.Minute) }
	if _, err := w.svc.Recheck(ctx, "contoso", w.alert.ID); err != nil {
		t.Fatal(err)
	}
	w.mcas.Fail(mcasfake.Fault{Path: "/api/v1/alerts/close_", Status: 403})
	if res, _ := w.svc.Close(ctx, w.req(source.TruePositive, "", "")); res.Outcome != closing.Failed {
		t.Fatalf("failed close %+v", res)
	}
	if changed, err := d.CloseDone(ctx, "contoso", key, []string{w.alert.ID}, done); err != nil || len(changed) != 0 || len(w.mcas.Closes()) != 2 {
		t.Fatalf("sync after a failed close of a reopened alert %v %v, %d calls", changed, err, len(w.mcas.Closes()))
	}
	if d.outcomes["closed"] != 1 || len(d.outcomes) != 1 {
		t.Fatalf("outcomes %v", d.outcomes)
	}
}

func auditLine(t *testing.T, logs, msg string) string {
	t.Helper()
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `"msg":"`+msg+`"`) {
			return l
		}
	}
	t.Fatalf("no %q line in:\n%s", msg, logs)
	return ""
}

// A read just after a close may not show it yet: within ReopenAfter of the
// close, an open read is not taken for a reopen.
func TestAnOpenReadRightAfterACloseIsNoReopen(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if _, err := w.svc.Close(ctx, w.req(source.Benign, "triggered_by_test", "")); err != nil {
		t.Fatal(err)
	}
	w.mcas.Reopen(w.alert.ID) // as a lagging read would show it
	res, err := w.svc.Close(ctx, w.req(source.TruePositive, "", ""))
	if err != nil || res.Outcome != closing.AlreadyClosed || res.Reopened != nil || len(w.mcas.Closes()) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	if chk, err := w.svc.Recheck(ctx, "contoso", w.alert.ID); err != nil || chk.Closed == nil || chk.Recorded {
		t.Fatalf("recheck %+v %v", chk, err)
	}
	if hist, _ := w.store.CloseHistory(ctx, "contoso", w.alert.ID); len(hist) != 0 {
		t.Fatalf("history %+v", hist)
	}
	// A minute on, it is a reopen.
	w.later()
	if res, err := w.svc.Close(ctx, w.req(source.TruePositive, "", "")); err != nil || res.Outcome != closing.Closed || res.Reopened == nil {
		t.Fatalf("later %+v %v", res, err)
	}
}
