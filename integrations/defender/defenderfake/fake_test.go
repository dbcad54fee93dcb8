package defenderfake_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/defender/defenderfake"
	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/graph"
	"github.com/soc/mcasbot/integrations/graph/graphfake"
)

const (
	dir    = "11111111-aaaa-4aaa-8aaa-111111111111"
	app    = "0b5c1e7a-3f1d-4c59-9a57-5a1f00000021"
	secret = "Sx8Q~fake-SECRET-0001"
)

var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

type env struct {
	srv   *defenderfake.Server
	users *graphfake.Server
	token string
	cred  *entra.Credential
}

func setup(t *testing.T, roles ...string) *env {
	t.Helper()
	authority := entrafake.New()
	t.Cleanup(authority.Close)
	authority.AddApp(entrafake.App{ClientID: app, Secret: secret, Tenants: []string{dir}, Roles: roles})
	users := graphfake.New(dir, authority)
	t.Cleanup(users.Close)
	srv := defenderfake.New(authority, users.Config.Handler)
	srv.Now = func() time.Time { return now }
	t.Cleanup(srv.Close)
	cred, err := entra.New(entra.Settings{Tenant: "t", TenantID: dir, ClientID: app, Method: entra.ClientSecret, Secret: secret,
		AuthorityHost: authority.Authority()}, authority.Client())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.Token(context.Background(), graph.ScopeFor(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, users: users, token: tok, cred: cred}
}

func (e *env) do(t *testing.T, method, path, query, body string) (int, map[string]any) {
	t.Helper()
	u := e.srv.URL + path
	if query != "" {
		u += "?" + query
	}
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func filterQuery(f string) string {
	return "$filter=" + strings.ReplaceAll(url.QueryEscape(f), "+", "%20")
}

func graphError(t *testing.T, body map[string]any) string {
	t.Helper()
	e, ok := body["error"].(map[string]any)
	if !ok || e["code"] == "" {
		t.Fatalf("not a Graph error: %v", body)
	}
	return e["code"].(string) + ": " + e["message"].(string)
}

func TestFilterFormsOutsideWhatMcasbotSendsAre400(t *testing.T) {
	e := setup(t, defenderfake.RoleReadWrite)
	e.srv.Tenant(dir).AddAlerts(defenderfake.Generate("contoso", dir, 5, now, time.Hour, 1)...)
	for _, ok := range []string{
		"serviceSource eq 'microsoftDefenderForCloudApps'",
		"(severity eq 'high' or severity eq 'low') and status eq 'new'",
		"createdDateTime ge 2026-11-20T11:00:00Z and createdDateTime le 2026-11-20T12:00:00.000Z",
		"evidence/any(e: e/microsoft.graph.security.userEvidence/userAccount/userPrincipalName eq 'o''brien@contoso.com')",
	} {
		if status, body := e.do(t, "GET", "/v1.0/security/alerts_v2", filterQuery(ok), ""); status != 200 {
			t.Errorf("%s: %d %v", ok, status, body)
		}
	}
	for bad, want := range map[string]string{
		"investigationState eq 'running'":                                   "property 'investigationState' cannot be used",
		"createdDateTime ge '2026-11-20T11:00:00Z'":                         "Invalid filter clause",
		"severity eq 'critical'":                                            "not a valid enumeration",
		"(severity eq 'high' or status eq 'new')":                           "Invalid filter clause",
		"serviceSource eq 'microsoftDefenderForCloudApps' or status eq 'x'": "Invalid filter clause",
		"title eq 'x'": "property 'title' cannot be used",
		"severity eq 'high' and (status eq 'new'": "Syntax error",
	} {
		status, body := e.do(t, "GET", "/v1.0/security/alerts_v2", filterQuery(bad), "")
		if status != 400 || !strings.Contains(graphError(t, body), want) {
			t.Errorf("%s: %d %v", bad, status, body)
		}
	}
	for _, q := range []string{"$orderby=createdDateTime%20asc", "$top=2001", "$top=0"} {
		if status, body := e.do(t, "GET", "/v1.0/security/alerts_v2", q, ""); status != 400 {
			t.Errorf("%s: %d %v", q, status, body)
		}
	}
}

func TestCommentsTakeOneObjectNotAnArray(t *testing.T) {
	e := setup(t, defenderfake.RoleReadWrite)
	a := defenderfake.Generate("contoso", dir, 1, now, time.Hour, 1)[0]
	e.srv.Tenant(dir).AddAlerts(a)
	path := "/v1.0/security/alerts_v2/" + a.ID + "/comments"
	status, body := e.do(t, "POST", path, "", `[{"@odata.type":"microsoft.graph.security.alertComment","comment":"x"}]`)
	if status != 400 || graphError(t, body) != "BadRequest: Empty Payload" {
		t.Fatalf("array: %d %v", status, body)
	}
	status, body = e.do(t, "POST", path, "", `{"@odata.type":"microsoft.graph.security.alertComment","comment":"checked"}`)
	if status != 200 || len(body["value"].([]any)) != 1 {
		t.Fatalf("object: %d %v", status, body)
	}
	if status, _ := e.do(t, "POST", "/v1.0/security/alerts_v2/nope/comments", "", `{"comment":"x"}`); status != 404 {
		t.Fatalf("unknown alert: %d", status)
	}
}

func TestPatchChecksWhatItIsGiven(t *testing.T) {
	e := setup(t, defenderfake.RoleReadWrite)
	a := defenderfake.Generate("contoso", dir, 1, now, time.Hour, 1)[0]
	e.srv.Tenant(dir).AddAlerts(a)
	path := "/v1.0/security/alerts_v2/" + a.ID
	// In order: the resolving PATCH comes last.
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"status":"resolved","classification":"truePositive","determination":"notMalicious"}`, 400},
		{`{"status":"closed"}`, 400},
		{`{"investigationState":"x"}`, 400},
		{`[]`, 400},
		{`{"status":"inProgress","assignedTo":"carol@contoso.com"}`, 200},
		{`{"status":"resolved","classification":"falsePositive","determination":"notMalicious"}`, 200},
	} {
		if status, resp := e.do(t, "PATCH", path, "", tc.body); status != tc.want {
			t.Errorf("%s: %d %v", tc.body, status, resp)
		}
	}
	got, _ := e.srv.Tenant(dir).Alert(a.ID)
	if *got.Status != "resolved" || got.ResolvedDateTime == nil || *got.ResolvedDateTime != defenderfake.Time(now) {
		t.Fatalf("%+v", got)
	}
}

func TestAuthIsGraphs(t *testing.T) {
	e := setup(t, defenderfake.RoleRead)
	tok := e.token
	e.token = ""
	if status, body := e.do(t, "GET", "/v1.0/security/alerts_v2", "", ""); status != 401 || !strings.Contains(graphError(t, body), "InvalidAuthenticationToken") {
		t.Fatalf("%d %v", status, body)
	}
	e.token = tok
	if status, body := e.do(t, "PATCH", "/v1.0/security/alerts_v2/x", "", `{}`); status != 403 || !strings.Contains(graphError(t, body), "SecurityAlert.ReadWrite.All") {
		t.Fatalf("%d %v", status, body)
	}
	if status, _ := e.do(t, "POST", "/v1.0/security/runHuntingQuery", "", `{"Query":"x"}`); status != 403 {
		t.Fatalf("%d", status)
	}
	// Graph's other paths are the rest handler's (graphfake here).
	e.users.SetUser("alice@contoso.com", "Staff")
	if status, _ := e.do(t, "GET", "/v1.0/users/alice@contoso.com/transitiveMemberOf/microsoft.graph.group", "", ""); status != 403 {
		t.Fatalf("graphfake's answer expected (no GroupMember.Read.All): %d", status)
	}
}

func TestOneServerIsAllOfGraph(t *testing.T) {
	e := setup(t, defenderfake.RoleRead, "GroupMember.Read.All")
	e.users.SetUser("alice@contoso.com", "Staff", "All Company")
	c, err := graph.New(graph.Config{URL: e.srv.URL}, "contoso", e.cred, e.srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := c.Groups(context.Background(), "alice@contoso.com")
	if err != nil || strings.Join(groups, ",") != "All Company,Staff" {
		t.Fatalf("%v %v", groups, err)
	}
	if status, _ := e.do(t, "GET", "/v1.0/security/alerts_v2", "", ""); status != 200 {
		t.Fatalf("%d", status)
	}
}

func TestHuntingRunsOnlyMcasbotsQuery(t *testing.T) {
	e := setup(t, defenderfake.RoleHunting)
	if status, body := e.do(t, "POST", "/v1.0/security/runHuntingQuery", "", `{"Query":"CloudAppEvents | take 10"}`); status != 400 || !strings.Contains(graphError(t, body), "could not be parsed") {
		t.Fatalf("%d %v", status, body)
	}
	q := `CloudAppEvents | where Timestamp >= datetime(2026-11-13T12:00:00.000Z) | where IPAddress =~ "1.2.3.4" | project Timestamp, Nope | order by Timestamp desc | take 1`
	b, _ := json.Marshal(map[string]string{"query": q, "timespan": "P7D"})
	if status, body := e.do(t, "POST", "/v1.0/security/runHuntingQuery", "", string(b)); status != 400 || !strings.Contains(graphError(t, body), "Nope") {
		t.Fatalf("%d %v", status, body)
	}
}
