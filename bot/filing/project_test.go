package filing_test

import (
	"context"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/filing"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
	"github.com/soc/mcasbot/tenants"
)

// routedEnv files contoso's issues in its own project, CUST, on a site
// that also has the bot's JIRA_PROJECT (SEC).
func routedEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, 0)
	e.jira.Close()
	e.jira = jirafake.New(jirafake.Options{Cloud: true, User: "soc@x.com", Token: "jira-tok", Fields: customFields, Projects: []string{"CUST"}})
	t.Cleanup(e.jira.Close)
	e.svc = e.service(t)
	e.svc.Tenants = tenants.NewDirectory(e.svc.Tenants.Tenants(), nil, map[string]tenants.Route{"contoso": {JiraProject: "CUST"}})
	return e
}

// A tenant whose route names a Jira project gets its issues there, one
// alert or a group of repeats; the search for an issue filed before looks
// there too, not in the bot's project.
func TestTenantIssuesGoToItsRoutesProject(t *testing.T) {
	e := routedEnv(t)
	// An issue with the alert's label in another project (another
	// customer's, or filed by hand in the wrong place) is not its issue.
	e.jira.AddIssueIn("SEC", "someone else's", []string{"mcas", filing.Label(e.alert.ID)}, time.Hour)
	res, err := e.svc.File(context.Background(), "contoso", e.alert.ID, analyst)
	if err != nil || res.Outcome != filing.Filed || res.Key != "CUST-1" {
		t.Fatalf("%+v %v, want CUST-1 filed", res, err)
	}
	if is := e.jira.Issues()[1]; is.Project != "CUST" {
		t.Fatalf("created in %s", is.Project)
	}

	// A group of repeats goes to the same project.
	e.svc.RepeatWindow = 7 * 24 * time.Hour
	g := e.repeats(t, "a1", 5, now.Add(-time.Hour))
	res, err = e.svc.FileGroup(context.Background(), g, analyst)
	if err != nil || res.Outcome != filing.Filed || res.Key != "CUST-2" {
		t.Fatalf("group: %+v %v, want CUST-2", res, err)
	}
}

// The label search that keeps a lost record from getting a twin searches
// the tenant's project: an issue filed there before is found, not filed again.
func TestLabelSearchLooksInTheTenantsProject(t *testing.T) {
	e := routedEnv(t)
	key := e.jira.AddIssueIn("CUST", "filed before the store knew", []string{"mcas", filing.Label(e.alert.ID), "contoso"}, time.Hour)
	res, err := e.svc.File(context.Background(), "contoso", e.alert.ID, analyst)
	if err != nil || res.Outcome != filing.AlreadyFiled || !res.Found || res.Key != key {
		t.Fatalf("%+v %v, want %s found", res, err, key)
	}
	if n := len(e.jira.Issues()); n != 1 {
		t.Fatalf("%d issues: a twin was filed", n)
	}
	if rec, ok, _ := e.svc.Store.Issue(context.Background(), "contoso", e.alert.ID); !ok || rec.Key != key {
		t.Fatalf("record %+v", rec)
	}
}
