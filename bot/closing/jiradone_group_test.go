package closing_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/closing"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// The Jira sync's close of a group's issue goes through the group close:
// one MCAS call for the alerts still open, each alert under its claim.

// doneJira is a JiraDone on the world's service that logs and counts.
type doneJira struct {
	*closing.JiraDone
	logs     bytes.Buffer
	mu       sync.Mutex
	outcomes map[string]int
}

func (w *world) jiraDone(kind source.Classification) *doneJira {
	d := &doneJira{outcomes: map[string]int{}}
	d.JiraDone = &closing.JiraDone{Service: w.svc, Classification: kind, Logger: slog.New(slog.NewJSONHandler(&d.logs, nil)),
		OnOutcome: func(o string) { d.mu.Lock(); d.outcomes[o]++; d.mu.Unlock() }}
	return d
}

// lines counts the audit lines msg that name the sync as the actor.
func (d *doneJira) lines(msg string) int {
	n := 0
	for _, l := range strings.Split(d.logs.String(), "\n") {
		if strings.Contains(l, `"msg":"`+msg+`"`) && strings.Contains(l, `"user":"bot:jira-sync","actor":"Jira sync"`) {
			n++
		}
	}
	return n
}

var done = store.JiraState{Status: "Done", Category: "done", Resolution: "Fixed"}

// Two alerts closed from Slack are left out; one resolved in the portal is
// in the call, comes back in alertsNotFound, is read again and recorded
// as the portal's close.
func TestJiraDoneClosesAGroupsOpenAlertsWithOneCall(t *testing.T) {
	w := newWorld(t)
	ids := w.group(t)
	key := w.fileGroup(t, ids)
	ctx := context.Background()
	for _, id := range []string{ids[1], ids[5]} {
		r := w.req(source.FalsePositive, "other", "seen before")
		r.AlertID = id
		if res, err := w.svc.Close(ctx, r); err != nil || res.Outcome != closing.Closed {
			t.Fatalf("Slack close: %+v %v", res, err)
		}
	}
	comments := len(w.jira.Comments(key))
	w.mcas.Resolve(ids[3], source.ResolutionResolved, "erin@contoso.com", time.Now().Add(-time.Hour))
	d := w.jiraDone(source.Benign)
	changed, err := d.CloseDone(ctx, "contoso", key, ids, done)
	slices.Sort(changed)
	if err != nil || !slices.Equal(changed, ids) {
		t.Fatalf("changed %v, %v", changed, err)
	}
	closes := w.mcas.Closes()
	open := []string{ids[0], ids[2], ids[3], ids[4], ids[6]}
	if len(closes) != 3 {
		t.Fatalf("%d close calls", len(closes))
	}
	if c := closes[2]; c.Kind != "benign" || c.ReasonID == nil || *c.ReasonID != 4 || !slices.Equal(c.IDs, open) ||
		!slices.Equal(c.NotFound, []string{ids[3]}) || c.Comment != "Jira "+key+" resolved: Fixed" {
		t.Fatalf("MCAS got %+v", c)
	}
	for i, id := range ids {
		rec, _, _ := w.store.AlertClose(ctx, "contoso", id)
		switch i {
		case 1, 5:
			if rec.By != "U0CAROL" || rec.Classification != "false_positive" {
				t.Fatalf("Slack close of %s became %+v", id, rec)
			}
		case 3:
			if !rec.Elsewhere || rec.HandledBy != "erin@contoso.com" || rec.Classification != "resolved" {
				t.Fatalf("portal close recorded as %+v", rec)
			}
		default:
			if rec.State != store.CloseDone || rec.By != store.JiraSyncCloser || rec.ByName != "Jira sync" || rec.Classification != "benign" ||
				rec.Reason != "other" || rec.Comment != key+" resolved: Fixed" || rec.Elsewhere {
				t.Fatalf("record of %s: %+v", id, rec)
			}
		}
	}
	if n := len(w.jira.Comments(key)); n != comments {
		t.Fatalf("the sync commented on %s", key)
	}
	if d.lines("audit: alert closed") != 4 || d.lines("audit: alert already closed") != 3 || d.outcomes["closed"] != 4 || d.outcomes["already_closed"] != 3 {
		t.Fatalf("outcomes %v, logs:\n%s", d.outcomes, d.logs.String())
	}
	// Nothing left: no call.
	if changed, err := d.CloseDone(ctx, "contoso", key, ids, done); err != nil || len(changed) != 7 || len(w.mcas.Closes()) != 3 {
		t.Fatalf("again: %v %v, %d calls", changed, err, len(w.mcas.Closes()))
	}
}

// An alert gone from MCAS fails alone; the others are closed by the call.
func TestJiraDoneGroupWithAGoneAlert(t *testing.T) {
	w := newWorld(t)
	gone := "ffffffffffffffffffffffff"
	ids := append(w.group(t), gone)
	d := w.jiraDone(source.TruePositive)
	changed, err := d.CloseDone(context.Background(), "contoso", "SEC-1", ids, done)
	if err == nil || !strings.Contains(err.Error(), "has no alert "+gone) || len(changed) != 7 || slices.Contains(changed, gone) || len(w.mcas.Closes()) != 1 {
		t.Fatalf("changed %v, %v", changed, err)
	}
	if rec, _, _ := w.store.AlertClose(context.Background(), "contoso", gone); rec.State != store.CloseFailed {
		t.Fatalf("claim of the gone alert %+v", rec)
	}
	if d.lines("audit: alert close failed") != 1 || d.lines("audit: alert closed") != 7 || d.outcomes["failed"] != 1 {
		t.Fatalf("outcomes %v", d.outcomes)
	}
}

// A 403 fails the one call: every claim released, an audit line each;
// fixed, one call closes them all.
func TestJiraDoneGroupFailureIsReleasedAndRetriedInOneCall(t *testing.T) {
	w := newWorld(t)
	ids := w.group(t)
	w.mcas.AddReadOnlyToken("read-only")
	good, _ := w.svc.Tenants.Tenant("contoso")
	if c, err := mcas.New(mcas.Config{Name: "contoso", URL: w.mcas.URL, Token: "read-only", RequestsPerMinute: -1}, w.mcas.Client(), nil); err == nil {
		w.svc.Tenants.Put(c)
	}
	d := w.jiraDone(source.TruePositive)
	changed, err := d.CloseDone(context.Background(), "contoso", "SEC-1", ids, done)
	if len(changed) != 0 || err == nil || !strings.Contains(err.Error(), "Investigation.manage") {
		t.Fatalf("%v %v", changed, err)
	}
	for _, id := range ids {
		if rec, _, _ := w.store.AlertClose(context.Background(), "contoso", id); rec.State != store.CloseFailed {
			t.Fatalf("claim of %s left %+v", id, rec)
		}
	}
	if d.lines("audit: alert close failed") != 7 || d.outcomes["failed"] != 7 {
		t.Fatalf("outcomes %v", d.outcomes)
	}
	w.svc.Tenants.Put(good)
	if changed, err := d.CloseDone(context.Background(), "contoso", "SEC-1", ids, done); err != nil || len(changed) != 7 {
		t.Fatalf("after the fix: %v %v", changed, err)
	}
	if c := w.mcas.Closes(); len(c) != 1 || !slices.Equal(c[0].IDs, ids) {
		t.Fatalf("MCAS got %+v", c)
	}
}

// An analyst closing one of the alerts right now: the sync closes nothing
// and says so; once they are done, it closes the rest in one call.
func TestJiraDoneGroupLeavesAnAnalystsCloseToThem(t *testing.T) {
	w := newWorld(t)
	ids := w.group(t)
	ctx := context.Background()
	theirs := store.CloseRecord{Tenant: "contoso", AlertID: ids[2], By: "U0DAVE", ByName: "dave", Classification: "true_positive"}
	if c, err := w.store.ClaimClose(ctx, theirs); err != nil || !c.Won {
		t.Fatal("claim", err)
	}
	w.svc.Wait = time.Millisecond // dave's close outlasts the sync's wait
	d := w.jiraDone(source.TruePositive)
	if changed, err := d.CloseDone(ctx, "contoso", "SEC-1", ids, done); err != nil || len(changed) != 0 || len(w.mcas.Requests()) != 0 {
		t.Fatalf("%v %v, %d MCAS requests", changed, err, len(w.mcas.Requests()))
	}
	if d.lines("audit: alert close in progress") != 7 || d.outcomes["in_progress"] != 7 || !strings.Contains(d.logs.String(), `"closing_by":"U0DAVE"`) {
		t.Fatalf("outcomes %v", d.outcomes)
	}
	theirs.State, theirs.ClosedAt = store.CloseDone, time.Now()
	if err := w.store.CompleteClose(ctx, theirs); err != nil {
		t.Fatal(err)
	}
	if changed, err := d.CloseDone(ctx, "contoso", "SEC-1", ids, done); err != nil || len(changed) != 7 {
		t.Fatalf("after dave: %v %v", changed, err)
	}
	if c := w.mcas.Closes(); len(c) != 1 || len(c[0].IDs) != 6 || slices.Contains(c[0].IDs, ids[2]) {
		t.Fatalf("MCAS got %+v", c)
	}
	if rec, _, _ := w.store.AlertClose(ctx, "contoso", ids[2]); rec.By != "U0DAVE" {
		t.Fatalf("dave's close became %+v", rec)
	}
}

// A close refused before any claim (a tenant not configured here) says so
// for each alert and calls nothing.
func TestJiraDoneGroupRefusedIsToldPerAlert(t *testing.T) {
	w := newWorld(t)
	ids := w.group(t)
	d := w.jiraDone(source.TruePositive)
	changed, err := d.CloseDone(context.Background(), "nowhere", "SEC-1", ids, done)
	if len(changed) != 0 || err == nil || !strings.Contains(err.Error(), "not configured") || len(w.mcas.Requests()) != 0 {
		t.Fatalf("%v %v", changed, err)
	}
	if d.lines("audit: alert close refused") != 7 || d.outcomes["refused"] != 7 {
		t.Fatalf("outcomes %v", d.outcomes)
	}
}
