package main

import (
	"os"
	"strings"
	"testing"

	"github.com/soc/mcasbot/bot/commands"
)

// The manifest must create an app the bot can run as: Socket Mode on, the
// /mcas command, interactivity for the button, and the scopes it uses.
func TestSlackAppManifest(t *testing.T) {
	b, err := os.ReadFile("../../slack-app-manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := string(b)
	for _, want := range []string{"socket_mode_enabled: true", "command: /mcas", "interactivity:\n    is_enabled: true", "- commands", "- chat:write", "- files:write"} {
		if !strings.Contains(m, want) {
			t.Errorf("manifest lacks %q", want)
		}
	}
	// The usage hint names only commands that exist.
	for _, d := range []string{"alerts", "ip", "user", "help"} {
		if commands.Lookup(d) == nil || !strings.Contains(m, d) {
			t.Errorf("command %q in the hint but not defined, or missing", d)
		}
	}
}
