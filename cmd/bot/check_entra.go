package main

import (
	"context"
	"slices"

	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/integrations/graph"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/source"
)

// checkTenants names how each tenant signs in, gets its token, reads one
// alert, and warns for each tenant still on a legacy token.
func checkTenants(ctx context.Context, a *app, tenants []Tenant, add adder) {
	for _, w := range a.tenants {
		c := w.mcas
		if c == nil {
			continue
		}
		t := tenantNamed(tenants, c.Name())
		can := "token valid, can read alerts"
		var tok string
		if cred := w.cred; cred != nil {
			var err error
			if tok, err = token(ctx, a, cred, mcas.Scope); err != nil {
				add("mcas", fail, "%s: %s: no token: %s", t.Name, t.AuthName(), httpx.Describe(err))
				continue
			}
			add("mcas", pass, "%s: %s: token issued", t.Name, t.AuthName())
			can = "can read alerts"
		}
		list, err := c.Alerts(ctx, source.AlertQuery{Limit: 1})
		switch {
		case err != nil:
			add("mcas", fail, "%s: %s%s", t.Name, httpx.Describe(err), tenantHint(t, err))
		case len(list.Alerts) == 0:
			add("mcas", pass, "%s: %s (none yet)", t.Name, can)
		default:
			add("mcas", pass, "%s: %s (newest %s UTC)", t.Name, can, list.Alerts[0].Time.Format("2006-01-02 15:04"))
		}
		if t.Entra == nil {
			add("mcas", warn, "%s: legacy token: MCAS API tokens are on Microsoft's deprecation path and carry one person's rights; sign this tenant in with an Entra ID application (docs/operator-guide.md, Signing in with Entra ID)", t.Name)
		} else if tok != "" {
			checkManage(a, t, tok, add)
		}
	}
	checkGraph(ctx, a, tenants, add)
}

// checkManage warns when an Entra tenant's MCAS token lacks
// Investigation.manage: it reads alerts but every close gets HTTP 403. A
// legacy token carries its owner's rights, which no claim tells: only a
// close would.
func checkManage(a *app, t Tenant, tok string, add adder) {
	roles, ok := entra.Roles(tok)
	if !ok || entra.HasRole(roles, "Investigation.manage") {
		return
	}
	add("mcas", warn, "%s: the application lacks Investigation.manage in this tenant: %s will fail with HTTP 403; grant it with admin consent", t.Name, closingUses(a.cfg))
}

// closingUses names what closes alerts, for a warning that they will fail.
func closingUses(cfg *Config) string {
	if cfg.DoneCloses() != "" {
		return "closing alerts from Slack (Close…) and JIRA_DONE_CLOSES_ALERT"
	}
	return "closing alerts from Slack (Close…)"
}

func tenantHint(t Tenant, err error) string {
	switch httpx.KindOf(err) {
	case httpx.KindAuth:
		if t.Entra != nil {
			return " (Defender for Cloud Apps refused the Entra ID token: is the app consented in this tenant?)"
		}
		return " (check the tenant's token)"
	case httpx.KindForbidden:
		if t.Entra != nil {
			return " (grant the application Investigation.Read, with admin consent)"
		}
		return " (the token's owner cannot read alerts)"
	case httpx.KindTimeout:
		return " (use the regional portal URL)"
	}
	return ""
}

// checkGraph gets a Graph token for each tenant when a priority rule tests
// a group, and looks for the permission in it.
func checkGraph(ctx context.Context, a *app, tenants []Tenant, add adder) {
	if !a.cfg.JiraEnabled() || !a.cfg.mapping.TestsGroups() {
		return
	}
	scope := graph.ScopeFor(a.cfg.Entra.GraphURL)
	for _, t := range tenants {
		cred := a.cred(t.Name)
		if cred == nil {
			add("graph", warn, "%s: signs in with a legacy token, so group priority rules never match its alerts", t.Name)
			continue
		}
		tok, err := token(ctx, a, cred, scope)
		if err != nil {
			add("graph", fail, "%s: no Microsoft Graph token: %s", t.Name, httpx.Describe(err))
			continue
		}
		roles, ok := entra.Roles(tok)
		switch {
		case !ok:
			add("graph", pass, "%s: Microsoft Graph token issued", t.Name)
		case slices.ContainsFunc(roles, func(r string) bool {
			return r == "GroupMember.Read.All" || r == "Group.Read.All" || r == "Directory.Read.All"
		}):
			add("graph", pass, "%s: Microsoft Graph token issued with GroupMember.Read.All: group rules can read memberships", t.Name)
			if !slices.ContainsFunc(roles, func(r string) bool {
				return r == "User.Read.All" || r == "User.ReadWrite.All" || r == "Directory.Read.All" || r == "Directory.ReadWrite.All"
			}) {
				add("graph", warn, "%s: the application lacks User.Read.All: an alert whose user is an e-mail address that is not the UPN cannot be looked up, and its issue says group membership was unavailable; grant it with admin consent", t.Name)
			}
		default:
			add("graph", fail, "%s: the application lacks GroupMember.Read.All in this tenant: grant it with admin consent, or group rules never match", t.Name)
		}
	}
}

// token waits for a token as long as a request to MCAS may take.
func token(ctx context.Context, a *app, cred *entra.Credential, scope string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.MCASTimeout)
	defer cancel()
	return cred.Token(ctx, scope)
}
