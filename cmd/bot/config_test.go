package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var good = []string{
	"SLACK_BOT_TOKEN=xoxb-1-abc", "SLACK_APP_TOKEN=xapp-1-def",
	"SLACK_ALLOWED_CHANNELS=C0SOC", "SLACK_ALLOWED_USERS=U0A,U0B",
	"MCAS_URL=https://contoso.eu2.portal.cloudappsecurity.com", "MCAS_TOKEN=tok-contoso-secret",
	"ABUSEIPDB_API_KEY=abuse-secret-key",
}

func with(base []string, kv ...string) []string {
	out := []string{}
	drop := map[string]bool{}
	for _, x := range kv {
		k, _, _ := strings.Cut(x, "=")
		drop[k] = true
	}
	for _, x := range base {
		k, _, _ := strings.Cut(x, "=")
		if !drop[k] {
			out = append(out, x)
		}
	}
	for _, x := range kv {
		if !strings.HasSuffix(x, "=<unset>") {
			out = append(out, x)
		}
	}
	return out
}

func TestGoodConfig(t *testing.T) {
	cfg, tenants, ps := Load(good, needs{slack: true, tenants: true})
	if err := ps.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ps) != 0 {
		t.Fatalf("unexpected warnings %v", ps)
	}
	if len(tenants) != 1 || tenants[0].Name != "contoso" || tenants[0].Token.Reveal() != "tok-contoso-secret" {
		t.Fatalf("tenants %+v", tenants)
	}
	if cfg.SlackAPIURL != "https://slack.com/api/" || len(cfg.AllowedUsers) != 2 {
		t.Fatalf("cfg %+v", cfg)
	}
}

func TestSeveralTenantsAndSecretFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tok")
	_ = os.WriteFile(file, []byte("from-file-token\n"), 0o600)
	env := with(good, "MCAS_URL=<unset>", "MCAS_TOKEN=<unset>",
		"MCAS_TENANT_0_NAME=contoso", "MCAS_TENANT_0_URL=https://contoso.eu2.portal.cloudappsecurity.com", "MCAS_TENANT_0_TOKEN=t0-secret",
		"MCAS_TENANT_1_URL=https://fabrikam.us3.portal.cloudappsecurity.com/", "MCAS_TENANT_1_TOKEN_FILE="+file)
	_, tenants, ps := Load(env, needs{slack: true, tenants: true})
	if err := ps.Err(); err != nil {
		t.Fatal(err)
	}
	if len(tenants) != 2 || tenants[1].Name != "fabrikam" || tenants[1].Token.Reveal() != "from-file-token" || strings.HasSuffix(tenants[1].URL, "/") {
		t.Fatalf("tenants %+v", tenants)
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	env := []string{"SLACK_BOT_TOKEN=xapp-wrong", "MCAS_TIMEOUT=soon", "LOG_FORMAT=xml"}
	_, _, ps := Load(env, needs{slack: true, tenants: true})
	err := ps.Err()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"MCAS_TIMEOUT", "SLACK_BOT_TOKEN does not start with xoxb-", "SLACK_APP_TOKEN is not set", "LOG_FORMAT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestConfigFailures(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	empty := filepath.Join(t.TempDir(), "empty")
	_ = os.WriteFile(empty, []byte("\n"), 0o600)
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"no bot token", with(good, "SLACK_BOT_TOKEN=<unset>"), "SLACK_BOT_TOKEN is not set"},
		{"app token in bot slot", with(good, "SLACK_BOT_TOKEN=xapp-1"), "does not start with xoxb-"},
		{"bot token in app slot", with(good, "SLACK_APP_TOKEN=xoxb-1"), "SLACK_APP_TOKEN does not start with xapp-"},
		{"token and file", with(good, "SLACK_BOT_TOKEN_FILE="+empty), "SLACK_BOT_TOKEN and SLACK_BOT_TOKEN_FILE are both set"},
		{"unreadable file", with(good, "SLACK_BOT_TOKEN=<unset>", "SLACK_BOT_TOKEN_FILE="+missing), "SLACK_BOT_TOKEN_FILE: cannot read"},
		{"empty file", with(good, "ABUSEIPDB_API_KEY=<unset>", "ABUSEIPDB_API_KEY_FILE="+empty), "is empty"},
		{"channel name not id", with(good, "SLACK_ALLOWED_CHANNELS=#soc"), `"#soc" in SLACK_ALLOWED_CHANNELS/SLACK_ALLOWED_USERS is not a Slack ID`},
		{"bad api url", with(good, "SLACK_API_URL=::nope"), "SLACK_API_URL"},
		{"no tenant", with(good, "MCAS_URL=<unset>", "MCAS_TOKEN=<unset>"), "no MCAS tenant configured"},
		{"no tenant token", with(good, "MCAS_TOKEN=<unset>"), "MCAS_TOKEN is not set"},
		{"tenant url not https", with(good, "MCAS_URL=ftp://x"), "is not an https URL"},
		{"tenant url missing", with(good, "MCAS_URL=<unset>"), "MCAS_URL is not set"},
		{"both tenant forms", with(good, "MCAS_TENANT_0_URL=https://a.example", "MCAS_TENANT_0_TOKEN=x"), "use one form"},
		{"gap in tenants", with(good, "MCAS_URL=<unset>", "MCAS_TOKEN=<unset>", "MCAS_TENANT_0_URL=https://a.example", "MCAS_TENANT_0_TOKEN=x", "MCAS_TENANT_2_URL=https://c.example"), "MCAS_TENANT_2_URL is set but MCAS_TENANT_1_* is not"},
		{"duplicate tenant", with(good, "MCAS_URL=<unset>", "MCAS_TOKEN=<unset>", "MCAS_TENANT_0_URL=https://a.example", "MCAS_TENANT_0_TOKEN=x", "MCAS_TENANT_1_URL=https://a.other.example", "MCAS_TENANT_1_TOKEN=y"), `tenant name "a" is used twice`},
		{"bad tenant name", with(good, "MCAS_NAME=has space"), "must be 1-40 letters"},
		{"rate too high", with(good, "MCAS_REQUESTS_PER_MINUTE=60"), "MCAS_REQUESTS_PER_MINUTE must be from 1 to 30"},
		{"bad duration", with(good, "MCAS_TIMEOUT=fast"), "MCAS_TIMEOUT"},
		{"negative timeout", with(good, "MCAS_TIMEOUT=-1s"), "MCAS_TIMEOUT must be positive"},
		{"bad attempts", with(good, "MCAS_ATTEMPTS=0"), "MCAS_ATTEMPTS"},
		{"short command timeout", with(good, "COMMAND_TIMEOUT=10ms"), "COMMAND_TIMEOUT"},
		{"bad workers", with(good, "WORKERS=0"), "WORKERS"},
		{"bad cache ttl", with(good, "ABUSEIPDB_CACHE_TTL=0s"), "ABUSEIPDB_CACHE_TTL"},
		{"bad max age", with(good, "ABUSEIPDB_MAX_AGE_DAYS=400"), "ABUSEIPDB_MAX_AGE_DAYS"},
		{"bad log level", with(good, "LOG_LEVEL=loud"), "LOG_LEVEL"},
		{"bad log format", with(good, "LOG_FORMAT=xml"), "LOG_FORMAT"},
		{"bad schedule", with(good, "DIGEST_SCHEDULE=every morning"), "DIGEST_SCHEDULE/DIGEST_TIMEZONE"},
		{"bad timezone", with(good, "DIGEST_TIMEZONE=Mars/Base"), "DIGEST_SCHEDULE/DIGEST_TIMEZONE"},
		{"digest channel name", with(good, "DIGEST_CHANNEL=#soc"), "DIGEST_CHANNEL"},
		{"bad min severity", with(good, "DIGEST_MIN_SEVERITY=critical"), "DIGEST_MIN_SEVERITY"},
		{"bad lookback", with(good, "DIGEST_LOOKBACK=0s"), "DIGEST_LOOKBACK"},
		{"bad overlap", with(good, "DIGEST_OVERLAP=-1h"), "DIGEST_OVERLAP"},
		{"bad max alerts", with(good, "DIGEST_MAX_ALERTS=9000"), "DIGEST_MAX_ALERTS"},
		{"action user name", with(good, "SLACK_ACTION_USERS=@alice"), "SLACK_ACTION_USERS"},
		{"jira no credentials", with(good, "JIRA_URL=https://x.atlassian.net", "JIRA_PROJECT=SEC"), "Jira credentials missing"},
		{"jira token without user", with(good, "JIRA_URL=https://x.atlassian.net", "JIRA_PROJECT=SEC", "JIRA_API_TOKEN=t"), "JIRA_API_TOKEN needs JIRA_USER"},
		{"jira both credentials", with(good, "JIRA_URL=https://x.atlassian.net", "JIRA_PROJECT=SEC", "JIRA_API_TOKEN=t", "JIRA_USER=u", "JIRA_PAT=p"), "use one"},
		{"jira bad url", with(good, "JIRA_URL=x.atlassian.net", "JIRA_PROJECT=SEC", "JIRA_PAT=p"), "JIRA_URL"},
		{"jira no project", with(good, "JIRA_URL=https://x.atlassian.net", "JIRA_PAT=p"), "JIRA_PROJECT"},
		{"jira bad deployment", with(good, "JIRA_URL=https://x.atlassian.net", "JIRA_PROJECT=SEC", "JIRA_PAT=p", "JIRA_DEPLOYMENT=server"), "JIRA_DEPLOYMENT"},
		{"jira bad rule", with(good, "JIRA_URL=https://x.atlassian.net", "JIRA_PROJECT=SEC", "JIRA_PAT=p", "JIRA_PRIORITY_RULES=title=High"), "JIRA_PRIORITY_RULES"},
		{"jira bad priorities", with(good, "JIRA_URL=https://x.atlassian.net", "JIRA_PROJECT=SEC", "JIRA_PAT=p", "JIRA_PRIORITIES=urgent=P0"), "JIRA_PRIORITIES"},
		{"jira field name not id", with(good, "JIRA_URL=https://x.atlassian.net", "JIRA_PROJECT=SEC", "JIRA_PAT=p", "JIRA_FIELD_IP=Source IP"), `JIRA_FIELD_IP "Source IP" is not a custom field id`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, ps := Load(tc.env, needs{slack: true, tenants: true})
			err := ps.Err()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			for _, s := range []string{"tok-contoso-secret", "abuse-secret-key", "xoxb-1-abc", "xapp-1-def"} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("config error leaks a secret: %v", err)
				}
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	env := with(good, "SLACK_ALLOWED_CHANNELS=<unset>", "ABUSEIPDB_API_KEY=<unset>", "MCAS_URL=http://contoso.local")
	_, _, ps := Load(env, needs{slack: true, tenants: true})
	if ps.Err() != nil {
		t.Fatal(ps.Err())
	}
	got := fmt.Sprint(ps)
	for _, want := range []string{"SLACK_ALLOWED_CHANNELS is empty", "ABUSEIPDB_API_KEY is not set", "plain http"} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings %s lack %q", got, want)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	cfg, tenants, _ := Load(good, needs{slack: true, tenants: true})
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg.SlackBotToken), fmt.Sprintf("%v %#v", tenants, tenants)} {
		for _, secret := range []string{"xoxb-1-abc", "xapp-1-def", "tok-contoso-secret", "abuse-secret-key"} {
			if strings.Contains(s, secret) {
				t.Fatalf("%q printed in %s", secret, s)
			}
		}
	}
}
