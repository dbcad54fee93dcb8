package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/soc/mcasbot/bot/slackfake"
)

// without is the fake's default scopes (the manifest's) less some.
func without(drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(slackfake.DefaultScopes), func(s string) bool { return slices.Contains(drop, s) })
}

// slackLines are the check's slack lines that mention scope.
func slackLines(out, scope string) []string {
	var got []string
	for l := range strings.Lines(out) {
		if strings.HasPrefix(l, "slack ") && strings.Contains(l, scope) {
			got = append(got, strings.TrimSpace(l))
		}
	}
	return got
}

func TestCheckScopesAllGranted(t *testing.T) {
	w := newCheckWorld(t)
	code, out, errs := runCLI(w.env, "check")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	want := "slack      ok    bot token has every scope the features that are on need: commands, chat:write, files:write, users:read, users:read.email"
	if !strings.Contains(out, want) {
		t.Fatalf("output lacks %q:\n%s", want, out)
	}
	assertNoSecrets(t, out+errs)
}

func TestCheckScopesMissing(t *testing.T) {
	cases := []struct {
		name   string
		env    []string // added to the check world's
		scopes []string
		code   int
		want   []string // each a whole slack line; none: no line names the scope
		scope  string
	}{
		{
			name: "report on, no files:write", scopes: without("files:write"), code: exitOK, scope: "files:write",
			want: []string{"slack      WARN  bot token lacks files:write, needed by full answers to big questions (a CSV in a thread) and the report's chart (meanwhile the reply shows what fits and says the CSV could not be posted; the report is posted without it): add it on the app's OAuth & Permissions page (Bot Token Scopes), then reinstall the app"},
		},
		{
			name: "report off, no files:write", env: []string{"REPORT_SCHEDULE=off"}, scopes: without("files:write"), code: exitOK, scope: "files:write",
			want: []string{"slack      WARN  bot token lacks files:write, needed by full answers to big questions (a CSV in a thread) (meanwhile the reply shows what fits and says the CSV could not be posted): add it on the app's OAuth & Permissions page (Bot Token Scopes), then reinstall the app"},
		},
		{
			name: "Jira sync on, no users:read.email", scopes: without("users:read.email"), code: exitOK, scope: "users:read.email",
			want: []string{"slack      WARN  bot token lacks users:read.email, needed by assignee mentions from the Jira sync (meanwhile assignees show their Jira names): add it on the app's OAuth & Permissions page (Bot Token Scopes), then reinstall the app"},
		},
		{name: "Jira sync off, no users:read.email", env: []string{"JIRA_SYNC_INTERVAL=0"}, scopes: without("users:read.email"), code: exitOK, scope: "users:read.email"},
		{name: "Jira off, no users:read.email", env: []string{"JIRA_URL="}, scopes: without("users:read.email"), code: exitOK, scope: "users:read.email"},
		{
			name: "no chat:write", scopes: without("chat:write"), code: exitUpstream, scope: "chat:write",
			want: []string{"slack      FAIL  bot token lacks chat:write, needed by full answers to big questions (a CSV in a thread), the digest, the report and Jira status updates in the digest (meanwhile the reply shows what fits and says the CSV could not be posted): add it on the app's OAuth & Permissions page (Bot Token Scopes), then reinstall the app"},
		},
		{
			name: "no commands", scopes: without("commands"), code: exitUpstream, scope: "commands",
			want: []string{"slack      FAIL  bot token lacks commands, needed by /mcas: add it on the app's OAuth & Permissions page (Bot Token Scopes), then reinstall the app"},
		},
		{
			name: "no scope at all, only /mcas on", env: []string{"DIGEST_CHANNEL=", "JIRA_URL="}, scopes: []string{}, code: exitUpstream, scope: "lacks",
			want: []string{"slack      FAIL  bot token lacks commands, needed by /mcas: add it on the app's OAuth & Permissions page (Bot Token Scopes), then reinstall the app",
				"slack      WARN  bot token lacks chat:write, needed by full answers to big questions (a CSV in a thread) (meanwhile the reply shows what fits and says the CSV could not be posted): add it on the app's OAuth & Permissions page (Bot Token Scopes), then reinstall the app",
				"slack      WARN  bot token lacks files:write, needed by full answers to big questions (a CSV in a thread) (meanwhile the reply shows what fits and says the CSV could not be posted): add it on the app's OAuth & Permissions page (Bot Token Scopes), then reinstall the app"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newCheckWorld(t)
			w.env = with(w.env, tc.env...)
			w.slack.SetScopes(tc.scopes...)
			code, out, errs := runCLI(w.env, "check")
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if got := slackLines(out, tc.scope); tc.want != nil && !slices.Equal(got, tc.want) {
				t.Errorf("lines naming %s:\n%s\nwant:\n%s", tc.scope, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if tc.want == nil && strings.Contains(out, "lacks "+tc.scope) {
				t.Errorf("complains of %s, which only features that are off need:\n%s", tc.scope, out)
			}
			if t.Failed() {
				t.Logf("output:\n%s%s", out, errs)
			}
			assertNoSecrets(t, out+errs)
		})
	}
}

func TestCheckScopesHeaderAbsent(t *testing.T) {
	w := newCheckWorld(t)
	w.slack.OmitScopesHeader(true)
	code, out, errs := runCLI(w.env, "check")
	if code != exitOK {
		t.Fatalf("exit %d: an unverifiable scope list is a warning, not a failure\n%s%s", code, out, errs)
	}
	want := "slack      WARN  bot token scopes could not be verified: auth.test answered without an X-OAuth-Scopes header (a proxy may drop it); the features that are on need commands, chat:write, files:write, users:read, users:read.email"
	if !strings.Contains(out, want) {
		t.Fatalf("output lacks %q:\n%s", want, out)
	}
	assertNoSecrets(t, out+errs)
}

// No scope line when the bot token itself is refused.
func TestCheckScopesNotReadForABadToken(t *testing.T) {
	w := newCheckWorld(t)
	w.env = with(w.env, "SLACK_BOT_TOKEN=xoxb-invalid")
	_, out, errs := runCLI(w.env, "check")
	if !strings.Contains(out, "auth.test failed") || strings.Contains(out, "lacks") || strings.Contains(out, "could not be verified") {
		t.Fatalf("scope lines for a refused token:\n%s", out)
	}
	assertNoSecrets(t, out+errs)
}

func TestGrantedScopes(t *testing.T) {
	cases := []struct {
		name   string
		values []string // nil: no header
		want   []string
		ok     bool
	}{
		{"absent", nil, nil, false},
		{"empty: a token without scopes", []string{""}, nil, true},
		{"comma-separated", []string{"commands,chat:write"}, []string{"commands", "chat:write"}, true},
		{"with spaces", []string{"files:read, chat:write:bot"}, []string{"files:read", "chat:write:bot"}, true},
		{"repeated header", []string{"commands", "chat:write"}, []string{"commands", "chat:write"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.values {
				h.Add("x-oauth-scopes", v) // any case: Header canonicalizes
			}
			got, ok := grantedScopes(h)
			if ok != tc.ok || !slices.Equal(got, tc.want) {
				t.Fatalf("grantedScopes = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestScopesNeededFollowTheConfig(t *testing.T) {
	base := []string{"DIGEST_CHANNEL=C0DIGEST", "JIRA_URL=https://acme.atlassian.net", "JIRA_USER=soc@example.com",
		"JIRA_API_TOKEN=t", "JIRA_PROJECT=SEC"}
	cases := []struct {
		name string
		env  []string
		want []string
	}{
		{"everything on by default", base, []string{"commands", "chat:write", "files:write", "users:read", "users:read.email"}},
		{"report off", with(base, "REPORT_SCHEDULE=off"), []string{"commands", "chat:write", "files:write", "users:read", "users:read.email"}},
		{"Jira sync off", with(base, "JIRA_SYNC_INTERVAL=0"), []string{"commands", "chat:write", "files:write"}},
		{"only /mcas", nil, []string{"commands", "chat:write", "files:write"}},
		{"report in its own channel, no digest", []string{"REPORT_CHANNEL=C0REPORT"}, []string{"commands", "chat:write", "files:write"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, ps := Load(tc.env, needs{})
			if err := ps.Err(); err != nil {
				t.Fatal(err)
			}
			if got := scopesNeeded(cfg); !slices.Equal(got, tc.want) {
				t.Fatalf("scopesNeeded = %q, want %q", got, tc.want)
			}
		})
	}
}
