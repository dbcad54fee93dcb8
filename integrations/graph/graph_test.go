package graph_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/graph"
	"github.com/soc/mcasbot/integrations/graph/graphfake"
	"github.com/soc/mcasbot/integrations/httpx"
)

const (
	dir    = "11111111-aaaa-4aaa-8aaa-111111111111"
	other  = "22222222-bbbb-4bbb-8bbb-222222222222"
	app    = "0b5c1e7a-3f1d-4c59-9a57-5a1f00000001"
	secret = "Sx8Q~graph-SECRET-value"
)

type world struct {
	authority *entrafake.Server
	graph     *graphfake.Server
	client    *graph.Client
}

func newWorld(t *testing.T, roles ...string) *world {
	t.Helper()
	if roles == nil {
		roles = []string{"GroupMember.Read.All"}
	}
	w := &world{authority: entrafake.New()}
	t.Cleanup(w.authority.Close)
	w.authority.AddApp(entrafake.App{ClientID: app, Secret: secret, Tenants: []string{dir, other}, Roles: roles})
	w.graph = graphfake.New(dir, w.authority)
	t.Cleanup(w.graph.Close)
	w.client = w.clientFor(t, dir)
	return w
}

func (w *world) clientFor(t *testing.T, tenantID string) *graph.Client {
	cred, err := entra.New(entra.Settings{Tenant: "contoso", TenantID: tenantID, ClientID: app, Method: entra.ClientSecret, Secret: secret,
		AuthorityHost: w.authority.Authority()}, w.authority.Client())
	if err != nil {
		t.Fatal(err)
	}
	c, err := graph.New(graph.Config{URL: w.graph.URL, Attempts: 2}, "contoso", cred, w.graph.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Caller().Sleep = func(context.Context, time.Duration) error { return nil }
	return c
}

func TestGroupsFollowPagesAndAreCached(t *testing.T) {
	w := newWorld(t)
	var many []string
	for i := range 25 {
		many = append(many, fmt.Sprintf("Team %02d", i))
	}
	w.graph.SetUser("carol.j@contoso.com", append(many, "Staff")...)
	w.graph.SetPageSize(10)
	groups, err := w.client.Groups(context.Background(), "Carol.J@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 26 || groups[0] != "Staff" || groups[1] != "Team 00" {
		t.Fatalf("groups %v", groups)
	}
	reqs := w.graph.Requests()
	if len(reqs) != 3 || reqs[0].Query != "$select=displayName&$top=999" || reqs[0].Path != "/v1.0/users/carol.j@contoso.com/transitiveMemberOf/microsoft.graph.group" ||
		!strings.Contains(reqs[2].Query, "$skiptoken=20") || !strings.HasPrefix(reqs[0].Auth, "Bearer ") {
		t.Fatalf("requests %+v", reqs)
	}
	// Cached per user: no more calls, however it is spelled.
	for range 3 {
		if _, err := w.client.Groups(context.Background(), "carol.j@CONTOSO.com"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(w.graph.Requests()); n != 3 {
		t.Fatalf("%d requests after cached lookups", n)
	}
}

func TestConcurrentLookupsOfOneUserShareOneCall(t *testing.T) {
	w := newWorld(t)
	w.graph.SetUser("dave@contoso.com", "Staff")
	w.graph.SetLatency(50 * time.Millisecond)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if g, err := w.client.Groups(context.Background(), "dave@contoso.com"); err != nil || len(g) != 1 {
				t.Error(g, err)
			}
		})
	}
	wg.Wait()
	if n := len(w.graph.Requests()); n != 1 {
		t.Fatalf("%d calls", n)
	}
}

func TestGraphErrorsSayWhy(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T) (*world, *graph.Client)
		kind  httpx.Kind
		want  string
	}{
		{"unknown user", func(t *testing.T) (*world, *graph.Client) { w := newWorld(t); return w, w.client },
			httpx.KindNotFound, "not found (HTTP 404): Request_ResourceNotFound: Resource 'ghost@contoso.com' does not exist"},
		{"no permission", func(t *testing.T) (*world, *graph.Client) { w := newWorld(t, "Investigation.Read"); return w, w.client },
			httpx.KindForbidden, "permission denied (HTTP 403): Authorization_RequestDenied: Insufficient privileges to complete the operation. (grant the application GroupMember.Read.All"},
		{"another tenant's token", func(t *testing.T) (*world, *graph.Client) { w := newWorld(t); return w, w.clientFor(t, other) },
			httpx.KindAuth, "the token was issued for another tenant"},
		{"throttled", func(t *testing.T) (*world, *graph.Client) {
			w := newWorld(t)
			w.graph.Fail(graphfake.Fault{Status: 429, RetryAfter: "120"})
			return w, w.client
		}, httpx.KindThrottled, "throttled (HTTP 429): TooManyRequests: Too many requests."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, c := tc.setup(t)
			_, err := c.Groups(context.Background(), "ghost@contoso.com")
			if httpx.KindOf(err) != tc.kind || !strings.Contains(httpx.Describe(err), tc.want) {
				t.Fatalf("%q %q, want %q", httpx.KindOf(err), httpx.Describe(err), tc.want)
			}
			if strings.Contains(fmt.Sprintf("%v %+v", err, err), secret) {
				t.Fatal("secret leaked")
			}
		})
	}
}

func TestThrottlingIsWaitedOutAndNotCachedAsFailure(t *testing.T) {
	w := newWorld(t)
	w.graph.SetUser("erin@contoso.com", "Ops")
	var waited []time.Duration
	w.client.Caller().Sleep = func(_ context.Context, d time.Duration) error { waited = append(waited, d); return nil }
	w.graph.Fail(graphfake.Fault{Status: 429, RetryAfter: "3"})
	g, err := w.client.Groups(context.Background(), "erin@contoso.com")
	if err != nil || len(g) != 1 || len(waited) != 1 || waited[0] != 3*time.Second {
		t.Fatalf("%v %v waited %v", g, err, waited)
	}
}

func TestNextLinkMustStayOnGraph(t *testing.T) {
	w := newWorld(t)
	w.graph.SetUser("carol@contoso.com", "Staff")
	// An answer whose next page is elsewhere: the token must not follow it.
	w.graph.Fail(graphfake.Fault{Status: 200, Body: `{"value":[{"displayName":"Staff"}],"@odata.nextLink":"https://evil.example/v1.0/next"}`})
	_, err := w.client.Groups(context.Background(), "carol@contoso.com")
	if httpx.KindOf(err) != httpx.KindBadResponse || !strings.Contains(err.Error(), "@odata.nextLink leaves") || len(w.graph.Requests()) != 1 {
		t.Fatalf("%v", err)
	}
}

func TestOddUsersAreNotSent(t *testing.T) {
	w := newWorld(t)
	for _, u := range []string{"", "../../groups", "a/b@contoso.com", "x@contoso.com?$top=1"} {
		if _, err := w.client.Groups(context.Background(), u); httpx.KindOf(err) != httpx.KindBadRequest {
			t.Errorf("%q: %v", u, err)
		}
	}
	if n := len(w.graph.Requests()); n != 0 {
		t.Fatalf("%d requests", n)
	}
}

func TestScopeFor(t *testing.T) {
	for base, want := range map[string]string{
		"https://graph.microsoft.com":     "https://graph.microsoft.com/.default",
		"https://graph.microsoft.us/":     "https://graph.microsoft.us/.default",
		"https://dod-graph.microsoft.us":  "https://dod-graph.microsoft.us/.default",
		"http://127.0.0.1:4321":           "https://graph.microsoft.com/.default",
		"https://graph-proxy.internal:80": "https://graph.microsoft.com/.default",
	} {
		if got := graph.ScopeFor(base); got != want {
			t.Errorf("%s: %s, want %s", base, got, want)
		}
	}
}

func TestDirectoryNamesLegacyTenants(t *testing.T) {
	w := newWorld(t)
	w.graph.SetUser("carol@contoso.com", "Staff")
	d := graph.Directory{Clients: map[string]*graph.Client{"contoso": w.client}}
	if g, err := d.Groups(context.Background(), "contoso", "carol@contoso.com"); err != nil || g[0] != "Staff" {
		t.Fatal(g, err)
	}
	if _, err := d.Groups(context.Background(), "fabrikam", "x@fabrikam.com"); err == nil || !strings.Contains(err.Error(), "fabrikam signs in with a legacy MCAS token") {
		t.Fatal(err)
	}
}
