package filing_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/filing"
	"github.com/soc/mcasbot/grouping"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// repeats adds n of bob's Tor alerts to the fake tenant and returns them as
// the digest reads them (newest first), with their group.
func (e *env) repeats(t *testing.T, prefix string, n int, newest time.Time) filing.RepeatGroup {
	t.Helper()
	raw := mcasfake.Repeats("contoso", "bob.smith@contoso.com", prefix, n, newest, 50*time.Minute)
	e.mcas.AddAlerts(raw...)
	mc, _ := mcas.New(mcas.Config{Name: "contoso", URL: e.mcas.URL, Token: "mcas-tok", RequestsPerMinute: -1}, e.mcas.Client(), nil)
	list, err := mc.Alerts(context.Background(), source.AlertQuery{Limit: 100, Since: newest.Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var as []source.Alert
	for _, a := range list.Alerts {
		if strings.HasPrefix(a.ID, prefix) {
			as = append(as, a)
		}
	}
	gs := grouping.Collapse(as, 3)
	if len(as) != n || (n >= 3 && len(gs) != 1) {
		t.Fatalf("%d alerts, groups %+v", len(as), gs)
	}
	if n < 3 {
		return filing.RepeatGroup{Tenant: "contoso", Alerts: as}
	}
	g := gs[0]
	return filing.RepeatGroup{Tenant: g.Tenant, Policy: g.Policy, By: string(g.By), Value: g.Value, Signature: g.Signature, Alerts: g.Alerts}
}

func TestGroupFilesOneIssueForAllItsAlerts(t *testing.T) {
	e := newEnv(t, 0)
	e.svc.RepeatWindow = 7 * 24 * time.Hour
	g := e.repeats(t, "a1", 7, now.Add(-time.Hour))
	res, err := e.svc.FileGroup(context.Background(), g, analyst)
	if err != nil || res.Outcome != filing.Filed || res.Key != "SEC-1" {
		t.Fatalf("%+v %v", res, err)
	}
	if n := len(e.jira.Issues()); n != 1 {
		t.Fatalf("%d issues for one group", n)
	}
	is := e.jira.Issues()[0]
	if got := field(t, is, "summary"); got != "[MCAS][contoso] ×7 Activity from a Tor IP address — bob.smith@contoso.com" {
		t.Errorf("summary %q", got)
	}
	var labels []string
	_ = json.Unmarshal(is.Fields["labels"], &labels)
	desc := field(t, is, "description")
	for _, a := range g.Alerts {
		if !slices.Contains(labels, filing.Label(a.ID)) {
			t.Errorf("no label for %s: %v", a.ID, labels)
		}
		if !strings.Contains(desc, "|"+a.ID+"|") {
			t.Errorf("description does not list %s", a.ID)
		}
		// Recorded for every alert: a click on any of them finds it.
		rec, ok, _ := e.svc.Store.Issue(context.Background(), "contoso", a.ID)
		if !ok || rec.State != store.IssueCreated || rec.Key != "SEC-1" {
			t.Errorf("%s: %+v", a.ID, rec)
		}
	}
	if len(labels) != 9 || labels[0] != "mcas" || labels[8] != "contoso" {
		t.Errorf("labels %v", labels)
	}
	// The first alert (the newest) fills the custom fields.
	if field(t, is, "customfield_1") != g.Alerts[0].URL || field(t, is, "customfield_4") != "bob.smith@contoso.com" {
		t.Errorf("custom fields %s", is.Fields)
	}
	for _, want := range []string{"h3. Defender for Cloud Apps: 7 repeats of one policy", "||Policy|Activity from anonymous IP addresses|",
		"||Account|bob.smith@contoso.com|", "||Alerts|7|", "h3. The first alert"} {
		if !strings.Contains(desc, want) {
			t.Errorf("description lacks %q", want)
		}
	}
	// Rendered as Jira does: only the bot's own markup is live.
	_, live := jirafake.Render(desc)
	for _, l := range live {
		if l.Kind != "table" && l.Kind != "heading" && l.Kind != "list" && l.Kind != "effect" && !(l.Kind == "link" && strings.Contains(l.Text, "portal.cloudappsecurity.com")) {
			t.Errorf("live %s %q", l.Kind, l.Text)
		}
	}

	// Again, on the group or on any of its alerts: the same issue.
	if res, err := e.service(t).FileGroup(context.Background(), g, filing.Filer{ID: "U0OTHER"}); err != nil || res.Outcome != filing.AlreadyFiled || res.Key != "SEC-1" {
		t.Fatalf("second click %+v %v", res, err)
	}
	if res, err := e.svc.File(context.Background(), "contoso", g.Alerts[4].ID, analyst); err != nil || res.Outcome != filing.AlreadyFiled || res.Key != "SEC-1" {
		t.Fatalf("click on one alert %+v %v", res, err)
	}
	if gis, _ := e.svc.Store.GroupIssues(context.Background(), "contoso", []string{g.Signature}, time.Time{}); gis[g.Signature].Key != "SEC-1" {
		t.Fatalf("group issue %+v", gis)
	}
	if len(e.jira.Issues()) != 1 || len(e.jira.Comments("SEC-1")) != 0 {
		t.Fatal("a second issue or a comment")
	}
}

func TestLaterRepeatsAreCommentedOnTheGroupsIssue(t *testing.T) {
	e := newEnv(t, 0)
	e.svc.RepeatWindow = 7 * 24 * time.Hour
	g := e.repeats(t, "a1", 7, now.Add(-6*time.Hour))
	if res, err := e.svc.FileGroup(context.Background(), g, analyst); err != nil || res.Outcome != filing.Filed {
		t.Fatalf("%+v %v", res, err)
	}
	gis, _ := e.svc.Store.GroupIssues(context.Background(), "contoso", []string{g.Signature}, time.Time{})
	gi := gis[g.Signature]

	// The digest brings an eighth: it goes to SEC-1 as a comment, once.
	eighth := e.repeats(t, "a8", 1, now.Add(-time.Hour)).Alerts
	for range 2 {
		ids, err := e.svc.AppendRepeats(context.Background(), gi, eighth)
		if err != nil || !slices.Equal(ids, []string{eighth[0].ID}) {
			t.Fatalf("append: %v %v", ids, err)
		}
	}
	comments := e.jira.Comments("SEC-1")
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "|"+eighth[0].ID+"|") || !strings.Contains(comments[0].Body, "h4. 1 more alert of this group") {
		t.Fatalf("comments %+v", comments)
	}
	if rec, _, _ := e.svc.Store.Issue(context.Background(), "contoso", eighth[0].ID); rec.Key != "SEC-1" || rec.By != filing.RepeatFiler {
		t.Fatalf("eighth recorded as %+v", rec)
	}
	if gis, _ := e.svc.Store.GroupIssues(context.Background(), "contoso", []string{g.Signature}, time.Time{}); !gis[g.Signature].Last.Equal(eighth[0].Time) {
		t.Fatalf("the group's newest alert did not move: %+v", gis)
	}

	// A click on a ninth (the digest could not add it) comments too.
	ninth := e.repeats(t, "a9", 1, now.Add(-30*time.Minute)).Alerts[0]
	res, err := e.svc.File(context.Background(), "contoso", ninth.ID, analyst)
	if err != nil || res.Outcome != filing.AlreadyFiled || res.Key != "SEC-1" || res.Appended != 1 {
		t.Fatalf("click on a repeat %+v %v", res, err)
	}
	if len(e.jira.Issues()) != 1 || len(e.jira.Comments("SEC-1")) != 2 {
		t.Fatalf("%d issues, %d comments", len(e.jira.Issues()), len(e.jira.Comments("SEC-1")))
	}
	for _, c := range e.jira.Comments("SEC-1") {
		_, live := jirafake.Render(c.Body)
		for _, l := range live {
			if l.Kind != "table" && l.Kind != "heading" && l.Kind != "effect" && !(l.Kind == "link" && strings.HasPrefix(l.Text, "Open|https://contoso.portal")) {
				t.Errorf("live %s %q in a comment", l.Kind, l.Text)
			}
		}
	}

	// With grouping off, a repeat is filed on its own, as before.
	tenth := e.repeats(t, "aa", 1, now.Add(-20*time.Minute)).Alerts[0]
	e.svc.RepeatWindow = 0
	if res, err := e.svc.File(context.Background(), "contoso", tenth.ID, analyst); err != nil || res.Outcome != filing.Filed || res.Key != "SEC-2" {
		t.Fatalf("grouping off: %+v %v", res, err)
	}
}

func TestRacingGroupClicksFileOneIssue(t *testing.T) {
	e := newEnv(t, time.Minute)
	e.jira.SetLatency(50 * time.Millisecond)
	g := e.repeats(t, "a1", 7, now.Add(-time.Hour))
	second := e.service(t)
	var wg sync.WaitGroup
	results := make(chan filing.Result, 8)
	for i := range 8 {
		svc := []*filing.Service{e.svc, second}[i%2]
		wg.Go(func() {
			res, err := svc.FileGroup(context.Background(), g, filing.Filer{ID: "U0A"})
			if err != nil {
				t.Error(err)
			}
			results <- res
		})
	}
	wg.Wait()
	close(results)
	filed := 0
	for r := range results {
		if r.Outcome == filing.Filed {
			filed++
		}
	}
	if filed != 1 || len(e.jira.Issues()) != 1 {
		t.Fatalf("filed %d times, %d issues", filed, len(e.jira.Issues()))
	}
	// However the claims fell, every alert ends under the one issue.
	res, err := e.svc.FileGroup(context.Background(), g, analyst)
	if err != nil || res.Outcome != filing.AlreadyFiled || res.Key != "SEC-1" {
		t.Fatalf("after the race: %+v %v", res, err)
	}
}

func TestLostCommentHoldsTheRepeats(t *testing.T) {
	e := newEnv(t, 0)
	e.svc.RepeatWindow = 7 * 24 * time.Hour
	g := e.repeats(t, "a1", 3, now.Add(-6*time.Hour))
	if _, err := e.svc.FileGroup(context.Background(), g, analyst); err != nil {
		t.Fatal(err)
	}
	gis, _ := e.svc.Store.GroupIssues(context.Background(), "contoso", []string{g.Signature}, time.Time{})
	later := e.repeats(t, "a8", 2, now.Add(-time.Hour)).Alerts
	e.jira.Fail(jirafake.Fault{Path: "/rest/api/2/issue/SEC-1/comment", Status: 502})
	ids, err := e.svc.AppendRepeats(context.Background(), gis[g.Signature], later)
	if err == nil || len(ids) != 0 || !strings.Contains(err.Error(), "may or may not exist") {
		t.Fatalf("%v %v", ids, err)
	}
	// Held, not released: the comment may exist, so nobody adds it twice
	// before the stale period.
	res, err := e.svc.File(context.Background(), "contoso", later[0].ID, analyst)
	if err != nil || res.Outcome != filing.InProgress || res.Held == "" {
		t.Fatalf("click on a held repeat %+v %v", res, err)
	}
	if n := e.jira.Requests("POST /rest/api/2/issue/SEC-1/comment"); n != 1 {
		t.Fatalf("%d comment attempts", n)
	}
	// A comment Jira refuses (the issue was deleted) releases them.
	e.jira.Fail(jirafake.Fault{Path: "/rest/api/2/issue/SEC-404/comment", Status: 404})
	other := e.repeats(t, "ab", 1, now.Add(-10*time.Minute)).Alerts
	_, err = e.svc.AppendRepeats(context.Background(), store.GroupIssue{Tenant: "contoso", Signature: g.Signature, Key: "SEC-404"}, other)
	if err == nil || !strings.Contains(err.Error(), "no issue SEC-404") {
		t.Fatalf("deleted issue: %v", err)
	}
	if rec, _, _ := e.svc.Store.Issue(context.Background(), "contoso", other[0].ID); rec.State != store.IssueFailed {
		t.Fatalf("claim not released: %+v", rec)
	}
}

// A single repeat of a group whose issue is done gets its own issue that
// names the done one; the group's later repeats then join the new issue.
func TestARepeatOfADoneIssueIsFiledAnew(t *testing.T) {
	e := newEnv(t, 0)
	e.svc.RepeatWindow = 7 * 24 * time.Hour
	ctx := context.Background()
	g := e.repeats(t, "a1", 3, now.Add(-6*time.Hour))
	if _, err := e.svc.FileGroup(ctx, g, analyst); err != nil {
		t.Fatal(err)
	}
	// The sync saw SEC-1 done.
	if err := e.svc.Store.SaveJiraState(ctx, "contoso", g.Alerts[0].ID, store.JiraState{Key: "SEC-1", Status: "Closed", Category: "done", Resolution: "Won't Do <!channel>"}); err != nil {
		t.Fatal(err)
	}
	one := e.repeats(t, "a8", 1, now.Add(-time.Hour)).Alerts[0]
	res, err := e.svc.File(ctx, "contoso", one.ID, analyst)
	if err != nil || res.Outcome != filing.Filed || res.Key != "SEC-2" || res.Earlier != "SEC-1" {
		t.Fatalf("%+v %v", res, err)
	}
	if n := len(e.jira.Comments("SEC-1")); n != 0 {
		t.Fatalf("the done issue got %d comments", n)
	}
	var desc string
	_ = json.Unmarshal(e.jira.Issues()[1].Fields["description"], &desc)
	text, live := jirafake.Render(desc)
	if !strings.HasPrefix(text, "Earlier issue: SEC-1 (Closed: Won't Do <!channel>). This alert repeats its alerts, which came back after it was done.") {
		t.Fatalf("description:\n%s", text)
	}
	for _, l := range live {
		if l.Kind == "mention" || l.Kind == "macro" {
			t.Fatalf("Jira's resolution went live in the note: %+v", l)
		}
	}
	// Later repeats of the group join SEC-2.
	gis, _ := e.svc.Store.GroupIssues(ctx, "contoso", []string{g.Signature}, time.Time{})
	if gi := gis[g.Signature]; gi.Key != "SEC-2" || gi.Done() {
		t.Fatalf("the group's issue is now %+v", gi)
	}
}
