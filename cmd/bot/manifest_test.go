package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/bot/slackfake"
)

// The manifest must create an app the bot can run as: Socket Mode on, the
// /mcas command, interactivity for the button, and the scopes it uses.
func TestSlackAppManifest(t *testing.T) {
	m := readManifest(t)
	for _, want := range []string{"socket_mode_enabled: true", "command: /mcas", "interactivity:\n    is_enabled: true"} {
		if !strings.Contains(m, want) {
			t.Errorf("manifest lacks %q", want)
		}
	}
	// The usage hint names only commands that exist.
	for _, d := range []string{"alerts", "alert", "ip", "user", "help"} {
		if commands.Lookup(d) == nil || !strings.Contains(m, d) {
			t.Errorf("command %q in the hint but not defined, or missing", d)
		}
	}
}

// The manifest grants every scope of every feature on by default once its
// upstream is configured, as bot check's table (slackFeatures) says.
func TestSlackAppManifestGrantsEveryScopeOfADefaultSetup(t *testing.T) {
	granted := manifestBotScopes(readManifest(t))
	// Every upstream configured, every switch at its default.
	cfg, _, ps := Load([]string{"DIGEST_CHANNEL=C0DIGEST", "JIRA_URL=https://acme.atlassian.net", "JIRA_USER=soc@example.com",
		"JIRA_API_TOKEN=t", "JIRA_PROJECT=SEC"}, needs{})
	if err := ps.Err(); err != nil {
		t.Fatal(err)
	}
	for _, f := range featuresOn(cfg) {
		for _, s := range f.scopes {
			if !slices.Contains(granted, s) {
				t.Errorf("slack-app-manifest.yaml lacks the bot scope %s, needed by %s (on by default)", s, f.name)
			}
		}
	}
	// Tests run against the fake with the manifest's scopes by default.
	if !slices.Equal(slices.Sorted(slices.Values(granted)), slices.Sorted(slices.Values(slackfake.DefaultScopes))) {
		t.Errorf("slackfake.DefaultScopes %q differ from the manifest's bot scopes %q", slackfake.DefaultScopes, granted)
	}
}

func TestManifestBotScopes(t *testing.T) {
	m := `oauth_config:
  scopes:
    bot:
      - commands    # why
      - chat:write
      # - chat:write.public  # off
      - files:write

settings:
  interactivity:
`
	if got, want := manifestBotScopes(m), []string{"commands", "chat:write", "files:write"}; !slices.Equal(got, want) {
		t.Fatalf("manifestBotScopes = %q, want %q", got, want)
	}
}

func readManifest(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../slack-app-manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// manifestBotScopes reads the list under oauth_config.scopes.bot; a
// commented-out scope is not granted. (No YAML library for one list.)
func manifestBotScopes(m string) []string {
	var scopes []string
	inOAuth, inBot := false, false
	for line := range strings.Lines(m) {
		code, _, _ := strings.Cut(line, "#")
		item := strings.TrimSpace(code)
		switch {
		case item == "":
		case !inOAuth:
			inOAuth = item == "oauth_config:"
		case !inBot:
			inBot = item == "bot:"
		case strings.HasPrefix(item, "- "):
			scopes = append(scopes, strings.TrimSpace(strings.TrimPrefix(item, "- ")))
		default:
			return scopes
		}
	}
	return scopes
}
