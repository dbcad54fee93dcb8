package main

import (
	"strings"
	"testing"
)

// checkTenantsWorld is contoso on a legacy token read from a file, routed
// to its customer's channel, and fabrikam on its own Entra ID application,
// routed to its own; DIGEST_CHANNEL takes the rest.
func checkTenantsWorld(t *testing.T) (*fleetWorld, string) {
	w := newFleetWorld(t, true)
	w.tenant("contoso", "tok-contoso-SECRET-check", "", 3)
	w.tenant("fabrikam", "", dirFabrikam, 3)
	w.tenant("northwind", "tok-northwind-SECRET-check", "", 3)
	file := `groups:
  customer-a: {digest_channel: C0CUSTA01}
tenants:
` + w.tokenEntry("contoso", w.secret("contoso-token", "tok-contoso-SECRET-check"), "groups: [customer-a]") + `  - name: fabrikam
    url: ` + w.url("fabrikam") + `
    entra:
      tenant_id: ` + dirFabrikam + `
      client_id: ` + ownApp + `
      client_secret_file: ` + w.secret("fabrikam-secret", ownSecret) + `
    digest_channel: C0FABRIKM
` + w.tokenEntry("northwind", w.secret("northwind-token", "tok-northwind-SECRET-check"))
	w.write(file)
	w.env = append(w.env, "DIGEST_CHANNEL=C0SOCALL")
	w.slack.SetChannel("C0CUSTA01", "cust-a", true, false)
	w.slack.SetChannel("C0FABRIKM", "fabrikam-alerts", false, false)
	w.slack.SetChannel("C0SOCALL", "soc-digest", true, true)
	return w, file
}

func assertNoFileSecrets(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{"tok-contoso-SECRET-check", "tok-northwind-SECRET-check", ownSecret, appSecret, "xoxb-fleet-secret", "xapp-fleet-secret"} {
		if strings.Contains(s, secret) {
			t.Fatalf("secret %q printed", secret)
		}
	}
}

// A wrong tenants file is told first, every problem with its file and
// line, before anything is asked of an upstream.
func TestCheckShowsTheTenantsFilesProblemsWithTheirLines(t *testing.T) {
	w, file := checkTenantsWorld(t)
	w.write(strings.Replace(strings.Replace(file, "    token_file:", "    sourse: mcas\n    token_file:", 1), "C0FABRIKM", `"#fabrikam"`, 1))
	code, out, errs := runProcess(t, w.env, "check")
	if code == exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	lines := strings.Split(out, "\n")
	want := []string{
		"tenants    FAIL  " + w.file + `:6: unknown key "sourse" (did you mean source?)`,
		"tenants    FAIL  " + w.file + `:15: digest_channel "#fabrikam" is not a channel ID (like C0123ABCD; names are not accepted)`,
	}
	for i, l := range want {
		if i >= len(lines) || lines[i] != l {
			t.Fatalf("line %d is not %q:\n%s", i+1, l, out)
		}
	}
	assertNoFileSecrets(t, out+errs)
}

func TestCheckReadsTheTenantsFileAndItsDigestChannels(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scopes []string
		want   []string
		exit   int
	}{
		{"member or not", []string{"commands", "chat:write", "channels:read", "groups:read"}, []string{
			"slack      ok    digest channel #cust-a (C0CUSTA01): the bot is a member (the digest of contoso goes there)",
			"slack      FAIL  digest channel #fabrikam-alerts (C0FABRIKM): the bot is not a member, so the digest of fabrikam cannot be posted there: /invite @mcasbot in #fabrikam-alerts",
			"slack      ok    digest channel #soc-digest (C0SOCALL): the bot is a member (the digest of northwind goes there)",
		}, exitUpstream},
		{"chat:write.public", []string{"commands", "chat:write", "chat:write.public", "channels:read", "groups:read"}, []string{
			"slack      ok    digest channel #fabrikam-alerts (C0FABRIKM): the bot is not a member, but chat:write.public lets it post there (the digest of fabrikam)",
		}, exitOK},
		{"no scope to ask", []string{"commands", "chat:write"}, []string{
			"slack      WARN  digest channels C0CUSTA01, C0FABRIKM and C0SOCALL: membership could not be verified: the bot token lacks channels:read (groups:read for private channels), which only bot check would use; make sure @mcasbot is in each",
		}, exitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, _ := checkTenantsWorld(t)
			w.slack.SetScopes(tc.scopes...)
			code, out, errs := runProcess(t, w.env, "check")
			if code != tc.exit {
				t.Errorf("exit %d, want %d", code, tc.exit)
			}
			for _, want := range append([]string{
				"tenants    ok    " + w.file + ": 3 tenants in 1 group, every entry valid",
				"mcas       ok    contoso: token valid, can read alerts (newest",
				"mcas       ok    fabrikam: Entra app " + ownApp + " (secret): token issued",
				"mcas       ok    fabrikam: can read alerts (newest",
			}, tc.want...) {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q", want)
				}
			}
			if !strings.HasPrefix(out, "tenants    ok    ") {
				t.Errorf("the tenants file is not checked first")
			}
			if t.Failed() {
				t.Log(out + errs)
			}
			assertNoFileSecrets(t, out+errs)
		})
	}
}
