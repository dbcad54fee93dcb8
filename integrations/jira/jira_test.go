package jira_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
)

const apiToken = "ATATT-jira-SECRET-555"

var fields = []jirafake.CustomField{
	{ID: "customfield_10050", Name: "Alert URL", Type: jirafake.URLField, OnScreen: true},
	{ID: "customfield_10051", Name: "Affected user", Type: jirafake.SingleLine, OnScreen: true},
	{ID: "customfield_10052", Name: "Reported IPs", Type: jirafake.Paragraph, OnScreen: true},
	{ID: "customfield_10053", Name: "Hidden", Type: jirafake.SingleLine, OnScreen: false},
}

func setup(t *testing.T, cloud bool) (*jirafake.Server, *jira.Client, *[]time.Duration) {
	t.Helper()
	srv := jirafake.New(jirafake.Options{Cloud: cloud, User: "soc@example.com", Token: apiToken, Fields: fields, SearchLag: 200 * time.Millisecond})
	t.Cleanup(srv.Close)
	cfg := jira.Config{URL: srv.URL, User: "soc@example.com", APIToken: apiToken, Timeout: 300 * time.Millisecond}
	if !cloud {
		cfg = jira.Config{URL: srv.URL, PAT: apiToken, Timeout: 300 * time.Millisecond}
	}
	c, err := jira.New(cfg, srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var slept []time.Duration
	for _, cl := range c.Callers() {
		cl.Sleep = func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	}
	return srv, c, &slept
}

func issue() jira.Issue {
	return jira.Issue{Project: "SEC", IssueType: "Task", Summary: "[MCAS][contoso] Impossible travel", Description: "h3. Alert",
		Priority: "High", Labels: []string{"mcas", "mcas-65a1", "contoso"},
		Custom: map[string]any{"customfield_10050": "https://contoso.portal.cloudappsecurity.com/#/alerts/65a1", "customfield_10051": "alice@contoso.com"}}
}

func TestCreateAndFindOnCloud(t *testing.T) {
	srv, c, _ := setup(t, true)
	got, err := c.Create(context.Background(), issue())
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != "SEC-1" || got.URL != srv.URL+"/browse/SEC-1" {
		t.Fatalf("created %+v", got)
	}
	is := srv.Issues()[0]
	if string(is.Fields["customfield_10051"]) != `"alice@contoso.com"` || string(is.Fields["priority"]) != `{"name":"High"}` {
		t.Fatalf("fields %s", is.Fields)
	}
	// Search is eventually consistent: not found at once, found later.
	found, err := c.FindByLabel(context.Background(), "SEC", "mcas-65a1")
	if err != nil || len(found) != 0 {
		t.Fatalf("just created: %v %v", found, err)
	}
	time.Sleep(250 * time.Millisecond)
	found, err = c.FindByLabel(context.Background(), "SEC", "mcas-65a1")
	if err != nil || len(found) != 1 || found[0].Key != "SEC-1" {
		t.Fatalf("later: %v %v", found, err)
	}
	if srv.Requests("GET /rest/api/2/search/jql") != 2 || srv.Requests("GET /rest/api/2/search") != 0 {
		t.Fatal("Cloud must use /search/jql only")
	}
}

func TestDataCenterUsesOldSearchAndBearer(t *testing.T) {
	srv, c, _ := setup(t, false)
	if c.Deployment() != jira.DataCenter {
		t.Fatal("PAT should mean Data Center")
	}
	srv.AddIssue("planted", []string{"mcas-77"}, time.Hour)
	found, err := c.FindByLabel(context.Background(), "SEC", "mcas-77")
	if err != nil || len(found) != 1 || srv.Requests("GET /rest/api/2/search") != 1 {
		t.Fatalf("%v %v", found, err)
	}
}

func TestCloudOldSearchIsGone(t *testing.T) {
	srv, _, _ := setup(t, true)
	c, _ := jira.New(jira.Config{URL: srv.URL, User: "soc@example.com", APIToken: apiToken, Deployment: jira.DataCenter}, srv.Client(), nil)
	_, err := c.FindByLabel(context.Background(), "SEC", "x")
	var e *httpx.Error
	if !asErr(err, &e) || e.Status != http.StatusGone || !strings.Contains(e.Detail, "search/jql") {
		t.Fatalf("err = %v", err)
	}
}

func asErr(err error, target **httpx.Error) bool {
	e, ok := err.(*httpx.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestFieldErrorsAreNamed(t *testing.T) {
	_, c, _ := setup(t, true)
	is := issue()
	is.Custom["customfield_10053"] = "x"
	is.Labels = append(is.Labels, "has space")
	is.Priority = "Urgent"
	_, err := c.Create(context.Background(), is)
	if httpx.KindOf(err) != httpx.KindBadRequest {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{
		"customfield_10053: Field 'customfield_10053' cannot be set. It is not on the appropriate screen, or unknown.",
		"labels: The label 'has space' contains spaces", "priority: The priority selected is invalid.",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestLengthsAreValidatedLikeJira(t *testing.T) {
	_, c, _ := setup(t, true)
	is := issue()
	is.Summary = strings.Repeat("s", 256)
	is.Custom["customfield_10051"] = strings.Repeat("u", 256)
	_, err := c.Create(context.Background(), is)
	if err == nil || !strings.Contains(err.Error(), "summary: Summary must be less than 255 characters.") || !strings.Contains(err.Error(), "customfield_10051: The entered text is too long") {
		t.Fatalf("err = %v", err)
	}
}

func TestCreateRetriesOnlyWhatJiraSurelyDidNotDo(t *testing.T) {
	cases := []struct {
		name    string
		fault   jirafake.Fault
		created int
		slept   int
	}{
		{"429 with Retry-After", jirafake.Fault{Status: 429, RetryAfter: "3"}, 1, 1},
		{"503", jirafake.Fault{Status: 503}, 1, 1},
		{"500 may have created it", jirafake.Fault{Status: 500}, 0, 0},
		{"timeout may have created it", jirafake.Fault{Delay: time.Second}, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, c, slept := setup(t, true)
			srv.Fail(tc.fault)
			_, err := c.Create(context.Background(), issue())
			if len(srv.Issues()) != tc.created || len(*slept) != tc.slept {
				t.Fatalf("created %d, retried %d, err %v", len(srv.Issues()), len(*slept), err)
			}
			if tc.fault.RetryAfter == "3" && (*slept)[0] != 3*time.Second {
				t.Fatalf("waited %v", (*slept)[0])
			}
		})
	}
}

func TestSearchRetriesServerErrors(t *testing.T) {
	srv, c, slept := setup(t, true)
	srv.Fail(jirafake.Fault{Status: 502}, jirafake.Fault{Status: 429, RetryAfter: "1"})
	if _, err := c.FindByLabel(context.Background(), "SEC", "x"); err != nil || len(*slept) != 2 {
		t.Fatalf("err %v, retries %d", err, len(*slept))
	}
}

func TestAuthAndMalformed(t *testing.T) {
	srv, _, _ := setup(t, true)
	bad, _ := jira.New(jira.Config{URL: srv.URL, User: "soc@example.com", APIToken: "wrong-token-zzz"}, srv.Client(), nil)
	_, err := bad.Create(context.Background(), issue())
	if httpx.KindOf(err) != httpx.KindAuth || strings.Contains(err.Error(), "wrong-token-zzz") {
		t.Fatalf("err = %v", err)
	}
	_, c, _ := setup(t, true)
	srv2, c2, _ := setup(t, true)
	_ = c
	srv2.Fail(jirafake.Fault{Status: 201, Body: `{"id":"1"`})
	if _, err := c2.Create(context.Background(), issue()); httpx.KindOf(err) != httpx.KindBadResponse {
		t.Fatalf("err = %v", err)
	}
	if err != nil && strings.Contains(err.Error(), apiToken) {
		t.Fatal("token in error")
	}
}

func TestJQLIsQuoted(t *testing.T) {
	srv, c, _ := setup(t, false)
	srv.AddIssue("x", []string{`mcas-"odd"`}, time.Hour)
	found, err := c.FindByLabel(context.Background(), "SEC", `mcas-"odd"`)
	if err != nil || len(found) != 1 {
		t.Fatalf("%v %v", found, err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []jira.Config{
		{URL: "jira.example.com", PAT: "x"},
		{URL: "https://j.example"},
		{URL: "https://j.example", APIToken: "x"},
		{URL: "https://j.example", PAT: "x", APIToken: "y", User: "u"},
		{URL: "https://j.example", PAT: "x", Deployment: "server"},
	} {
		if _, err := jira.New(cfg, nil, nil); err == nil {
			t.Errorf("accepted %+v", cfg)
		}
	}
}

func TestDiscovery(t *testing.T) {
	_, c, _ := setup(t, true)
	ctx := context.Background()
	if me, err := c.Myself(ctx); err != nil || me == "" {
		t.Fatalf("myself %q %v", me, err)
	}
	fs, err := c.Fields(ctx)
	if err != nil || len(fs) < 5 {
		t.Fatalf("fields %v %v", fs, err)
	}
	screen, err := c.CreateScreen(ctx, "SEC", "task")
	if err != nil || !contains(screen, "customfield_10050") || contains(screen, "customfield_10053") {
		t.Fatalf("screen %v %v", screen, err)
	}
	if _, err := c.CreateScreen(ctx, "SEC", "Epic"); err == nil || !strings.Contains(err.Error(), `issue type "Epic" is not in project SEC`) {
		t.Fatalf("err %v", err)
	}
	if _, err := c.CreateScreen(ctx, "NOPE", "Task"); httpx.KindOf(err) != httpx.KindNotFound {
		t.Fatalf("err %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
