package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/soc/mcasbot/integrations/defender"
	"github.com/soc/mcasbot/integrations/defender/defenderfake"
	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/graph"
	"github.com/soc/mcasbot/integrations/graph/graphfake"
	"github.com/soc/mcasbot/source"
)

// The sandbox's Entra ID and Microsoft Graph: fabrikam has moved to
// Defender XDR and is read through Graph's security API (issue #17),
// signing in with an Entra ID application (a client secret) against a fake
// Entra ID over TLS; one fake Graph serves its alerts, advanced hunting
// and its users' groups. contoso keeps MCAS and a legacy token.
const (
	demoEntraTenant = "fabrikam"
	demoDirectory   = "3f2d6c1a-9b7e-4d5f-8a61-0c2e4b7d9f13"
	demoApp         = "6e1f0c7b-2a4d-4b8e-9c3f-5d7a1e0b4c26"
	demoAppSecret   = "demo~entra-app-secret"
)

// demoRoles are the application permissions granted in the sandbox.
var demoRoles = []string{defender.PermWrite, defender.PermHunting, "GroupMember.Read.All", "User.Read.All"}

type demoEntra struct {
	authority *entrafake.Server
	users     *graphfake.Server
	graph     *defenderfake.Server // all of GRAPH_URL: security here, users in graphfake
	dir       *defenderfake.Tenant
	creds     map[string]*entra.Credential
	groups    graph.Directory
}

func newDemoEntra(clk *clock) *demoEntra {
	d := &demoEntra{authority: entrafake.New(), creds: map[string]*entra.Credential{}, groups: graph.Directory{Clients: map[string]*graph.Client{}}}
	d.authority.AddApp(entrafake.App{ClientID: demoApp, Secret: demoAppSecret, Tenants: []string{demoDirectory}, Roles: demoRoles})
	d.users = graphfake.New(demoDirectory, d.authority)
	for _, u := range []string{"alice", "carol.j"} {
		d.users.SetUser(u+"@fabrikam.com", "All Company", "Staff")
	}
	for _, u := range []string{"bob.smith", "dave", "erin.ops"} {
		d.users.SetUser(u+"@fabrikam.com", "All Company", "Contractors")
	}
	d.graph = defenderfake.New(d.authority, d.users.Config.Handler)
	d.graph.Now = clk.Now
	d.dir = d.graph.Tenant(demoDirectory)
	return d
}

// graphTenant is fabrikam, read through the sandbox Graph: the samples
// MCAS would serve, as Defender XDR serves them, a Defender for Identity
// alert besides, and the activities advanced hunting finds.
func (d *demoEntra) graphTenant(name string, now time.Time, seed uint64, clk *clock, logger *slog.Logger) (*defender.Client, error) {
	d.dir.AddAlerts(defenderfake.Generate(name, demoDirectory, 60, now, 10*24*time.Hour, seed)...)
	d.dir.AddAlerts(defenderfake.Hostile(name, demoDirectory, now.Add(-90*time.Minute)))
	d.dir.AddAlerts(defenderfake.Guest(name, demoDirectory, "bob.smith@contoso.com", "b0b000000000000000000f01", now.Add(-2*time.Hour), 2))
	d.dir.AddAlerts(defenderfake.Identity(demoDirectory, "dave@fabrikam.com", "da638700000000000001_-1234567", now.Add(-3*time.Hour)))
	d.dir.AddEvents(defenderfake.Events(name, 200, now, 72*time.Hour, seed)...)
	cred, err := entra.New(entra.Settings{Tenant: name, TenantID: demoDirectory, ClientID: demoApp, Method: entra.ClientSecret,
		Secret: demoAppSecret, AuthorityHost: d.authority.Authority()}, d.authority.Client())
	if err != nil {
		return nil, err
	}
	gc, err := graph.New(graph.Config{URL: d.graph.URL}, name, cred, d.graph.Client(), logger)
	if err != nil {
		return nil, err
	}
	c, err := defender.New(defender.Config{Name: name, URL: d.graph.URL, Tokens: cred, RequestsPerMinute: -1, HuntingPerMinute: -1, Now: clk.Now,
		ServiceSources: []string{"microsoftDefenderForCloudApps", "microsoftDefenderForIdentity"}}, d.graph.Client(), logger)
	if err != nil {
		return nil, err
	}
	d.creds[name], d.groups.Clients[name] = cred, gc
	return c, nil
}

// show prints how each tenant signs in, as `bot check` names it, and
// which API it is read through.
func (d *demoEntra) show(ctx context.Context, out io.Writer, tenants []source.Tenant) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, t := range tenants {
		name := t.Name()
		cred := d.creds[name]
		if cred == nil {
			fmt.Fprintf(tw, "%s\tlegacy token\tMCAS API token (Microsoft is retiring these: move to Entra ID); alerts from the MCAS REST API\n", name)
			continue
		}
		tok, err := cred.Token(ctx, graph.ScopeFor(d.graph.URL))
		if err != nil {
			fmt.Fprintf(tw, "%s\t%s\tno token: %v\n", name, cred.Describe(), err)
			continue
		}
		roles, _ := entra.Roles(tok)
		fmt.Fprintf(tw, "%s\t%s\ttoken issued by the sandbox Entra ID (%s); %d token request(s) so far, the rest came from the cache; "+
			"alerts from Microsoft Graph's security API (Defender XDR), roles %s\n",
			name, cred.Describe(), demoDirectory, d.authority.TokenRequests(demoDirectory), strings.Join(roles, ", "))
	}
	_ = tw.Flush()
	fmt.Fprintln(out, "Group rule: title~Leaked credentials&group=Staff=Highest (fabrikam's users' groups come from the sandbox Microsoft Graph).")
}

func (d *demoEntra) Close() {
	d.graph.Close()
	d.users.Close()
	d.authority.Close()
}
