package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/closing"
	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// JIRA_DONE_CLOSES_ALERT, end to end: the bot on the fake Socket Mode
// server, the fake Jira and the fake MCAS tenants, with the sync closing
// through the same closing.Service as Close….

// closeOnDone turns JIRA_DONE_CLOSES_ALERT on for the world's sync.
func (w *syncWorld) closeOnDone(kind source.Classification) {
	svc := &closing.Service{Store: w.store, Tenants: w.runner.Tenants, Logger: w.logger, Wait: 5 * time.Second}
	w.sync.Closer = &closing.JiraDone{Service: svc, Classification: kind, Logger: w.logger}
}

// filed is the alert the first issue was filed for.
func (w *syncWorld) filed(t *testing.T) store.TrackedIssue {
	t.Helper()
	tracked, err := w.store.TrackedIssues(context.Background(), time.Now().Add(-time.Hour))
	if err != nil || len(tracked) != 1 {
		t.Fatalf("tracked %+v %v", tracked, err)
	}
	return tracked[0]
}

func TestIssueDoneClosesItsAlertOnce(t *testing.T) {
	w := startSync(t)
	w.closeOnDone(source.Benign)
	parent, digest := w.fileFirst(t)
	is := w.filed(t)
	tenant := w.tenant(is.Tenant)
	w.run(t)
	if n := len(tenant.Closes()); n != 0 {
		t.Fatalf("%d closes before the issue is done", n)
	}

	must(t, w.jira.Move(is.Key, "Done", "Fixed"))
	if rep := w.run(t); rep.Changed != 1 || rep.Closed != 1 || rep.Redrawn != 1 {
		t.Fatalf("sync after Done %+v", rep)
	}
	closes := tenant.Closes()
	if len(closes) != 1 || closes[0].Kind != "benign" || closes[0].ReasonID == nil || *closes[0].ReasonID != 4 ||
		len(closes[0].IDs) != 1 || closes[0].IDs[0] != is.AlertID || closes[0].Comment != "Jira "+is.Key+" resolved: Fixed" {
		t.Fatalf("MCAS got %+v", closes)
	}
	if a, _ := tenant.Alert(is.AlertID); a.ResolutionStatusValue != source.ResolutionBenign {
		t.Fatalf("alert is now %d", a.ResolutionStatusValue)
	}
	// One redraw shows both the close and the issue's status; Close… is gone.
	ups := updatesOf(w.slack.Posts(), parent.TS)
	s := string(ups[len(ups)-1].Blocks)
	for _, want := range []string{"Closed as benign by Jira sync (" + is.Key + " resolved: Fixed)", "· Done (Fixed) ·"} {
		if !strings.Contains(s, want) {
			t.Fatalf("message lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, formatting.TriageValue{Op: formatting.OpClose, Tenant: is.Tenant, AlertID: is.AlertID}.String()) {
		t.Fatal("the closed alert still offers Close…")
	}
	// No comment back on the issue that closed it.
	if n := len(w.jira.Comments(is.Key)); n != 0 {
		t.Fatalf("%d comments on %s", n, is.Key)
	}
	// Later syncs close nothing more and touch no message.
	n := len(w.slack.Posts())
	if rep := w.run(t); rep.Closed != 0 || rep.Redrawn != 0 || len(tenant.Closes()) != 1 || len(w.slack.Posts()) != n {
		t.Fatalf("second sync %+v, %d closes", rep, len(tenant.Closes()))
	}
	for _, m := range digest[1:] {
		if k := len(updatesOf(w.slack.Posts(), m.TS)); k != 0 {
			t.Fatalf("message %s was updated %d times", m.TS, k)
		}
	}
	logs := w.logs.String()
	for _, want := range []string{`"msg":"audit: alert closed"`, `"user":"bot:jira-sync","actor":"Jira sync"`, `"issue":"` + is.Key + `"`,
		`"classification":"benign","reason":"other","outcome":"closed"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s", want)
		}
	}
}

func TestAlertClosedFromSlackIsNotClosedAgainWhenDone(t *testing.T) {
	w := startSync(t)
	w.closeOnDone(source.TruePositive)
	parent, _ := w.fileFirst(t)
	is := w.filed(t)
	e := entry{menu: formatting.ActionMenu + ":" + formatting.AlertKeyOf(is.Tenant, is.AlertID), tenant: is.Tenant, alertID: is.AlertID}
	viewID := w.openForm(t, lead, w.slack.Current(parent), e.menu, e.value(formatting.OpClose))
	w.choose(t, lead, viewID, source.FalsePositive)
	if _, action, errs := w.submit(t, lead, viewID, closeForm("false_positive/not_of_interest", "")); action != "" || errs != nil {
		t.Fatalf("%s %v", action, errs)
	}
	w.waitUpdate(t, parent, "Closed as false positive (not of interest) by \\u003c@"+lead)
	tenant := w.tenant(is.Tenant)
	if n := len(tenant.Closes()); n != 1 {
		t.Fatalf("%d closes from Slack", n)
	}

	must(t, w.jira.Move(is.Key, "Done", "Fixed"))
	if rep := w.run(t); rep.Changed != 1 || rep.Closed != 0 || rep.CloseFailed != 0 {
		t.Fatalf("%+v", rep)
	}
	if n := len(tenant.Closes()); n != 1 {
		t.Fatalf("closed again: %d closes", n)
	}
	ups := updatesOf(w.slack.Posts(), parent.TS)
	if s := string(ups[len(ups)-1].Blocks); !strings.Contains(s, "Closed as false positive (not of interest) by \\u003c@"+lead) || strings.Contains(s, "Jira sync") {
		t.Fatalf("message:\n%s", s)
	}
}

func TestFailedDoneCloseIsRetriedOnTheNextSync(t *testing.T) {
	w := startSync(t)
	w.closeOnDone(source.TruePositive)
	parent, _ := w.fileFirst(t)
	is := w.filed(t)
	tenant := w.tenant(is.Tenant)
	must(t, w.jira.Move(is.Key, "Done", "Fixed"))
	tenant.Fail(mcasfake.Fault{Path: "/api/v1/alerts/close_", Status: 403})
	if rep := w.run(t); rep.Changed != 1 || rep.Closed != 0 || rep.CloseFailed != 1 || closeCalls(tenant) != 1 {
		t.Fatalf("%+v, %d close calls", rep, closeCalls(tenant))
	}
	if a, _ := tenant.Alert(is.AlertID); a.ResolutionStatusValue != source.ResolutionOpen {
		t.Fatal("closed despite the 403")
	}
	ups := updatesOf(w.slack.Posts(), parent.TS)
	if s := string(ups[len(ups)-1].Blocks); strings.Contains(s, "Closed as") || !strings.Contains(s, "Done (Fixed)") {
		t.Fatalf("message after the failure:\n%s", s)
	}
	if logs := w.logs.String(); !strings.Contains(logs, `"msg":"audit: alert close failed"`) || !strings.Contains(logs, "Investigation.manage") {
		t.Fatalf("failure not logged:\n%s", logs)
	}

	// Still done, still open: the next sync closes it, and the message shows it.
	if rep := w.run(t); rep.Changed != 0 || rep.Closed != 1 || rep.CloseFailed != 0 || rep.Redrawn != 1 {
		t.Fatalf("retry %+v", rep)
	}
	closes := tenant.Closes() // the fake lists the close calls it answered, not the 403
	if len(closes) != 1 || closes[0].Kind != "true_positive" || closes[0].ReasonID != nil || closes[0].Comment != "Jira "+is.Key+" resolved: Fixed" {
		t.Fatalf("MCAS got %+v", closes)
	}
	if n := closeCalls(tenant); n != 2 {
		t.Fatalf("%d close calls, want the failed one and its retry", n)
	}
	w.waitUpdate(t, parent, "Closed as true positive by Jira sync ("+is.Key+" resolved: Fixed)")
	if rep := w.run(t); rep.Closed != 0 || closeCalls(tenant) != 2 {
		t.Fatalf("closed twice %+v", rep)
	}
}

// An alert resolved in the portal meanwhile is recorded as such.
func TestDoneIssueOfAnAlertResolvedInThePortal(t *testing.T) {
	w := startSync(t)
	w.closeOnDone(source.TruePositive)
	parent, _ := w.fileFirst(t)
	is := w.filed(t)
	tenant := w.tenant(is.Tenant)
	tenant.Resolve(is.AlertID, source.ResolutionResolved, "erin@contoso.com", time.Now().Add(-time.Hour))
	must(t, w.jira.Move(is.Key, "Done", "Fixed"))
	if rep := w.run(t); rep.Closed != 1 {
		t.Fatalf("%+v", rep)
	}
	if closes := tenant.Closes(); len(closes) != 1 || len(closes[0].NotFound) != 1 {
		t.Fatalf("MCAS got %+v", closes)
	}
	if a, _ := tenant.Alert(is.AlertID); a.ResolutionStatusValue != source.ResolutionResolved {
		t.Fatalf("alert is now %d", a.ResolutionStatusValue)
	}
	w.waitUpdate(t, parent, "Resolved in Defender by erin@contoso.com")
	if rep := w.run(t); rep.Closed != 0 || len(tenant.Closes()) != 1 {
		t.Fatalf("tried again %+v", rep)
	}
}

// closeCalls counts the close requests a tenant received, answered or not.
func closeCalls(srv *mcasfake.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r.Path, "/api/v1/alerts/close_") {
			n++
		}
	}
	return n
}
