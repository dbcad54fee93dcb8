package graph_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
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
	logs      *bytes.Buffer // what the clients logged
}

func newWorld(t *testing.T, roles ...string) *world {
	t.Helper()
	if roles == nil {
		roles = []string{"GroupMember.Read.All", "User.Read.All"}
	}
	w := &world{authority: entrafake.New(), logs: &bytes.Buffer{}}
	t.Cleanup(w.authority.Close)
	w.authority.AddApp(entrafake.App{ClientID: app, Secret: secret, Tenants: []string{dir, other}, Roles: roles})
	w.graph = graphfake.New(dir, w.authority)
	t.Cleanup(w.graph.Close)
	w.client = w.clientFor(t, dir)
	return w
}

func (w *world) clientFor(t *testing.T, tenantID string) *graph.Client {
	return w.clientWith(t, tenantID, graph.Config{})
}

// clientWith is a client of tenantID's Graph with cfg's TTLs, logging into
// w.logs.
func (w *world) clientWith(t *testing.T, tenantID string, cfg graph.Config) *graph.Client {
	cred, err := entra.New(entra.Settings{Tenant: "contoso", TenantID: tenantID, ClientID: app, Method: entra.ClientSecret, Secret: secret,
		AuthorityHost: w.authority.Authority()}, w.authority.Client())
	if err != nil {
		t.Fatal(err)
	}
	cfg.URL, cfg.Attempts = w.graph.URL, 2
	c, err := graph.New(cfg, "contoso", cred, w.graph.Client(), slog.New(slog.NewTextHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
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

func TestConcurrentLookupsOfOneAliasShareTheirCalls(t *testing.T) {
	w := newWorld(t)
	w.graph.SetUser("dave@contoso.com", "Staff")
	w.graph.SetMail("dave@contoso.com", "dave@contoso.com", "d.w@contoso.com")
	w.graph.SetLatency(20 * time.Millisecond)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if g, err := w.client.Groups(context.Background(), "d.w@contoso.com"); err != nil || len(g) != 1 {
				t.Error(g, err)
			}
		})
	}
	wg.Wait()
	// One 404, one search, one memberships call.
	if n := len(w.graph.Requests()); n != 3 {
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
			httpx.KindNotFound, "not found (HTTP 404): Request_ResourceNotFound: no user has the address ghost@contoso.com: looked up by user principal name and by mail"},
		{"an address two users have", func(t *testing.T) (*world, *graph.Client) {
			w := newWorld(t)
			w.graph.SetMail("ann@contoso.com", "ann@contoso.com", "ghost@contoso.com")
			w.graph.SetMail("bea@contoso.com", "ghost@contoso.com")
			return w, w.client
		}, httpx.KindNotFound, "not found: 2 users have the address ghost@contoso.com (ann@contoso.com, bea@contoso.com): ambiguous, so none is picked"},
		{"no permission", func(t *testing.T) (*world, *graph.Client) { w := newWorld(t, "Investigation.Read"); return w, w.client },
			httpx.KindForbidden, "permission denied (HTTP 403): Authorization_RequestDenied: Insufficient privileges to complete the operation. (grant the application GroupMember.Read.All"},
		{"no permission to search users", func(t *testing.T) (*world, *graph.Client) {
			w := newWorld(t, "GroupMember.Read.All")
			return w, w.client
		},
			httpx.KindForbidden, "permission denied (HTTP 403): Authorization_RequestDenied: Insufficient privileges to complete the operation. " +
				"(ghost@contoso.com is not a user principal name in this directory, and finding users by mail address needs User.Read.All " +
				"(GroupMember.Read.All alone cannot search users): grant it to the application, with admin consent)"},
		{"another tenant's token", func(t *testing.T) (*world, *graph.Client) { w := newWorld(t); return w, w.clientFor(t, other) },
			httpx.KindAuth, "the token was issued for another tenant"},
		{"throttled", func(t *testing.T) (*world, *graph.Client) {
			w := newWorld(t)
			w.graph.Fail(graphfake.Fault{Status: 429, RetryAfter: "120"})
			return w, w.client
		}, httpx.KindThrottled, "throttled (HTTP 429): TooManyRequests: Too many requests."},
		{"search unavailable", func(t *testing.T) (*world, *graph.Client) {
			w := newWorld(t)
			// The memberships call answers as usual (404), then the search fails twice.
			w.graph.Fail(graphfake.Fault{Path: "/v1.0/users/"}, graphfake.Fault{Status: 503}, graphfake.Fault{Status: 503})
			return w, w.client
		}, httpx.KindUnavailable, "unavailable (HTTP 503): serviceNotAvailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, c := tc.setup(t)
			_, err := c.Groups(context.Background(), "ghost@contoso.com")
			if httpx.KindOf(err) != tc.kind || !strings.Contains(httpx.Describe(err), tc.want) {
				t.Fatalf("%q %q, want %q", httpx.KindOf(err), httpx.Describe(err), tc.want)
			}
			// Neither the secret nor any bearer token Graph saw is in the
			// error or the logs.
			said := fmt.Sprintf("%v %+v %#v", err, err, err) + w.logs.String()
			secrets := []string{secret}
			for _, r := range w.graph.Requests() {
				if tok := strings.TrimPrefix(r.Auth, "Bearer "); len(tok) > 20 {
					secrets = append(secrets, tok)
				}
			}
			if len(secrets) < 2 {
				t.Fatal("Graph saw no bearer token")
			}
			for _, s := range secrets {
				if strings.Contains(said, s) {
					t.Fatalf("secret %.12s… leaked: %s", s, said)
				}
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
	for _, u := range []string{"", "../../groups", "a/b@contoso.com", "x@contoso.com?$top=1", "..", "x@contoso.com\x00", "x\n@contoso.com",
		"x y@contoso.com", "\xff@contoso.com", "x@contoso.com\u2028' or 1 eq 1"} {
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

// searched is the address a user search looked for, after checking the
// search is the one filter the client sends, with the advanced query
// parameters.
func searched(t *testing.T, r graphfake.Request) string {
	t.Helper()
	q, err := url.ParseQuery(r.Query)
	if err != nil || r.Path != "/v1.0/users" || r.ConsistencyLevel != "eventual" || q.Get("$count") != "true" || q.Get("$select") != "id,userPrincipalName" {
		t.Fatalf("search %+v", r)
	}
	mails, others, err := graphfake.ParseMailFilter(q.Get("$filter"))
	if err != nil || len(mails) != 1 || !slices.Equal(mails, others) {
		t.Fatalf("filter %q: %v", q.Get("$filter"), err)
	}
	return mails[0]
}

func TestGroupsOfAMailAddressThatIsNoUPN(t *testing.T) {
	for _, tc := range []struct{ name, addr string }{
		{"primary mail", "Carol.Jones@contoso.com"},
		{"alias in otherMails", "cj@contoso.com"},
		{"alias with a quote", "O'Brien@contoso.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.graph.SetUser("carol.j@contoso.com", "Staff", "All Company")
			w.graph.SetMail("carol.j@contoso.com", "carol.jones@contoso.com", "cj@contoso.com", "o'brien@contoso.com")
			w.graph.SetUser("temp@contoso.com", "Contractors")
			w.graph.SetMail("temp@contoso.com", "temp.worker@contoso.com", "carol@contoso.com")
			d := graph.Directory{Clients: map[string]*graph.Client{"contoso": w.client}}
			g, err := d.Groups(context.Background(), "contoso", tc.addr)
			if err != nil || strings.Join(g, ",") != "All Company,Staff" {
				t.Fatalf("%v %v", g, err)
			}
			// Not a UPN (404), then found by mail, then memberships by id.
			reqs := w.graph.Requests()
			if len(reqs) != 3 || reqs[0].User != strings.ToLower(tc.addr) || reqs[2].User != graphfake.UserID("carol.j@contoso.com") {
				t.Fatalf("requests %+v", reqs)
			}
			if got := searched(t, reqs[1]); got != strings.ToLower(tc.addr) {
				t.Fatalf("searched for %q", got)
			}
			// The address and the groups are remembered, however spelled.
			for range 3 {
				if g, err := d.Groups(context.Background(), "contoso", strings.ToUpper(tc.addr)); err != nil || len(g) != 2 {
					t.Fatal(g, err)
				}
			}
			if n := len(w.graph.Requests()); n != 3 {
				t.Fatalf("%d requests after the lookup was cached", n)
			}
		})
	}
}

func TestAliasesOfOneUserShareTheirGroups(t *testing.T) {
	w := newWorld(t)
	w.graph.SetUser("carol.j@contoso.com", "Staff")
	w.graph.SetMail("carol.j@contoso.com", "carol.jones@contoso.com", "cj@contoso.com")
	for _, addr := range []string{"carol.jones@contoso.com", "cj@contoso.com"} {
		if g, err := w.client.Groups(context.Background(), addr); err != nil || len(g) != 1 {
			t.Fatal(addr, g, err)
		}
	}
	// The second alias costs its 404 and its search, not the memberships.
	if n := len(w.graph.Requests()); n != 5 {
		t.Fatalf("%d requests", n)
	}
}

func TestAnAddressNoUserHasIsRememberedForAWhile(t *testing.T) {
	w := newWorld(t)
	c := w.clientWith(t, dir, graph.Config{NotFoundTTL: 50 * time.Millisecond})
	_, err := c.Groups(context.Background(), "carol@contoso.com")
	if httpx.KindOf(err) != httpx.KindNotFound || !strings.Contains(err.Error(), "no user has the address carol@contoso.com: looked up by user principal name and by mail") {
		t.Fatal(err)
	}
	if n := len(w.graph.Requests()); n != 2 {
		t.Fatalf("%d requests", n)
	}
	// Alerts for the same bad address cost no Graph calls…
	for range 3 {
		if _, err2 := c.Groups(context.Background(), "carol@contoso.com"); err2 == nil || err2.Error() != err.Error() {
			t.Fatal(err2)
		}
	}
	if n := len(w.graph.Requests()); n != 2 {
		t.Fatalf("%d requests for a remembered address", n)
	}
	// …until NotFoundTTL has passed: an alias added since is then found.
	w.graph.SetUser("carol.j@contoso.com", "Staff")
	w.graph.SetMail("carol.j@contoso.com", "carol.jones@contoso.com", "carol@contoso.com")
	time.Sleep(100 * time.Millisecond)
	if g, err := c.Groups(context.Background(), "carol@contoso.com"); err != nil || len(g) != 1 {
		t.Fatal(g, err)
	}
}

func TestOnlyMailAddressesAreSearched(t *testing.T) {
	w := newWorld(t)
	for _, u := range []string{"0b5c1e7a-3f1d-4c59-9a57-5a1f000000ff", "carol"} {
		if _, err := w.client.Groups(context.Background(), u); httpx.KindOf(err) != httpx.KindNotFound || !strings.Contains(err.Error(), "Resource '"+u+"' does not exist") {
			t.Fatal(u, err)
		}
	}
	if n := len(w.graph.Requests()); n != 2 {
		t.Fatalf("%d requests", n)
	}
}
