package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/soc/mcasbot/store"
)

// Correlation and grouped repeats (issue #11).

func testFacts(t *testing.T, open Opener) {
	s, reopen := open(t)
	now := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	var fs []store.AlertFact
	// More rows than one insert batch, and the same fact of an alert twice.
	for i := 0; i < 250; i++ {
		fs = append(fs, store.AlertFact{Key: "ip:185.220.101.4", Tenant: "contoso", AlertID: fmt.Sprintf("c%03d", i), Value: "185.220.101.4",
			Severity: "high", AlertTime: now.Add(-time.Duration(i) * time.Hour)})
	}
	fs = append(fs, fs[0], store.AlertFact{Key: "acct:bob@contoso.com", Tenant: "fabrikam", AlertID: "f1",
		Value: "bob_contoso.com#EXT#@fabrikam.onmicrosoft.com", Severity: "medium", AlertTime: now.Add(-2 * time.Hour)})
	must(t, s.RememberFacts(ctx, fs))
	must(t, s.RememberFacts(ctx, fs[:3])) // remembering again is harmless
	must(t, s.RememberFacts(ctx, nil))

	other := reopen()
	t.Cleanup(func() { _ = other.Close() })
	got, err := other.FactsFor(ctx, []string{"ip:185.220.101.4", "acct:bob@contoso.com", "ip:10.0.0.1"}, now.Add(-7*24*time.Hour))
	must(t, err)
	ip, acct := 0, 0
	for _, f := range got {
		switch f.Key {
		case "ip:185.220.101.4":
			ip++
			if f.Tenant != "contoso" || f.Severity != "high" || f.AlertTime.Before(now.Add(-7*24*time.Hour)) {
				t.Fatalf("fact %+v", f)
			}
		case "acct:bob@contoso.com":
			acct++
			if f.Value != "bob_contoso.com#EXT#@fabrikam.onmicrosoft.com" || f.AlertID != "f1" || !f.AlertTime.Equal(now.Add(-2*time.Hour)) {
				t.Fatalf("fact %+v", f)
			}
		default:
			t.Fatalf("unasked fact %+v", f)
		}
	}
	if ip != 7*24+1 || acct != 1 {
		t.Fatalf("%d ip facts in the window (want %d), %d account facts", ip, 7*24+1, acct)
	}

	// Pruning drops what is older than the window, and only that.
	n, err := s.ForgetFacts(ctx, now.Add(-7*24*time.Hour))
	must(t, err)
	if n != int64(250-(7*24+1)) {
		t.Fatalf("forgot %d facts", n)
	}
	all, _ := s.FactsFor(ctx, []string{"ip:185.220.101.4"}, time.Time{})
	if len(all) != 7*24+1 {
		t.Fatalf("%d facts left", len(all))
	}
}

func testGroupIssues(t *testing.T, open Opener) {
	s, reopen := open(t)
	now := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	if got, err := s.GroupIssues(ctx, "contoso", []string{"sig1"}, time.Time{}); err != nil || len(got) != 0 {
		t.Fatalf("unknown group: %v %v", got, err)
	}
	must(t, s.SaveGroupIssue(ctx, store.GroupIssue{Tenant: "contoso", Signature: "sig1", Key: "SEC-1", URL: "https://jira/browse/SEC-1", Last: now}))
	// An older repeat does not move the group back.
	must(t, s.SaveGroupIssue(ctx, store.GroupIssue{Tenant: "contoso", Signature: "sig1", Key: "SEC-1", URL: "https://jira/browse/SEC-1", Last: now.Add(-time.Hour)}))
	other := reopen()
	t.Cleanup(func() { _ = other.Close() })
	got, err := other.GroupIssues(ctx, "contoso", []string{"sig1", "sig2"}, now.Add(-24*time.Hour))
	must(t, err)
	if g := got["sig1"]; len(got) != 1 || g.Key != "SEC-1" || !g.Last.Equal(now) || g.Tenant != "contoso" {
		t.Fatalf("groups %+v", got)
	}
	if got, _ := other.GroupIssues(ctx, "fabrikam", []string{"sig1"}, time.Time{}); len(got) != 0 {
		t.Fatal("group issues leak across tenants")
	}
	// Outside the window it is not offered.
	if got, _ := other.GroupIssues(ctx, "contoso", []string{"sig1"}, now.Add(time.Minute)); len(got) != 0 {
		t.Fatal("a group issue older than the window was returned")
	}
	// The Jira sync's view of the issue comes with it: a done issue takes
	// no more repeats.
	if g := got["sig1"]; g.Done() || g.Category != "" {
		t.Fatalf("an issue the sync never saw has a state: %+v", g)
	}
	must(t, s.SaveJiraState(ctx, "contoso", "a1", store.JiraState{Key: "SEC-1", Status: "In Progress", Category: "indeterminate", SeenAt: now}))
	if got, _ := s.GroupIssues(ctx, "contoso", []string{"sig1"}, time.Time{}); got["sig1"].Done() || got["sig1"].Status != "In Progress" {
		t.Fatalf("in progress: %+v", got["sig1"])
	}
	must(t, s.SaveJiraState(ctx, "contoso", "a1", store.JiraState{Key: "SEC-1", Status: "Done", Category: "done", Resolution: "Fixed", SeenAt: now.Add(time.Minute)}))
	if got, err := other.GroupIssues(ctx, "contoso", []string{"sig1"}, time.Time{}); err != nil || !got["sig1"].Done() || got["sig1"].Status != "Done" || got["sig1"].Resolution != "Fixed" {
		t.Fatalf("done: %+v %v", got["sig1"], err)
	}
	// A new issue for the same signature replaces the old one.
	must(t, s.SaveGroupIssue(ctx, store.GroupIssue{Tenant: "contoso", Signature: "sig1", Key: "SEC-9", Last: now.Add(-time.Hour)}))
	if got, _ := s.GroupIssues(ctx, "contoso", []string{"sig1"}, time.Time{}); got["sig1"].Key != "SEC-9" || !got["sig1"].Last.Equal(now.Add(-time.Hour)) {
		t.Fatalf("replaced group %+v", got)
	}
}
