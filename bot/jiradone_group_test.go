package bot_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// JIRA_DONE_CLOSES_ALERT on a group of repeats filed as one issue, end to
// end: the sync closes the group's open alerts with one MCAS call.

// doneGroup posts a digest whose one entry is bob's eight repeats, files
// the group's issue from Slack, lets the sync see it filed and turns
// JIRA_DONE_CLOSES_ALERT on. It returns the digest message, the repeats
// and the issue's key.
func doneGroup(t *testing.T, kind source.Classification) (*syncWorld, slackfake.Post, []mcasfake.Alert, string) {
	t.Helper()
	w := startSync(t, grouped)
	repeats := mcasfake.Repeats("contoso", bob, "b1", 8, now.Add(-30*time.Minute), 50*time.Minute)
	w.tenant("contoso").SetAlerts(repeats)
	w.tenant("fabrikam").SetAlerts(nil)
	if rep, err := w.digest.Run(context.Background(), false); err != nil || rep.Groups != 1 {
		t.Fatalf("digest %+v %v", rep, err)
	}
	parent := w.slack.Posts()[0]
	w.click(t, lead, parent, formatting.ActionCreateJira+":"+formatting.AlertKeyOf("contoso", repeats[0].ID))
	w.waitUpdate(t, parent, "all 8 alerts")
	issues := w.jira.Issues()
	if len(issues) != 1 {
		t.Fatalf("%d issues filed", len(issues))
	}
	if rep := w.run(t); rep.Tracked != 8 || rep.Closed != 0 {
		t.Fatalf("first sync %+v", rep)
	}
	w.closeOnDone(kind)
	return w, parent, repeats, issues[0].Key
}

// auditLines counts the log lines with msg written by the Jira sync.
func (w *syncWorld) auditLines(msg string) int {
	n := 0
	for _, l := range strings.Split(w.logs.String(), "\n") {
		if strings.Contains(l, `"msg":"`+msg+`"`) && strings.Contains(l, `"user":"bot:jira-sync","actor":"Jira sync"`) {
			n++
		}
	}
	return n
}

func TestDoneGroupClosesItsEightAlertsWithOneCall(t *testing.T) {
	w, parent, repeats, key := doneGroup(t, source.Benign)
	contoso := w.tenant("contoso")
	must(t, w.jira.Move(key, "Done", "Fixed"))
	if rep := w.run(t); rep.Changed != 8 || rep.Closed != 8 || rep.CloseFailed != 0 || rep.Redrawn != 1 {
		t.Fatalf("sync after Done %+v", rep)
	}
	closes := contoso.Closes()
	if len(closes) != 1 || closeCalls(contoso) != 1 {
		t.Fatalf("%d close calls: %+v", closeCalls(contoso), closes)
	}
	if c := closes[0]; c.Kind != "benign" || c.ReasonID == nil || *c.ReasonID != 4 || !slices.Equal(c.IDs, sortedIDs(repeats)) ||
		len(c.Closed) != 8 || c.Comment != "Jira "+key+" resolved: Fixed" {
		t.Fatalf("MCAS got %+v", c)
	}
	for _, a := range repeats {
		rec, ok, _ := w.store.AlertClose(context.Background(), "contoso", a.ID)
		if !ok || rec.State != store.CloseDone || rec.By != store.JiraSyncCloser || rec.Classification != "benign" || rec.Reason != "other" ||
			rec.Comment != key+" resolved: Fixed" || rec.Elsewhere {
			t.Fatalf("record of %s: %+v", a.ID, rec)
		}
		if got, _ := contoso.Alert(a.ID); got.ResolutionStatusValue != source.ResolutionBenign {
			t.Fatalf("%s is now %d", a.ID, got.ResolutionStatusValue)
		}
	}
	w.waitUpdate(t, parent, "all 8 closed as benign by Jira sync ("+key+" resolved: Fixed)")
	if n := len(w.jira.Comments(key)); n != 0 {
		t.Fatalf("%d comments on the issue that closed them", n)
	}
	if n := w.auditLines("audit: alert closed"); n != 8 {
		t.Fatalf("%d audit lines for 8 alerts:\n%s", n, w.logs.String())
	}
	// Later syncs call MCAS no more.
	if rep := w.run(t); rep.Closed != 0 || rep.Redrawn != 0 || closeCalls(contoso) != 1 {
		t.Fatalf("second sync %+v, %d close calls", rep, closeCalls(contoso))
	}
}

// Two alerts closed from their cards in Slack first are left out: one
// call with the other six.
func TestDoneGroupLeavesOutAlertsClosedFromSlack(t *testing.T) {
	w, parent, repeats, key := doneGroup(t, source.Benign)
	contoso := w.tenant("contoso")
	menu := formatting.ActionMenu + ":" + formatting.AlertKeyOf("contoso", repeats[0].ID)
	list := w.reply(t, w.pick(t, analyst, parent, menu, groupValue(formatting.OpDetails, repeats)))
	for _, a := range []mcasfake.Alert{repeats[2], repeats[5]} {
		card := w.reply(t, w.pick(t, dave, list, formatting.ActionDetails, formatting.TriageValue{Op: formatting.OpDetails, Tenant: "contoso", AlertID: a.ID}.String()))
		viewID := w.openForm(t, dave, card, formatting.ActionClose+":"+formatting.AlertKeyOf("contoso", a.ID), "")
		w.choose(t, dave, viewID, source.TruePositive)
		if _, action, errs := w.submit(t, dave, viewID, closeForm("", "")); action != "" || errs != nil {
			t.Fatalf("ack %s %v", action, errs)
		}
	}
	w.waitUpdate(t, parent, "2 of 8 closed as true positive by \\u003c@"+dave+"\\u003e")
	// Each close from Slack comments on the group's issue; the message can
	// be redrawn before the second comment lands.
	comments := 0
	for deadline := time.Now().Add(10 * time.Second); comments < 2 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		comments = len(w.jira.Comments(key))
	}
	if comments != 2 {
		t.Fatalf("%d comments for the two closes from Slack", comments)
	}

	must(t, w.jira.Move(key, "Done", "Fixed"))
	if rep := w.run(t); rep.Closed != 6 || rep.CloseFailed != 0 || rep.Redrawn != 1 {
		t.Fatalf("sync after Done %+v", rep)
	}
	closes := contoso.Closes()
	if len(closes) != 3 || closeCalls(contoso) != 3 {
		t.Fatalf("%d close calls: %+v", closeCalls(contoso), closes)
	}
	var rest []mcasfake.Alert
	for i, a := range repeats {
		if i != 2 && i != 5 {
			rest = append(rest, a)
		}
	}
	if c := closes[2]; c.Kind != "benign" || !slices.Equal(c.IDs, sortedIDs(rest)) || len(c.Closed) != 6 || c.Comment != "Jira "+key+" resolved: Fixed" {
		t.Fatalf("the sync's call %+v", c)
	}
	for _, a := range []mcasfake.Alert{repeats[2], repeats[5]} {
		if rec, _, _ := w.store.AlertClose(context.Background(), "contoso", a.ID); rec.By != dave || rec.Classification != "true_positive" {
			t.Fatalf("the Slack close of %s became %+v", a.ID, rec)
		}
	}
	w.waitUpdate(t, parent, "all 8 closed: 6 closed as benign by Jira sync ("+key+" resolved: Fixed) · 2 closed as true positive by \\u003c@"+dave+"\\u003e")
	if n := len(w.jira.Comments(key)); n != comments {
		t.Fatalf("the sync commented on %s: %d comments, %d before", key, n, comments)
	}
	if n := w.auditLines("audit: alert closed"); n != 6 {
		t.Fatalf("%d audit lines for 6 alerts", n)
	}
}

// A 403 fails the one call and releases all eight claims; the next sync
// closes them with one call again, and the one after makes none.
func TestFailedDoneGroupCloseIsRetriedWithOneCall(t *testing.T) {
	w, parent, repeats, key := doneGroup(t, source.TruePositive)
	contoso := w.tenant("contoso")
	must(t, w.jira.Move(key, "Done", "Fixed"))
	contoso.Fail(mcasfake.Fault{Path: "/api/v1/alerts/close_", Status: 403})
	if rep := w.run(t); rep.Closed != 0 || rep.CloseFailed != 8 || rep.CloseDeferred != 0 || closeCalls(contoso) != 1 {
		t.Fatalf("%+v, %d close calls", rep, closeCalls(contoso))
	}
	for _, a := range repeats {
		if rec, _, _ := w.store.AlertClose(context.Background(), "contoso", a.ID); rec.State != store.CloseFailed {
			t.Fatalf("claim of %s left %+v", a.ID, rec)
		}
	}
	if n := w.auditLines("audit: alert close failed"); n != 8 || !strings.Contains(w.logs.String(), "Investigation.manage") {
		t.Fatalf("%d failure audit lines for 8 alerts", n)
	}
	if s := string(w.slack.Current(parent).Blocks); strings.Contains(s, "closed as") || !strings.Contains(s, "Done (Fixed)") {
		t.Fatalf("message after the failure:\n%s", s)
	}

	if rep := w.run(t); rep.Changed != 0 || rep.Closed != 8 || rep.CloseFailed != 0 || rep.Redrawn != 1 || closeCalls(contoso) != 2 {
		t.Fatalf("retry %+v, %d close calls", rep, closeCalls(contoso))
	}
	if c := contoso.Closes(); len(c) != 1 || !slices.Equal(c[0].IDs, sortedIDs(repeats)) || c[0].Kind != "true_positive" || c[0].ReasonID != nil {
		t.Fatalf("MCAS got %+v", c)
	}
	w.waitUpdate(t, parent, "all 8 closed as true positive by Jira sync ("+key+" resolved: Fixed)")
	if rep := w.run(t); rep.Closed != 0 || closeCalls(contoso) != 2 {
		t.Fatalf("closed twice %+v", rep)
	}
}
