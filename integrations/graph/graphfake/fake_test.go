package graphfake_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/graph/graphfake"
)

const (
	dir    = "11111111-aaaa-4aaa-8aaa-111111111111"
	app    = "0b5c1e7a-3f1d-4c59-9a57-5a1f00000001"
	secret = "Sx8Q~graphfake-SECRET-value"
)

// fakeWith starts a Graph whose application has roles, and returns it
// with a token for it.
func fakeWith(t *testing.T, roles ...string) (*graphfake.Server, string) {
	t.Helper()
	authority := entrafake.New()
	t.Cleanup(authority.Close)
	authority.AddApp(entrafake.App{ClientID: app, Secret: secret, Tenants: []string{dir}, Roles: roles})
	g := graphfake.New(dir, authority)
	t.Cleanup(g.Close)
	cred, err := entra.New(entra.Settings{Tenant: "contoso", TenantID: dir, ClientID: app, Method: entra.ClientSecret, Secret: secret,
		AuthorityHost: authority.Authority()}, authority.Client())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.Token(context.Background(), "https://graph.microsoft.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	return g, tok
}

// get sends GET path?query with the token and headers, and returns the
// status and body.
func get(t *testing.T, g *graphfake.Server, tok, path string, query url.Values, header map[string]string) (int, string) {
	t.Helper()
	u := g.URL + path
	if query != nil {
		u += "?" + strings.ReplaceAll(query.Encode(), "+", "%20")
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := g.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func search(filter string, count bool) url.Values {
	q := url.Values{"$filter": {filter}, "$select": {"id,userPrincipalName"}}
	if count {
		q.Set("$count", "true")
	}
	return q
}

type users struct {
	Count *int `json:"@odata.count"`
	Value []struct {
		ID  string `json:"id"`
		UPN string `json:"userPrincipalName"`
	} `json:"value"`
}

func TestSearchByMailAndOtherMails(t *testing.T) {
	g, tok := fakeWith(t, "User.Read.All", "GroupMember.Read.All")
	g.SetUser("carol.j@contoso.com", "Staff")
	g.SetMail("carol.j@contoso.com", "Carol.Jones@contoso.com", "cj@contoso.com", "o'brien@contoso.com")
	g.SetMail("dave@contoso.com", "dave.w@contoso.com")
	eventual := map[string]string{"ConsistencyLevel": "eventual"}
	for _, tc := range []struct{ filter, want string }{
		{"mail eq 'carol.jones@contoso.com'", "carol.j@contoso.com"},
		{"otherMails/any(x:x eq 'CJ@contoso.com')", "carol.j@contoso.com"},
		{"mail eq 'o''brien@contoso.com' or otherMails/any(x:x eq 'o''brien@contoso.com')", "carol.j@contoso.com"},
		{"mail eq 'dave.w@contoso.com' or otherMails/any(x:x eq 'dave.w@contoso.com')", "dave@contoso.com"},
		{"mail eq 'cj@contoso.com'", ""}, // an alias is not the primary mail
		{"mail eq 'nobody@contoso.com' or otherMails/any(x:x eq 'nobody@contoso.com')", ""},
	} {
		status, body := get(t, g, tok, "/v1.0/users", search(tc.filter, true), eventual)
		var u users
		if err := json.Unmarshal([]byte(body), &u); status != 200 || err != nil || u.Count == nil || *u.Count != len(u.Value) {
			t.Fatalf("%s: %d %s", tc.filter, status, body)
		}
		var got []string
		for _, v := range u.Value {
			got = append(got, v.UPN)
			if v.ID != graphfake.UserID(v.UPN) {
				t.Errorf("%s: id %s", tc.filter, v.ID)
			}
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%s: found %v, want %q", tc.filter, got, tc.want)
		}
	}
	// Memberships are read by id as well as by UPN.
	if status, body := get(t, g, tok, "/v1.0/users/"+graphfake.UserID("carol.j@contoso.com")+"/transitiveMemberOf/microsoft.graph.group", nil, nil); status != 200 ||
		!strings.Contains(body, `"displayName":"Staff"`) {
		t.Fatalf("memberships by id: %d %s", status, body)
	}
}

func TestSearchWithTheLambdaNeedsAdvancedQueryParameters(t *testing.T) {
	g, tok := fakeWith(t, "User.Read.All")
	g.SetMail("carol.j@contoso.com", "carol@contoso.com", "cj@contoso.com")
	lambda := "mail eq 'cj@contoso.com' or otherMails/any(x:x eq 'cj@contoso.com')"
	for _, tc := range []struct {
		name   string
		q      url.Values
		header map[string]string
	}{
		{"no header", search(lambda, true), nil},
		{"no $count", search(lambda, false), map[string]string{"ConsistencyLevel": "eventual"}},
		{"another level", search(lambda, true), map[string]string{"ConsistencyLevel": "session"}},
	} {
		status, body := get(t, g, tok, "/v1.0/users", tc.q, tc.header)
		if status != 400 || !strings.Contains(body, `"code":"Request_UnsupportedQuery"`) || !strings.Contains(body, "ConsistencyLevel:eventual") {
			t.Errorf("%s: %d %s", tc.name, status, body)
		}
	}
	// mail eq alone is a default query: $count is ignored without the header.
	status, body := get(t, g, tok, "/v1.0/users", search("mail eq 'carol@contoso.com'", true), nil)
	if status != 200 || strings.Contains(body, "@odata.count") || !strings.Contains(body, `"userPrincipalName":"carol.j@contoso.com"`) {
		t.Fatalf("%d %s", status, body)
	}
}

func TestSearchRefusesOtherFiltersAndNeedsUserReadAll(t *testing.T) {
	g, tok := fakeWith(t, "User.Read.All")
	eventual := map[string]string{"ConsistencyLevel": "eventual"}
	for _, f := range []string{
		"",
		"mail eq 'a@b.c' or 1 eq 1",
		"mail eq 'a@b.c",
		"mail eq 'a@b.c' and otherMails/any(x:x eq 'a@b.c')",
		"otherMails/any(x:x eq 'a@b.c'",
		"startsWith(mail,'a')",
		"mail eq 'x' or mail eq 'y'or",
	} {
		if status, body := get(t, g, tok, "/v1.0/users", search(f, true), eventual); status != 400 || !strings.Contains(body, `"code":"BadRequest"`) {
			t.Errorf("%q: %d %s", f, status, body)
		}
	}
	g2, tok2 := fakeWith(t, "GroupMember.Read.All")
	if status, body := get(t, g2, tok2, "/v1.0/users", search("mail eq 'a@b.c'", true), eventual); status != 403 || !strings.Contains(body, "Authorization_RequestDenied") {
		t.Fatalf("GroupMember.Read.All alone: %d %s", status, body)
	}
	reqs := g2.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/v1.0/users" || reqs[0].ConsistencyLevel != "eventual" {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestParseMailFilter(t *testing.T) {
	mails, others, err := graphfake.ParseMailFilter("mail eq 'o''brien@x.com' or otherMails/any(x:x eq ''' or ''') or mail eq ''")
	if err != nil || !slices.Equal(mails, []string{"o'brien@x.com", ""}) || !slices.Equal(others, []string{"' or '"}) {
		t.Fatalf("%q %q %v", mails, others, err)
	}
}
