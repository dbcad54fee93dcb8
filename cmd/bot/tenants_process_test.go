package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// The bot started as its own process: SIGHUP reloads the tenants file
// (the poll is off here, so only the signal can), and Entra ID tokens are
// fetched at a tenant's first use, not at start or at reload.
func TestSIGHUPReloadsAndTokensComeAtFirstUse(t *testing.T) {
	w := newFleetWorld(t, true)
	w.tenant("contoso", "", dirContoso, 4)
	w.tenant("fabrikam", "", dirFabrikam, 4)
	w.tenant("northwind", "tok-northwind-SECRET-file", "", 4)
	northwindToken := w.secret("northwind-token", "tok-northwind-SECRET-file")
	fabrikamSecret := w.secret("fabrikam-secret", ownSecret)
	contoso := "  - name: contoso\n    url: " + w.url("contoso") + "\n    entra: {tenant_id: " + dirContoso + "}\n"
	fabrikam := "  - name: fabrikam\n    url: " + w.url("fabrikam") + "\n    entra:\n      tenant_id: " + dirFabrikam +
		"\n      client_id: " + ownApp + "\n      client_secret_file: " + fabrikamSecret + "\n"
	w.write("tenants:\n" + contoso + w.tokenEntry("northwind", northwindToken))

	p := startProcess(t, with(w.env, "TENANTS_FILE_POLL=0"), "run")
	if err := w.slack.WaitConnections(1, 30*time.Second); err != nil {
		t.Fatal(err, p.stderr.String())
	}
	eventually(t, "the file watched", func() bool { return strings.Contains(p.stderr.String(), "tenants file watched") })
	if n := w.authority.TokenRequests(dirContoso); n != 0 {
		t.Fatalf("%d tokens fetched at start", n)
	}
	if out := command(t, w.slack, "alerts tenant=contoso limit=10"); !strings.Contains(out, "contoso.portal") {
		t.Fatalf("contoso: %s\n%s", out, p.stderr.String())
	}
	if n := w.authority.TokenRequests(dirContoso); n != 1 {
		t.Fatalf("%d tokens for contoso's first question, want 1", n)
	}

	w.write("tenants:\n" + contoso + fabrikam + w.tokenEntry("northwind", northwindToken))
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reload", func() bool {
		return strings.Contains(p.stderr.String(), `"trigger":"SIGHUP","tenants":3,"added":["fabrikam"]`)
	})
	if n := w.authority.TokenRequests(dirFabrikam); n != 0 {
		t.Fatalf("%d tokens fetched at the reload", n)
	}
	if out := command(t, w.slack, "alerts tenant=fabrikam limit=10"); !strings.Contains(out, "fabrikam.portal") {
		t.Fatalf("fabrikam: %s\n%s", out, p.stderr.String())
	}
	if n := w.authority.TokenRequests(dirFabrikam); n != 1 {
		t.Fatalf("%d tokens for fabrikam's first question, want 1", n)
	}
	p.stop(t)
	logs := p.stderr.String()
	for _, s := range []string{ownSecret, appSecret, "tok-northwind-SECRET-file", "xoxb-fleet-secret"} {
		if strings.Contains(logs, s) {
			t.Fatalf("secret %q logged", s)
		}
	}
}
