package main

import (
	"context"
	"strings"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/integrations/defender"
	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/integrations/graph"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/source"
)

// checkGraphTenants names each tenant's source, and for each tenant read
// through Microsoft Graph gets its token, reads the application roles in
// it (what Close… and /mcas ip need) and reads one alert.
func checkGraphTenants(ctx context.Context, a *app, tenants []Tenant, add adder) {
	if len(tenants) == 0 {
		return
	}
	var names []string
	for _, t := range tenants {
		names = append(names, t.Name+": "+sourceWords(t))
	}
	add("tenants", pass, "%s", strings.Join(names, " · "))
	scope := graph.ScopeFor(a.cfg.Entra.GraphURL)
	for _, w := range a.tenants {
		c := w.defender
		if c == nil {
			continue
		}
		t := tenantNamed(tenants, c.Name())
		cred := w.cred
		if cred == nil {
			add("defender", fail, "%s: no Entra ID credential", t.Name)
			continue
		}
		tok, err := token(ctx, a, cred, scope)
		if err != nil {
			add("defender", fail, "%s: %s: no Microsoft Graph token: %s", t.Name, t.AuthName(), httpx.Describe(err))
			continue
		}
		add("defender", pass, "%s: %s: Microsoft Graph token issued", t.Name, t.AuthName())
		readable := checkGraphRoles(a, t, tok, add)
		list, err := c.Alerts(ctx, source.AlertQuery{Limit: 1})
		switch {
		case err != nil:
			add("defender", fail, "%s: %s", t.Name, httpx.Describe(err))
		case !readable:
		case len(list.Alerts) == 0:
			add("defender", pass, "%s: can read alerts (none yet)", t.Name)
		default:
			add("defender", pass, "%s: can read alerts (newest %s UTC)", t.Name, list.Alerts[0].Time.Format("2006-01-02 15:04"))
		}
	}
}

// checkGraphRoles reads the roles claim of a tenant's Graph token (without
// verifying it) and says what a missing permission breaks; false when the
// token cannot read alerts.
func checkGraphRoles(a *app, t Tenant, tok string, add adder) bool {
	roles, ok := entra.Roles(tok)
	if !ok {
		return true // not a readable JWT: the alert read tells
	}
	has := func(r string) bool { return entra.HasRole(roles, r) }
	grant := "grant it in Entra ID (API permissions, Microsoft Graph, application permission), then admin consent"
	if !has(defender.PermRead) && !has(defender.PermWrite) {
		add("defender", fail, "%s: the application lacks %s (or %s) in this tenant: it cannot read alerts; %s", t.Name, defender.PermWrite, defender.PermRead, grant)
		return false
	}
	if !has(defender.PermWrite) {
		add("defender", warn, "%s: the application lacks %s in this tenant: %s will fail with HTTP 403; %s", t.Name, defender.PermWrite, closingUses(a.cfg), grant)
	}
	if !has(defender.PermHunting) {
		add("defender", warn, "%s: the application lacks %s in this tenant: /mcas ip will fail with HTTP 403; %s", t.Name, defender.PermHunting, grant)
	}
	if has(defender.PermWrite) && has(defender.PermHunting) {
		add("defender", pass, "%s: the token carries %s and %s: Close… and /mcas ip work", t.Name, defender.PermWrite, defender.PermHunting)
	}
	return true
}

// sourceWords says which API a tenant is read through.
func sourceWords(t Tenant) string {
	if t.Source != source.Graph {
		return "mcas (Defender for Cloud Apps REST API)"
	}
	products := "Defender for Cloud Apps"
	if len(t.ServiceSources) > 0 {
		var ps []string
		for _, s := range t.ServiceSources {
			if p := formatting.ProductName(source.Alert{Product: s}); p != "" {
				ps = append(ps, p)
			} else {
				ps = append(ps, "Defender for Cloud Apps")
			}
		}
		products = strings.Join(ps, ", ")
	}
	return "graph (Microsoft Graph security API: " + products + ")"
}

// tenantNamed is the configured tenant of that name.
func tenantNamed(tenants []Tenant, name string) Tenant {
	for _, t := range tenants {
		if t.Name == name {
			return t
		}
	}
	return Tenant{Name: name}
}
