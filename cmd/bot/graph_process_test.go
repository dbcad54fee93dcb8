package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/abuseipdb/abusefake"
	"github.com/soc/mcasbot/integrations/defender/defenderfake"
	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/graph/graphfake"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
)

const (
	graphApp    = "0b5c1e7a-3f1d-4c59-9a57-5a1f00000007"
	graphSecret = "Sx8Q~graph-app-SECRET-0007"
)

// graphProcessWorld is contoso on MCAS (a legacy token) and fabrikam on
// Microsoft Graph with an app granted roles; one fake is all of GRAPH_URL
// (users through graphfake, security through defenderfake).
func graphProcessWorld(t *testing.T, roles ...string) (*defenderfake.Server, []string) {
	t.Helper()
	authority := entrafake.New()
	t.Cleanup(authority.Close)
	ca := filepath.Join(t.TempDir(), "entra-ca.pem")
	if err := authority.WriteCA(ca); err != nil {
		t.Fatal(err)
	}
	authority.AddApp(entrafake.App{ClientID: graphApp, Secret: graphSecret, Tenants: []string{dirFabrikam}, Roles: roles})
	users := graphfake.New(dirFabrikam, authority)
	t.Cleanup(users.Close)
	g := defenderfake.New(authority, users.Config.Handler)
	t.Cleanup(g.Close)
	now := time.Now().UTC()
	g.Tenant(dirFabrikam).AddAlerts(defenderfake.Generate("fabrikam", dirFabrikam, 6, now, time.Hour, 2)...)
	g.Tenant(dirFabrikam).AddEvents(defenderfake.Events("fabrikam", 100, now, 48*time.Hour, 2)...)
	mc := mcasfake.New("tok-contoso-secret")
	t.Cleanup(mc.Close)
	mc.AddAlerts(mcasfake.Generate("contoso", 6, now, time.Hour, 1)...)
	mc.AddActivities(mcasfake.GenerateActivities("contoso", 100, now, 48*time.Hour, 1)...)
	slack := slackfake.New()
	t.Cleanup(slack.Close)
	abuse := abusefake.New("abuse-check-secret", 1000)
	t.Cleanup(abuse.Close)
	env := []string{
		"SSL_CERT_FILE=" + ca, "AZURE_AUTHORITY_HOST=" + authority.Authority(), "GRAPH_URL=" + g.URL,
		"MCAS_TENANT_0_NAME=contoso", "MCAS_TENANT_0_URL=" + mc.URL, "MCAS_TENANT_0_TOKEN=tok-contoso-secret",
		"MCAS_TENANT_1_NAME=fabrikam", "MCAS_TENANT_1_SOURCE=graph", "MCAS_TENANT_1_AZURE_TENANT_ID=" + dirFabrikam,
		"MCAS_TENANT_1_AZURE_CLIENT_ID=" + graphApp, "MCAS_TENANT_1_AZURE_CLIENT_SECRET=" + graphSecret,
		"MCAS_ATTEMPTS=1",
		"SLACK_BOT_TOKEN=xoxb-check-secret", "SLACK_APP_TOKEN=xapp-check-secret", "SLACK_API_URL=" + slack.APIURL(),
		"SLACK_ALLOWED_CHANNELS=C0SOC", "SLACK_ALLOWED_USERS=U0A", "ABUSEIPDB_API_KEY=abuse-check-secret", "ABUSEIPDB_URL=" + abuse.URL,
		"DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "s.db"), "DIGEST_CHANNEL=C0DIGEST",
	}
	return g, env
}

func assertNoGraphSecrets(t *testing.T, s string, g *defenderfake.Server) {
	t.Helper()
	assertNoSecrets(t, s)
	secrets := []string{graphSecret, "tok-contoso-secret"}
	for _, r := range g.Requests() {
		secrets = append(secrets, strings.TrimPrefix(r.Auth, "Bearer "))
	}
	for _, secret := range secrets {
		if secret != "" && strings.Contains(s, secret) {
			t.Fatalf("secret %.16q… printed", secret)
		}
	}
}

func TestCheckNamesEachTenantsSourceAndTheGraphRoles(t *testing.T) {
	g, env := graphProcessWorld(t, defenderfake.RoleReadWrite, defenderfake.RoleHunting)
	code, out, errs := runProcess(t, env, "check")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"tenants    ok    contoso: mcas (Defender for Cloud Apps REST API) · fabrikam: graph (Microsoft Graph security API: Defender for Cloud Apps)",
		"defender   ok    fabrikam: Entra app " + graphApp + " (secret): Microsoft Graph token issued",
		"defender   ok    fabrikam: the token carries SecurityAlert.ReadWrite.All and ThreatHunting.Read.All: Close… and /mcas ip work",
		"defender   ok    fabrikam: can read alerts (newest",
		"mcas       ok    contoso: token valid, can read alerts (newest",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	assertNoGraphSecrets(t, out+errs, g)
}

func TestCheckWarnsWhatAMissingGraphPermissionBreaks(t *testing.T) {
	g, env := graphProcessWorld(t, defenderfake.RoleRead)
	code, out, errs := runProcess(t, with(env, "JIRA_DONE_CLOSES_ALERT=true_positive", "JIRA_URL=https://jira.example", "JIRA_USER=a@b.c",
		"JIRA_API_TOKEN=jira-check-secret", "JIRA_PROJECT=SEC"), "check")
	for _, want := range []string{
		"defender   WARN  fabrikam: the application lacks SecurityAlert.ReadWrite.All in this tenant: closing alerts from Slack (Close…) and JIRA_DONE_CLOSES_ALERT will fail with HTTP 403; grant it in Entra ID",
		"defender   WARN  fabrikam: the application lacks ThreatHunting.Read.All in this tenant: /mcas ip will fail with HTTP 403",
		"defender   ok    fabrikam: can read alerts",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exit %d, output lacks %q:\n%s%s", code, want, out, errs)
		}
	}
	g2, env2 := graphProcessWorld(t)
	code, out, errs = runProcess(t, env2, "check")
	if code != exitUpstream || !strings.Contains(out, "defender   FAIL  fabrikam: the application lacks SecurityAlert.ReadWrite.All (or SecurityAlert.Read.All) in this tenant: it cannot read alerts") {
		t.Fatalf("exit %d:\n%s%s", code, out, errs)
	}
	assertNoGraphSecrets(t, out+errs, g)
	assertNoGraphSecrets(t, out+errs, g2)
}

func TestExecAnswersFromMCASAndGraphTenants(t *testing.T) {
	g, env := graphProcessWorld(t, defenderfake.RoleReadWrite, defenderfake.RoleHunting)
	code, out, errs := runProcess(t, env, "exec", "alerts limit=20")
	if code != exitOK || !strings.Contains(out, "tenants: contoso, fabrikam") || !strings.Contains(out, "contoso.portal.cloudappsecurity.com") ||
		!strings.Contains(out, "https://security.microsoft.com/alerts/") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runProcess(t, env, "exec", "ip 185.220.101.4 limit=30")
	if code != exitOK || !strings.Contains(out, "fabrikam") || !strings.Contains(out, "contoso") || len(g.HuntingQueries()) != 1 {
		t.Fatalf("exit %d, %d hunting queries\n%s%s", code, len(g.HuntingQueries()), out, errs)
	}
	assertNoGraphSecrets(t, out+errs, g)
}
