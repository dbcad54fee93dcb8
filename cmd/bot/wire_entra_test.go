package main

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/ops"
)

func TestEntraRequestsAreCounted(t *testing.T) {
	authority := entrafake.New()
	defer authority.Close()
	authority.AddApp(entrafake.App{ClientID: multiApp, Secret: appSecret, Tenants: []string{dirContoso}})
	a := &app{cfg: &Config{}, hc: authority.Client()}
	cred, err := a.signIn(Tenant{Name: "contoso", Entra: &entra.Settings{Tenant: "contoso", TenantID: dirContoso, ClientID: multiApp,
		Method: entra.ClientSecret, Secret: appSecret, AuthorityHost: authority.Authority()}})
	if err != nil || cred == nil {
		t.Fatal(cred, err)
	}
	if n := authority.TokenRequests(dirContoso); n != 0 {
		t.Fatalf("signing in asked for %d tokens before any use", n)
	}
	m := ops.NewMetrics()
	a.instrumentEntra(m, cred)
	for range 3 {
		if _, err := cred.Token(context.Background(), mcas.Scope); err != nil {
			t.Fatal(err)
		}
	}
	// The OpenID configuration and one token: the rest came from the cache.
	if n := testutil.ToFloat64(m.Upstream.WithLabelValues("entra", "200")); n != 2 {
		t.Fatalf("%v entra requests counted, want 2", n)
	}
	if groups := a.groups(); groups != nil {
		t.Fatalf("groups without a group rule: %v", groups)
	}
}
