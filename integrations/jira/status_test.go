package jira_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
)

func statusSetup(t *testing.T, cloud bool, pageSize int) (*jirafake.Server, *jira.Client) {
	t.Helper()
	srv := jirafake.New(jirafake.Options{Cloud: cloud, User: "soc@example.com", Token: apiToken, PageSize: pageSize})
	t.Cleanup(srv.Close)
	cfg := jira.Config{URL: srv.URL, User: "soc@example.com", APIToken: apiToken}
	if !cloud {
		cfg = jira.Config{URL: srv.URL, PAT: apiToken}
	}
	c, err := jira.New(cfg, srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, cl := range c.Callers() {
		cl.Sleep = func(context.Context, time.Duration) error { return nil }
	}
	srv.AddUser(jirafake.User{AccountID: "acc-dave", DisplayName: "Dave Ops", Email: "dave@example.com"})
	srv.AddUser(jirafake.User{AccountID: "acc-erin", DisplayName: "Erin <Private>", Email: "erin@example.com", HideEmail: true})
	return srv, c
}

func plant(srv *jirafake.Server, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = srv.AddIssue(fmt.Sprintf("issue %d", i), []string{"mcas"}, time.Hour)
	}
	return keys
}

func TestReadStatusesThroughTheWorkflow(t *testing.T) {
	for _, cloud := range []bool{true, false} {
		t.Run(map[bool]string{true: "cloud", false: "datacenter"}[cloud], func(t *testing.T) {
			srv, c := statusSetup(t, cloud, 0)
			keys := plant(srv, 3)
			must(t, srv.Move(keys[1], "In Progress", ""))
			must(t, srv.Assign(keys[1], "acc-dave"))
			must(t, srv.Move(keys[2], "Done", "Fixed"))
			must(t, srv.Assign(keys[2], "acc-erin"))
			got, err := c.ReadStatuses(context.Background(), keys)
			if err != nil || got.Searches != 1 || len(got.Gone) != 0 {
				t.Fatalf("%+v %v", got, err)
			}
			todo, prog, done := got.Found[keys[0]], got.Found[keys[1]], got.Found[keys[2]]
			if todo.Name != "To Do" || todo.Category != jira.CategoryNew || todo.Assignee != nil || todo.Resolution != "" {
				t.Errorf("to do: %+v", todo)
			}
			if prog.Name != "In Progress" || prog.Category != jira.CategoryInProgress || prog.Assignee.DisplayName != "Dave Ops" ||
				prog.Assignee.Email != "dave@example.com" || prog.Assignee.ID() != "acc-dave" {
				t.Errorf("in progress: %+v %+v", prog, prog.Assignee)
			}
			if done.Category != jira.CategoryDone || done.Resolution != "Fixed" || done.Assignee.DisplayName != "Erin <Private>" {
				t.Errorf("done: %+v", done)
			}
			// Cloud hides the e-mail of a user whose privacy settings say so.
			if cloud && done.Assignee.Email != "" {
				t.Errorf("hidden e-mail shown: %q", done.Assignee.Email)
			}
			path := "GET /rest/api/2/search/jql"
			if !cloud {
				path = "GET /rest/api/2/search"
			}
			if srv.Requests(path) != 1 {
				t.Errorf("searched %d times on %s", srv.Requests(path), path)
			}
		})
	}
}

func TestReadStatusesBatchesOf100(t *testing.T) {
	srv, c := statusSetup(t, true, 0)
	keys := plant(srv, 500)
	got, err := c.ReadStatuses(context.Background(), keys)
	if err != nil || len(got.Found) != 500 || got.Searches != 5 || srv.Searches() != 5 {
		t.Fatalf("found %d in %d searches (fake saw %d): %v", len(got.Found), got.Searches, srv.Searches(), err)
	}
}

func TestReadStatusesFollowsPages(t *testing.T) {
	for _, cloud := range []bool{true, false} {
		srv, c := statusSetup(t, cloud, 30)
		keys := plant(srv, 100)
		got, err := c.ReadStatuses(context.Background(), keys)
		if err != nil || len(got.Found) != 100 || got.Searches != 4 {
			t.Fatalf("cloud=%v: found %d in %d searches: %v", cloud, len(got.Found), got.Searches, err)
		}
	}
}

func TestReadStatusesDropsDeletedKeys(t *testing.T) {
	for _, cloud := range []bool{true, false} {
		srv, c := statusSetup(t, cloud, 0)
		keys := plant(srv, 5)
		must(t, srv.Delete(keys[1]))
		must(t, srv.Delete(keys[3]))
		// SEC-999 never existed; garbage never reaches the JQL.
		got, err := c.ReadStatuses(context.Background(), append(keys, "SEC-999", "SEC-1) OR project = X", "sec-2"))
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Found) != 3 || len(got.Gone) != 3 || !contains(got.Gone, keys[1]) || !contains(got.Gone, keys[3]) || !contains(got.Gone, "SEC-999") {
			t.Fatalf("cloud=%v: found %v gone %v", cloud, got.Found, got.Gone)
		}
		// Jira names every missing key in one answer: one search fails, the next succeeds.
		if got.Searches != 2 {
			t.Fatalf("cloud=%v: %d searches", cloud, got.Searches)
		}
	}
}

func TestReadStatusesFailures(t *testing.T) {
	srv, c := statusSetup(t, true, 0)
	keys := plant(srv, 2)
	srv.Fail(jirafake.Fault{Status: 502}, jirafake.Fault{Status: 429, RetryAfter: "1"})
	if got, err := c.ReadStatuses(context.Background(), keys); err != nil || len(got.Found) != 2 {
		t.Fatalf("retries: %+v %v", got, err)
	}
	// A 400 that names no key is an error, not a gone issue.
	srv.Fail(jirafake.Fault{Status: 400, Body: `{"errorMessages":["Error in the JQL Query: Expecting ')' but got 'OR'."],"errors":{}}`})
	got, err := c.ReadStatuses(context.Background(), keys)
	if httpx.KindOf(err) != httpx.KindBadRequest || len(got.Gone) != 0 || !strings.Contains(err.Error(), "Expecting") {
		t.Fatalf("%+v %v", got, err)
	}
	srv.Fail(jirafake.Fault{Status: http.StatusUnauthorized})
	if _, err := c.ReadStatuses(context.Background(), keys); httpx.KindOf(err) != httpx.KindAuth || strings.Contains(err.Error(), apiToken) {
		t.Fatalf("err %v", err)
	}
	srv.Fail(jirafake.Fault{Status: 200, Body: `{"issues":[{"key":`})
	if _, err := c.ReadStatuses(context.Background(), keys); httpx.KindOf(err) != httpx.KindBadResponse {
		t.Fatalf("err %v", err)
	}
}

func TestReadStatusesMissesIssuesNotYetIndexed(t *testing.T) {
	srv := jirafake.New(jirafake.Options{Cloud: true, User: "soc@example.com", Token: apiToken, SearchLag: time.Hour})
	t.Cleanup(srv.Close)
	c, _ := jira.New(jira.Config{URL: srv.URL, User: "soc@example.com", APIToken: apiToken}, srv.Client(), nil)
	key := srv.AddIssue("new", nil, 0)
	got, err := c.ReadStatuses(context.Background(), []string{key})
	if err != nil || len(got.Found) != 0 || len(got.Gone) != 0 {
		t.Fatalf("a just-created issue is neither found nor gone: %+v %v", got, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
