package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/abuseipdb/abusefake"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
)

type checkWorld struct {
	env   []string
	mcas  *mcasfake.Server
	slack *slackfake.Server
	abuse *abusefake.Server
	jira  *jirafake.Server
}

func newCheckWorld(t *testing.T) *checkWorld {
	w := &checkWorld{}
	var env []string
	w.mcas, env = fakeTenant(t)
	w.slack = slackfake.New()
	t.Cleanup(w.slack.Close)
	w.abuse = abusefake.New("abuse-check-secret", 1000)
	t.Cleanup(w.abuse.Close)
	w.jira = jirafake.New(jirafake.Options{Cloud: true, User: "soc@example.com", Token: "jira-check-secret", Fields: []jirafake.CustomField{
		{ID: "customfield_10050", Name: "Alert URL", Type: jirafake.URLField, OnScreen: true},
		{ID: "customfield_10051", Name: "Affected user", Type: jirafake.SingleLine, OnScreen: false},
	}})
	t.Cleanup(w.jira.Close)
	w.env = append(env, "SLACK_BOT_TOKEN=xoxb-check-secret", "SLACK_APP_TOKEN=xapp-check-secret", "SLACK_API_URL="+w.slack.APIURL(),
		"SLACK_ALLOWED_CHANNELS=C0SOC", "SLACK_ALLOWED_USERS=U0A", "ABUSEIPDB_API_KEY=abuse-check-secret", "ABUSEIPDB_URL="+w.abuse.URL,
		"DATABASE_URL=sqlite:"+filepath.Join(t.TempDir(), "s.db"), "DIGEST_CHANNEL=C0DIGEST",
		"JIRA_URL="+w.jira.URL, "JIRA_USER=soc@example.com", "JIRA_API_TOKEN=jira-check-secret", "JIRA_PROJECT=SEC",
		"JIRA_FIELD_ALERT_URL=customfield_10050")
	return w
}

func TestCheckAllGood(t *testing.T) {
	w := newCheckWorld(t)
	code, out, errs := runCLI(w.env, "check")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if strings.Contains(out, "FAIL") {
		t.Fatalf("a check failed:\n%s", out)
	}
	for _, want := range []string{
		"config     WARN  MCAS_URL uses plain http", // the fakes are http
		"slack      ok    bot token: @",
		"slack      ok    app token: Socket Mode connections can be opened",
		"mcas       ok    contoso: token valid, can read alerts (newest",
		"abuseipdb  ok    key valid, 999 of 1000 checks left today",
		"store      ok    sqlite (",
		"jira       ok    credentials: signed in as",
		"jira       ok    project SEC has issue type Task",
		`jira       ok    JIRA_FIELD_ALERT_URL customfield_10050 ("Alert URL") is on the create screen`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	assertNoSecrets(t, out+errs)
}

func assertNoSecrets(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{"xoxb-check-secret", "xapp-check-secret", "tok-exec-secret", "abuse-check-secret", "jira-check-secret"} {
		if strings.Contains(s, secret) {
			t.Fatalf("secret %q printed", secret)
		}
	}
}

func TestCheckFailures(t *testing.T) {
	cases := []struct {
		name  string
		setup func(w *checkWorld)
		want  string
	}{
		{"bad bot token", func(w *checkWorld) { w.env = with(w.env, "SLACK_BOT_TOKEN=xoxb-invalid") }, "slack      FAIL  bot token: auth.test failed: invalid_auth"},
		{"app token refused", func(w *checkWorld) { w.slack.FailOpen("invalid_auth") }, "slack      FAIL  app token: apps.connections.open failed: invalid_auth"},
		{"tenant token wrong", func(w *checkWorld) { w.mcas.Fail(mcasfake.Fault{Status: 401}) }, "mcas       FAIL  contoso: authentication failed (HTTP 401): Unauthorized (check the tenant's token)"},
		{"tenant rights", func(w *checkWorld) {
			w.mcas.Fail(mcasfake.Fault{Status: 403, Body: `{"detail":"You do not have permission to perform this action."}`})
		}, "contoso: permission denied (HTTP 403): You do not have permission to perform this action. (the token's owner cannot read alerts)"},
		{"abuse key wrong", func(w *checkWorld) { w.env = with(w.env, "ABUSEIPDB_API_KEY=abuse-wrong-key") }, "abuseipdb  FAIL  authentication failed (HTTP 401)"},
		{"jira credentials", func(w *checkWorld) { w.env = with(w.env, "JIRA_API_TOKEN=jira-wrong-token") }, "jira       FAIL  credentials: authentication failed (HTTP 401)"},
		{"jira project", func(w *checkWorld) { w.env = with(w.env, "JIRA_PROJECT=OPS") }, "jira       FAIL  project OPS / issue type Task: not found (HTTP 404): No project could be found with key 'OPS'."},
		{"jira issue type", func(w *checkWorld) { w.env = with(w.env, "JIRA_ISSUE_TYPE=Epic") }, `issue type "Epic" is not in project SEC`},
		{"jira field unknown", func(w *checkWorld) { w.env = with(w.env, "JIRA_FIELD_IP=customfield_99999") }, "JIRA_FIELD_IP customfield_99999: no such field on this site"},
		{"jira field not on screen", func(w *checkWorld) { w.env = with(w.env, "JIRA_FIELD_AFFECTED_USER=customfield_10051") }, `JIRA_FIELD_AFFECTED_USER customfield_10051 ("Affected user"): not on the create screen of SEC/Task`},
		{"config", func(w *checkWorld) { w.env = with(w.env, "DIGEST_SCHEDULE=sometimes") }, "config     FAIL  DIGEST_SCHEDULE/DIGEST_TIMEZONE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newCheckWorld(t)
			tc.setup(w)
			code, out, errs := runCLI(w.env, "check")
			if code == exitOK || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want a line with %q:\n%s%s", code, tc.want, out, errs)
			}
			assertNoSecrets(t, out+errs)
		})
	}
}
