package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/abuseipdb/abusefake"
	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/graph/graphfake"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
)

// TestMain lets a test run the bot as another process: Go reads
// SSL_CERT_FILE once per process, so trusting the fake Entra ID the way an
// operator would (SSL_CERT_FILE) needs a fresh one.
func TestMain(m *testing.M) {
	if os.Getenv("MCASBOT_TEST_RUN_MAIN") == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ()))
	}
	os.Exit(m.Run())
}

// runProcess runs the bot binary (this test binary) with env only.
func runProcess(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(env, "MCASBOT_TEST_RUN_MAIN=1", "PATH="+os.Getenv("PATH"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

const wrongSecret = "Sx8Q~WRONG-secret-value-0009"

// entraProcessWorld is contoso and fabrikam on Entra ID (fabrikam with an
// app of its own), northwind on a legacy token, Graph for contoso, and
// Slack, AbuseIPDB and Jira, for a bot started as another process.
func entraProcessWorld(t *testing.T) (*entrafake.Server, map[string]*mcasfake.Server, []string) {
	t.Helper()
	authority := entrafake.New()
	t.Cleanup(authority.Close)
	ca := filepath.Join(t.TempDir(), "entra-ca.pem")
	if err := authority.WriteCA(ca); err != nil {
		t.Fatal(err)
	}
	roles := []string{"Investigation.Read", "GroupMember.Read.All"}
	authority.AddApp(entrafake.App{ClientID: multiApp, Secret: appSecret, Tenants: []string{dirContoso, dirFabrikam}, Roles: roles})
	// fabrikam's own app may close alerts; the shared one only reads them.
	authority.AddApp(entrafake.App{ClientID: ownApp, Secret: ownSecret, Tenants: []string{dirFabrikam}, Roles: append(roles, "Investigation.manage")})
	tenants := map[string]*mcasfake.Server{}
	for i, name := range []string{"contoso", "fabrikam", "northwind"} {
		srv := mcasfake.New("")
		t.Cleanup(srv.Close)
		srv.AddAlerts(mcasfake.Generate(name, 5, time.Now().UTC(), time.Hour, uint64(i+1))...)
		tenants[name] = srv
	}
	tenants["contoso"].TrustEntra(dirContoso, authority)
	tenants["fabrikam"].TrustEntra(dirFabrikam, authority)
	tenants["northwind"].SetToken("tok-northwind-secret")
	g := graphfake.New(dirContoso, authority)
	t.Cleanup(g.Close)
	slack := slackfake.New()
	t.Cleanup(slack.Close)
	abuse := abusefake.New("abuse-check-secret", 1000)
	t.Cleanup(abuse.Close)
	js := jirafake.New(jirafake.Options{Cloud: true, User: "soc@example.com", Token: "jira-check-secret"})
	t.Cleanup(js.Close)
	env := []string{
		"SSL_CERT_FILE=" + ca, "AZURE_AUTHORITY_HOST=" + authority.Authority(), "GRAPH_URL=" + g.URL,
		"AZURE_CLIENT_ID=" + multiApp, "AZURE_CLIENT_SECRET=" + appSecret,
		"MCAS_TENANT_0_NAME=contoso", "MCAS_TENANT_0_URL=" + tenants["contoso"].URL, "MCAS_TENANT_0_AZURE_TENANT_ID=" + dirContoso,
		"MCAS_TENANT_1_NAME=fabrikam", "MCAS_TENANT_1_URL=" + tenants["fabrikam"].URL, "MCAS_TENANT_1_AZURE_TENANT_ID=" + dirFabrikam,
		"MCAS_TENANT_1_AZURE_CLIENT_ID=" + ownApp, "MCAS_TENANT_1_AZURE_CLIENT_SECRET=" + ownSecret,
		"MCAS_TENANT_2_NAME=northwind", "MCAS_TENANT_2_URL=" + tenants["northwind"].URL, "MCAS_TENANT_2_TOKEN=tok-northwind-secret",
		"MCAS_ATTEMPTS=1",
		"SLACK_BOT_TOKEN=xoxb-check-secret", "SLACK_APP_TOKEN=xapp-check-secret", "SLACK_API_URL=" + slack.APIURL(),
		"SLACK_ALLOWED_CHANNELS=C0SOC", "SLACK_ALLOWED_USERS=U0A", "ABUSEIPDB_API_KEY=abuse-check-secret", "ABUSEIPDB_URL=" + abuse.URL,
		"DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "s.db"), "DIGEST_CHANNEL=C0DIGEST",
		"JIRA_URL=" + js.URL, "JIRA_USER=soc@example.com", "JIRA_API_TOKEN=jira-check-secret", "JIRA_PROJECT=SEC",
		"JIRA_PRIORITY_RULES=title~Leaked credentials&group=Staff=Highest",
	}
	return authority, tenants, env
}

func TestCheckNamesEachTenantsSignIn(t *testing.T) {
	authority, _, env := entraProcessWorld(t)
	code, out, errs := runProcess(t, env, "check")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"mcas       ok    contoso: Entra app " + multiApp + " (secret): token issued",
		"mcas       ok    contoso: can read alerts (newest",
		"mcas       ok    fabrikam: Entra app " + ownApp + " (secret): token issued",
		"mcas       ok    northwind: token valid, can read alerts (newest",
		"mcas       WARN  northwind: legacy token: MCAS API tokens are on Microsoft's deprecation path",
		"graph      ok    contoso: Microsoft Graph token issued with GroupMember.Read.All",
		"graph      WARN  contoso: the application lacks User.Read.All: an alert whose user is an e-mail address that is not the UPN cannot be looked up",
		"graph      WARN  northwind: signs in with a legacy token, so group priority rules never match its alerts",
		"mcas       WARN  contoso: the application lacks Investigation.manage in this tenant: closing alerts from Slack (Close…) will fail with HTTP 403; grant it with admin consent",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "WARN  contoso: legacy") || strings.Contains(out, "WARN  fabrikam: legacy") {
		t.Errorf("Entra tenants warned as legacy:\n%s", out)
	}
	// fabrikam's app has the permission; northwind's legacy token cannot be checked this way.
	if strings.Contains(out, "fabrikam: the application lacks Investigation.manage") || strings.Contains(out, "northwind: the application lacks") {
		t.Errorf("warned about Investigation.manage where it is not missing:\n%s", out)
	}
	if authority.TokenRequests(dirContoso) == 0 || authority.TokenRequests(dirFabrikam) == 0 {
		t.Fatal("no token was requested from the fake authority")
	}
	assertNoEntraSecrets(t, out+errs)
}

// With JIRA_DONE_CLOSES_ALERT on, the warning names it too.
func TestCheckNamesWhatAMissingManagePermissionBreaks(t *testing.T) {
	_, _, env := entraProcessWorld(t)
	code, out, errs := runProcess(t, with(env, "JIRA_DONE_CLOSES_ALERT=true_positive"), "check")
	want := "mcas       WARN  contoso: the application lacks Investigation.manage in this tenant: closing alerts from Slack (Close…) and JIRA_DONE_CLOSES_ALERT will fail with HTTP 403"
	if code != exitOK || !strings.Contains(out, want) {
		t.Fatalf("exit %d, want a line %q:\n%s%s", code, want, out, errs)
	}
}

func TestCheckTellsAWrongSecretInWords(t *testing.T) {
	_, _, env := entraProcessWorld(t)
	env = with(env, "MCAS_TENANT_1_AZURE_CLIENT_SECRET="+wrongSecret)
	code, out, errs := runProcess(t, env, "check")
	want := "mcas       FAIL  fabrikam: Entra app " + ownApp + " (secret): no token: authentication failed: Entra ID rejected the application's secret (AADSTS7000215) — it may have expired"
	if code != exitUpstream || !strings.Contains(out, want) || !strings.Contains(out, "mcas       ok    contoso: can read alerts") {
		t.Fatalf("exit %d, want a line %q:\n%s%s", code, want, out, errs)
	}
	assertNoEntraSecrets(t, out+errs)
}

func TestExecAnswersFromEntraAndLegacyTenants(t *testing.T) {
	authority, tenants, env := entraProcessWorld(t)
	code, out, errs := runProcess(t, env, "exec", "alerts limit=15")
	if code != exitOK || !strings.Contains(out, "contoso, fabrikam, northwind") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for name, srv := range tenants {
		if !strings.Contains(out, name+".portal.cloudappsecurity.com") {
			t.Errorf("no alert from %s:\n%s", name, out)
		}
		want := "Bearer "
		if name == "northwind" {
			want = "Token "
		}
		if auth := srv.Requests()[0].Auth; !strings.HasPrefix(auth, want) {
			t.Errorf("%s got Authorization %.12q…", name, auth)
		}
	}
	if authority.TokenRequests(dirContoso) != 1 || authority.TokenRequests(dirFabrikam) != 1 {
		t.Fatalf("token requests: contoso %d, fabrikam %d", authority.TokenRequests(dirContoso), authority.TokenRequests(dirFabrikam))
	}
	assertNoEntraSecrets(t, out+errs)
}

func assertNoEntraSecrets(t *testing.T, s string) {
	t.Helper()
	assertNoSecrets(t, s)
	for _, secret := range []string{appSecret, ownSecret, wrongSecret, "tok-northwind-secret"} {
		if strings.Contains(s, secret) {
			t.Fatalf("secret %q printed", secret)
		}
	}
}
