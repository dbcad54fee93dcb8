package closing_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/closing"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// doneIssue is the world's alert's issue, as the Jira sync read it.
func (w *world) doneIssue(t *testing.T, resolution string) (store.TrackedIssue, store.JiraState) {
	t.Helper()
	key := w.fileIssue(t)
	issue := store.TrackedIssue{IssueRecord: store.IssueRecord{Tenant: "contoso", AlertID: w.alert.ID, Key: key}}
	return issue, store.JiraState{Key: key, Status: "Done", Category: "done", Resolution: resolution}
}

// closeDone hands the sync's done issue to the closer, as the sync does.
func closeDone(d *closing.JiraDone, issue store.TrackedIssue, st store.JiraState) (bool, error) {
	changed, err := d.CloseDone(context.Background(), issue.Tenant, issue.Key, []string{issue.AlertID}, st)
	if len(changed) > 1 || (len(changed) == 1 && changed[0] != issue.AlertID) {
		return false, fmt.Errorf("changed %v", changed)
	}
	return len(changed) == 1, err
}

func TestJiraDoneClosesWithTheClassificationAndNoJiraComment(t *testing.T) {
	for _, tc := range []struct {
		kind   source.Classification
		reason string
		id     *int
	}{
		{source.TruePositive, "", nil},
		{source.Benign, "other", ptr(4)},
		{source.FalsePositive, "other", ptr(4)},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			w := newWorld(t)
			var logs bytes.Buffer
			d := &closing.JiraDone{Service: w.svc, Classification: tc.kind, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
			issue, st := w.doneIssue(t, "Fixed")
			changed, err := closeDone(d, issue, st)
			if err != nil || !changed {
				t.Fatalf("%v %v", changed, err)
			}
			c := w.mcas.Closes()
			if len(c) != 1 || c[0].Kind != string(tc.kind) || (c[0].ReasonID == nil) != (tc.id == nil) ||
				(tc.id != nil && *c[0].ReasonID != *tc.id) || c[0].Comment != "Jira "+issue.Key+" resolved: Fixed" {
				t.Fatalf("MCAS got %+v", c)
			}
			rec, _, _ := w.store.AlertClose(context.Background(), "contoso", w.alert.ID)
			if rec.State != store.CloseDone || rec.By != store.JiraSyncCloser || rec.ByName != "Jira sync" || !rec.ByBot() ||
				rec.Classification != string(tc.kind) || rec.Reason != tc.reason || rec.Comment != issue.Key+" resolved: Fixed" {
				t.Fatalf("record %+v", rec)
			}
			if n := len(w.jira.Comments(issue.Key)); n != 0 {
				t.Fatalf("%d comments on the issue that closed it", n)
			}
			for _, want := range []string{`"msg":"audit: alert closed"`, `"actor":"Jira sync"`, `"user":"bot:jira-sync"`, `"issue":"` + issue.Key + `"`, `"outcome":"closed"`} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log lacks %s:\n%s", want, logs.String())
				}
			}
			// An earlier close is not repeated.
			if changed, err := closeDone(d, issue, st); err != nil || !changed || len(w.mcas.Closes()) != 1 {
				t.Fatalf("second close: %v %v, %d MCAS closes", changed, err, len(w.mcas.Closes()))
			}
		})
	}
}

// An alert resolved in the portal is recorded as such, not closed twice.
func TestJiraDoneRecordsAnAlertClosedInThePortal(t *testing.T) {
	w := newWorld(t)
	issue, st := w.doneIssue(t, "Fixed")
	w.mcas.Resolve(w.alert.ID, source.ResolutionResolved, "erin@contoso.com", time.Now().Add(-time.Hour))
	d := &closing.JiraDone{Service: w.svc, Classification: source.TruePositive}
	if changed, err := closeDone(d, issue, st); err != nil || !changed {
		t.Fatalf("%v %v", changed, err)
	}
	rec, _, _ := w.store.AlertClose(context.Background(), "contoso", w.alert.ID)
	if !rec.Elsewhere || rec.HandledBy != "erin@contoso.com" || rec.Classification != "resolved" {
		t.Fatalf("record %+v", rec)
	}
	if a, _ := w.mcas.Alert(w.alert.ID); a.ResolutionStatusValue != source.ResolutionResolved {
		t.Fatalf("alert now %d", a.ResolutionStatusValue)
	}
}

// A 403 fails, releases the claim and says why; the next call closes.
func TestJiraDoneFailureIsToldAndReleased(t *testing.T) {
	w := newWorld(t)
	issue, st := w.doneIssue(t, "Fixed")
	w.mcas.AddReadOnlyToken("read-only")
	good, _ := w.svc.Tenants.Tenant("contoso")
	if c, err := mcas.New(mcas.Config{Name: "contoso", URL: w.mcas.URL, Token: "read-only", RequestsPerMinute: -1}, w.mcas.Client(), nil); err == nil {
		w.svc.Tenants.Put(c)
	}
	var outcomes []string
	d := &closing.JiraDone{Service: w.svc, Classification: source.Benign, OnOutcome: func(o string) { outcomes = append(outcomes, o) }}
	changed, err := closeDone(d, issue, st)
	if changed || err == nil || !strings.Contains(err.Error(), "Investigation.manage") {
		t.Fatalf("%v %v", changed, err)
	}
	if rec, _, _ := w.store.AlertClose(context.Background(), "contoso", w.alert.ID); rec.State != store.CloseFailed {
		t.Fatalf("claim left %+v", rec)
	}
	w.svc.Tenants.Put(good)
	if changed, err := closeDone(d, issue, st); err != nil || !changed {
		t.Fatalf("after the fix: %v %v", changed, err)
	}
	if strings.Join(outcomes, ",") != "failed,closed" {
		t.Fatalf("outcomes %v", outcomes)
	}
}

func TestDoneNoteIsCleaned(t *testing.T) {
	for _, tc := range []struct {
		st   store.JiraState
		want string
	}{
		{store.JiraState{Resolution: "Fixed"}, "SEC-9 resolved: Fixed"},
		{store.JiraState{Resolution: "Won't\nFix\u202e <!channel>\x00"}, "SEC-9 resolved: Won't Fix <!channel>"},
		{store.JiraState{Status: "Closed"}, "SEC-9 moved to Closed"},
		{store.JiraState{}, "SEC-9 moved to Done"},
		{store.JiraState{Resolution: strings.Repeat("x", 300)}, "SEC-9 resolved: " + strings.Repeat("x", 99) + "…"},
	} {
		if got := closing.DoneNote("SEC-9", tc.st); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.st, got, tc.want)
		}
	}
}
