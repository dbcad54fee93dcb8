package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/soc/mcasbot/store"
)

// Conformance for issue #13: the Jira sync's states and the report's records.

var t0 = time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)

func testPostingFacts(t *testing.T, open Opener) {
	s, _ := open(t)
	p := store.Posting{Tenant: "contoso", AlertID: "a1", Channel: "C1", TS: "1.1", PostedAt: t0.Add(time.Hour),
		Severity: "high", Title: "Leaked credentials", Policy: "Leaked creds policy", User: "carol@contoso.com",
		IPs: []string{"45.155.205.233", "10.20.30.40"}, AlertTime: t0.Add(30 * time.Minute)}
	must(t, s.MarkPosted(ctx, []store.Posting{p, {Tenant: "contoso", AlertID: "old", Channel: "C1", TS: "1.1"}}))
	got, ok, err := s.Message(ctx, "contoso", "a1")
	if err != nil || !ok || got.Severity != "high" || got.Title != p.Title || got.Policy != p.Policy || got.User != p.User ||
		!slices.Equal(got.IPs, p.IPs) || !got.AlertTime.Equal(p.AlertTime) || !got.PostedAt.Equal(p.PostedAt) {
		t.Fatalf("posting %+v %v %v", got, ok, err)
	}
	// An alert recorded without facts (an older version) reads back empty.
	if old, _, _ := s.Message(ctx, "contoso", "old"); old.Severity != "" || old.IPs != nil || !old.AlertTime.IsZero() {
		t.Fatalf("old posting %+v", old)
	}
}

func testJiraStates(t *testing.T, open Opener) {
	s, reopen := open(t)
	for _, id := range []string{"a1", "a2", "a3"} {
		if c, _ := s.ClaimIssue(ctx, "contoso", id, "U1"); !c.Won {
			t.Fatal("claim")
		}
	}
	must(t, s.CompleteIssue(ctx, "contoso", "a1", "SEC-1", "https://jira/browse/SEC-1"))
	must(t, s.CompleteIssue(ctx, "contoso", "a2", "SEC-2", "https://jira/browse/SEC-2"))
	// a3 is still pending: not tracked.
	tracked, err := s.TrackedIssues(ctx, time.Now().Add(-time.Hour))
	must(t, err)
	if len(tracked) != 2 || tracked[0].Key != "SEC-1" || tracked[0].Jira.Key != "" || tracked[0].State != store.IssueCreated || tracked[0].By != "U1" {
		t.Fatalf("tracked %+v", tracked)
	}
	if old, _ := s.TrackedIssues(ctx, time.Now().Add(time.Hour)); len(old) != 0 {
		t.Fatalf("issues filed before since are tracked: %+v", old)
	}

	seen := time.Date(2026, 11, 24, 8, 5, 0, 0, time.UTC)
	st := store.JiraState{Key: "SEC-1", Status: "In Progress", Category: "indeterminate", AssigneeID: "acc-dave", AssigneeName: "Dave",
		AssigneeSlack: "U0DAVE", SeenAt: seen}
	must(t, s.SaveJiraState(ctx, "contoso", "a1", st))
	got, ok, err := s.JiraState(ctx, "contoso", "a1")
	if err != nil || !ok || !got.Same(st) || got.AssigneeSlack != "U0DAVE" || got.Drawn || !got.SeenAt.Equal(seen) {
		t.Fatalf("state %+v %v %v", got, ok, err)
	}
	// Drawing marks only the state that was drawn.
	must(t, s.MarkJiraDrawn(ctx, "contoso", "a1", seen.Add(-time.Minute)))
	if got, _, _ := s.JiraState(ctx, "contoso", "a1"); got.Drawn {
		t.Fatal("an older draw marked a newer state drawn")
	}
	other := reopen()
	t.Cleanup(func() { _ = other.Close() })
	must(t, other.MarkJiraDrawn(ctx, "contoso", "a1", seen))
	tracked, _ = s.TrackedIssues(ctx, time.Now().Add(-time.Hour))
	if !tracked[0].Jira.Drawn || tracked[0].Jira.Status != "In Progress" || tracked[1].Jira.Key != "" {
		t.Fatalf("tracked after draw %+v", tracked)
	}
	// A new state replaces the old and is undrawn again.
	must(t, s.SaveJiraState(ctx, "contoso", "a1", store.JiraState{Key: "SEC-1", Gone: true, SeenAt: seen.Add(5 * time.Minute)}))
	if got, _, _ := s.JiraState(ctx, "contoso", "a1"); !got.Gone || got.Drawn || got.Status != "" {
		t.Fatalf("gone state %+v", got)
	}
	if _, ok, _ := s.JiraState(ctx, "fabrikam", "a1"); ok {
		t.Fatal("states leak across tenants")
	}

	// Each tracked issue carries its alert's close claim (JIRA_DONE_CLOSES_ALERT).
	if tracked[0].CloseState != "" || !tracked[0].CloseClaimedAt.IsZero() {
		t.Fatalf("close state of an unclaimed alert %+v", tracked[0])
	}
	bot := store.CloseRecord{Tenant: "contoso", AlertID: "a2", By: store.JiraSyncCloser, ByName: "Jira sync", Classification: "true_positive"}
	if c, _ := s.ClaimClose(ctx, bot); !c.Won {
		t.Fatal("close claim")
	}
	tracked, _ = s.TrackedIssues(ctx, time.Now().Add(-time.Hour))
	if tracked[1].CloseState != store.ClosePending || tracked[1].CloseClaimedAt.IsZero() || tracked[0].CloseState != "" {
		t.Fatalf("pending close %+v", tracked)
	}
	must(t, s.CompleteClose(ctx, bot))
	tracked, _ = s.TrackedIssues(ctx, time.Now().Add(-time.Hour))
	if tracked[1].CloseState != store.CloseDone {
		t.Fatalf("done close %+v", tracked[1])
	}
	if rec, _, _ := s.AlertClose(ctx, "contoso", "a2"); !rec.ByBot() || rec.ByName != "Jira sync" {
		t.Fatalf("bot close %+v", rec)
	}
	if (store.CloseRecord{By: "U0CAROL"}).ByBot() {
		t.Fatal("a Slack user reads as the bot")
	}
}

func testActivity(t *testing.T, open Opener) {
	s, _ := open(t)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	must(t, s.MarkPosted(ctx, []store.Posting{
		{Tenant: "contoso", AlertID: "before", Channel: "C", TS: "1", PostedAt: at(-1), Severity: "low"},
		{Tenant: "contoso", AlertID: "a1", Channel: "C", TS: "2", PostedAt: at(8), Severity: "high", IPs: []string{"1.2.3.4"}},
		{Tenant: "fabrikam", AlertID: "a2", Channel: "C", TS: "2", PostedAt: at(9), Severity: "medium"},
		{Tenant: "contoso", AlertID: "after", Channel: "C", TS: "3", PostedAt: at(7 * 24), Severity: "high"},
	}))
	for _, id := range []string{"before", "a1", "a2"} {
		tenant := "contoso"
		if id == "a2" {
			tenant = "fabrikam"
		}
		if c, _ := s.ClaimIssue(ctx, tenant, id, "U1"); !c.Won {
			t.Fatal("claim")
		}
	}
	must(t, s.CompleteIssue(ctx, "contoso", "before", "SEC-1", ""))
	must(t, s.CompleteIssue(ctx, "contoso", "a1", "SEC-2", ""))
	// a2's claim is pending: no issue.
	must(t, s.RecordDigestRun(ctx, []store.TenantRun{{At: at(8), Tenant: "contoso"}, {At: at(8), Tenant: "fabrikam", Failed: true, Reason: "throttled (HTTP 429)"}}))
	must(t, s.RecordDigestRun(ctx, []store.TenantRun{{At: at(-3), Tenant: "fabrikam", Failed: true, Reason: "old"}}))

	a, err := s.Activity(ctx, t0, t0.Add(7*24*time.Hour))
	must(t, err)
	if len(a.Posted) != 2 || a.Posted[0].AlertID != "a1" || a.Posted[0].IssueKey != "SEC-2" || a.Posted[0].FiledAt.IsZero() ||
		!slices.Equal(a.Posted[0].IPs, []string{"1.2.3.4"}) || a.Posted[1].AlertID != "a2" || a.Posted[1].IssueKey != "" {
		t.Fatalf("posted %+v", a.Posted)
	}
	// Both issues were filed now, which is after this fixture week.
	if len(a.Filed) != 0 {
		t.Fatalf("filed %+v", a.Filed)
	}
	now, err := s.Activity(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	must(t, err)
	if len(now.Filed) != 2 || now.Filed[0].Key == "" {
		t.Fatalf("filed now %+v", now.Filed)
	}
	if len(a.Runs) != 2 || a.Runs[0].Tenant != "contoso" || a.Runs[0].Failed || !a.Runs[1].Failed || a.Runs[1].Reason != "throttled (HTTP 429)" || !a.Runs[1].At.Equal(at(8)) {
		t.Fatalf("runs %+v", a.Runs)
	}
}
