package mcas_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
)

const (
	dirContoso  = "11111111-aaaa-4aaa-8aaa-111111111111"
	dirFabrikam = "22222222-bbbb-4bbb-8bbb-222222222222"
	multiApp    = "0b5c1e7a-3f1d-4c59-9a57-5a1f00000001"
	appSecret   = "Sx8Q~app-SECRET-value-0001"
)

type entraWorld struct {
	authority *entrafake.Server
	tenants   map[string]*mcasfake.Server
}

func newEntraWorld(t *testing.T) *entraWorld {
	t.Helper()
	w := &entraWorld{authority: entrafake.New(), tenants: map[string]*mcasfake.Server{}}
	t.Cleanup(w.authority.Close)
	w.authority.AddApp(entrafake.App{ClientID: multiApp, Secret: appSecret, Tenants: []string{dirContoso, dirFabrikam}, Roles: []string{"Investigation.Read"}})
	for _, dir := range []string{dirContoso, dirFabrikam} {
		srv := mcasfake.New("")
		t.Cleanup(srv.Close)
		srv.TrustEntra(dir, w.authority)
		srv.AddAlerts(mcasfake.Generate(dir[:4], 3, now, time.Hour, 1)...)
		w.tenants[dir] = srv
	}
	return w
}

func (w *entraWorld) client(t *testing.T, mcasDir, credDir, clientID, secret string) (*mcas.Client, *entra.Credential) {
	t.Helper()
	cred, err := entra.New(entra.Settings{Tenant: "t", TenantID: credDir, ClientID: clientID, Method: entra.ClientSecret, Secret: secret,
		AuthorityHost: w.authority.Authority()}, w.authority.Client())
	if err != nil {
		t.Fatal(err)
	}
	srv := w.tenants[mcasDir]
	c, err := mcas.New(mcas.Config{Name: "t", URL: srv.URL, Auth: mcas.Bearer(cred), RequestsPerMinute: -1, Attempts: 1}, srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, cred
}

func TestBearerTokensAreEachTenantsOwn(t *testing.T) {
	w := newEntraWorld(t)
	for _, dir := range []string{dirContoso, dirFabrikam} {
		c, _ := w.client(t, dir, dir, multiApp, appSecret)
		for range 3 {
			if _, err := c.Alerts(context.Background(), source.AlertQuery{Limit: 2}); err != nil {
				t.Fatalf("%s: %v", dir, err)
			}
		}
		if auth := w.tenants[dir].Requests()[0].Auth; !strings.HasPrefix(auth, "Bearer ey") {
			t.Fatalf("Authorization %q", auth)
		}
		if n := w.authority.TokenRequests(dir); n != 1 {
			t.Fatalf("%s: %d token requests for 3 calls", dir, n)
		}
	}
	// fabrikam's MCAS refuses a token issued in contoso's directory.
	c, _ := w.client(t, dirFabrikam, dirContoso, multiApp, appSecret)
	_, err := c.Alerts(context.Background(), source.AlertQuery{Limit: 1})
	if httpx.KindOf(err) != httpx.KindAuth || !strings.Contains(err.Error(), "issued for another tenant") {
		t.Fatalf("cross-tenant token: %v", err)
	}
}

func TestNoTokenMeansNoRequestAndWordsWithoutTheSecret(t *testing.T) {
	w := newEntraWorld(t)
	c, _ := w.client(t, dirContoso, dirContoso, multiApp, "Wrong~SECRET-value-9999")
	_, err := c.Alerts(context.Background(), source.AlertQuery{Limit: 1})
	if httpx.KindOf(err) != httpx.KindAuth || !strings.Contains(httpx.Describe(err), "Entra ID rejected the application's secret (AADSTS7000215)") {
		t.Fatalf("%v", err)
	}
	if n := len(w.tenants[dirContoso].Requests()); n != 0 {
		t.Fatalf("%d MCAS requests without a token", n)
	}
	if s := fmt.Sprintf("%v %+v %s", err, err, httpx.Describe(err)); strings.Contains(s, "Wrong~SECRET-value-9999") || strings.Contains(s, appSecret) {
		t.Fatalf("secret leaked: %s", s)
	}
}

func TestAppWithoutInvestigationReadIsForbidden(t *testing.T) {
	w := newEntraWorld(t)
	w.authority.AddApp(entrafake.App{ClientID: "no-perms", Secret: appSecret, Tenants: []string{dirContoso}})
	c, _ := w.client(t, dirContoso, dirContoso, "no-perms", appSecret)
	_, err := c.Alerts(context.Background(), source.AlertQuery{Limit: 1})
	if httpx.KindOf(err) != httpx.KindForbidden || !strings.Contains(err.Error(), "Investigation.Read") {
		t.Fatalf("%v", err)
	}
}
