package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
)

// hundredTenants writes a tenants file of n tenants on one Fleet in ten
// groups: 70% on legacy tokens, 20% on the shared Entra ID application
// (each its own directory), 10% on an application of their own with a
// secret file; all on legacy tokens without an authority. It returns the
// environment of a bot that reads it.
func hundredTenants(tb testing.TB, fleet *mcasfake.Fleet, authority *entrafake.Server, n, alerts int) []string {
	tb.Helper()
	dir := tb.TempDir()
	secret := filepath.Join(dir, "own-secret")
	if err := os.WriteFile(secret, []byte(ownSecret), 0o600); err != nil {
		tb.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("defaults:\n  digest_channel: C0SOCALL\ngroups:\n")
	for g := range 10 {
		fmt.Fprintf(&b, "  customer-%d: {digest_channel: C0CUST%03d, jira_project: CUST%d}\n", g, g, g)
	}
	b.WriteString("tenants:\n")
	var shared, own []string
	for i := range n {
		name := fmt.Sprintf("tenant%03d", i)
		fmt.Fprintf(&b, "  - name: %s\n    groups: [customer-%d]\n", name, i%10)
		switch {
		case i%10 < 7 || authority == nil:
			token := "tok-" + name + "-SECRET"
			srv := fleet.Add(name, token)
			srv.AddAlerts(mcasfake.Generate(name, alerts, time.Now().UTC(), 12*time.Hour, uint64(i+1))...)
			file := filepath.Join(dir, name+"-token")
			if err := os.WriteFile(file, []byte(token), 0o600); err != nil {
				tb.Fatal(err)
			}
			fmt.Fprintf(&b, "    url: %s\n    token_file: %s\n", srv.URL, file)
		default:
			dirID := fmt.Sprintf("%08d-aaaa-4aaa-8aaa-%012d", i, i)
			srv := fleet.Add(name, "")
			srv.AddAlerts(mcasfake.Generate(name, alerts, time.Now().UTC(), 12*time.Hour, uint64(i+1))...)
			srv.TrustEntra(dirID, authority)
			fmt.Fprintf(&b, "    url: %s\n    entra:\n      tenant_id: %s\n", srv.URL, dirID)
			if i%10 == 9 {
				own = append(own, dirID)
				fmt.Fprintf(&b, "      client_id: %s\n      client_secret_file: %s\n", ownApp, secret)
			} else {
				shared = append(shared, dirID)
			}
		}
	}
	file := filepath.Join(dir, "tenants.yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	env := []string{"TENANTS_FILE=" + file, "SLACK_BOT_TOKEN=xoxb-bench", "SLACK_APP_TOKEN=xapp-bench", "SLACK_ALLOWED_CHANNELS=C0SOC", "SLACK_ALLOWED_USERS=U0A",
		"DIGEST_CHANNEL=C0SOCALL", "DATABASE_URL=sqlite:" + filepath.Join(dir, "s.db"), "MCAS_ATTEMPTS=1"}
	if authority != nil {
		authority.AddApp(entrafake.App{ClientID: multiApp, Secret: appSecret, Tenants: shared, Roles: []string{"Investigation.Read"}})
		authority.AddApp(entrafake.App{ClientID: ownApp, Secret: ownSecret, Tenants: own, Roles: []string{"Investigation.Read"}})
		env = append(env, "AZURE_AUTHORITY_HOST="+authority.Authority(), "AZURE_CLIENT_ID="+multiApp, "AZURE_CLIENT_SECRET="+appSecret)
	}
	return env
}

// BenchmarkStartup100Tenants is what `run` does before it connects to
// Slack, for a tenants file of 100 tenants: load and check the
// configuration (reading every secret file) and wire every client with
// its request budgets on the state store. No token is fetched.
func BenchmarkStartup100Tenants(b *testing.B) {
	fleet := mcasfake.NewFleet()
	defer fleet.Close()
	authority := entrafake.New()
	defer authority.Close()
	env := hundredTenants(b, fleet, authority, 100, 5)
	logger := newLogger(io.Discard, "info", "json", nil)
	start := func() {
		cfg, ts, ps := Load(env, needs{slack: true, tenants: true})
		if err := ps.Err(); err != nil {
			b.Fatal(err)
		}
		a, err := wire(context.Background(), cfg, ts, logger, true)
		if err != nil {
			b.Fatal(err)
		}
		if a.runner.Tenants.Len() != 100 {
			b.Fatalf("%d tenants", a.runner.Tenants.Len())
		}
		a.Close()
	}
	start() // the store's schema
	b.ResetTimer()
	for b.Loop() {
		start()
	}
	b.StopTimer()
	// Nothing was asked of Entra ID or of a tenant.
	if n := len(authority.Requests()); n != 0 {
		b.Fatalf("%d requests to Entra ID while starting", n)
	}
	for i := range 100 {
		if srv, _ := fleet.Tenant(fmt.Sprintf("tenant%03d", i)); len(srv.Requests()) != 0 {
			b.Fatalf("tenant%03d was asked while starting", i)
		}
	}
}
