package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/graph"
	"github.com/soc/mcasbot/integrations/graph/graphfake"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
)

// The sandbox's Entra ID: fabrikam signs in with an Entra ID application
// (a client secret) against a fake Entra ID over TLS, and its users'
// groups come from a fake Graph; contoso keeps a legacy token.
const (
	demoEntraTenant = "fabrikam"
	demoDirectory   = "3f2d6c1a-9b7e-4d5f-8a61-0c2e4b7d9f13"
	demoApp         = "6e1f0c7b-2a4d-4b8e-9c3f-5d7a1e0b4c26"
	demoAppSecret   = "demo~entra-app-secret"
)

type demoEntra struct {
	authority *entrafake.Server
	graph     *graphfake.Server
	creds     map[string]*entra.Credential
	groups    graph.Directory
}

func newDemoEntra() *demoEntra {
	d := &demoEntra{authority: entrafake.New(), creds: map[string]*entra.Credential{}, groups: graph.Directory{Clients: map[string]*graph.Client{}}}
	d.authority.AddApp(entrafake.App{ClientID: demoApp, Secret: demoAppSecret, Tenants: []string{demoDirectory},
		Roles: []string{"Investigation.Read", "Investigation.manage", "GroupMember.Read.All", "User.Read.All"}})
	d.graph = graphfake.New(demoDirectory, d.authority)
	for _, u := range []string{"alice", "carol.j"} {
		d.graph.SetUser(u+"@fabrikam.com", "All Company", "Staff")
	}
	for _, u := range []string{"bob.smith", "dave", "erin.ops"} {
		d.graph.SetUser(u+"@fabrikam.com", "All Company", "Contractors")
	}
	return d
}

// signIn returns how tenant name signs in to srv: fabrikam with the
// sandbox's Entra ID (its MCAS then refuses legacy tokens), the others
// with their token (nil).
func (d *demoEntra) signIn(name string, srv *mcasfake.Server, logger *slog.Logger) (mcas.Auth, error) {
	if name != demoEntraTenant {
		return nil, nil
	}
	cred, err := entra.New(entra.Settings{Tenant: name, TenantID: demoDirectory, ClientID: demoApp, Method: entra.ClientSecret,
		Secret: demoAppSecret, AuthorityHost: d.authority.Authority()}, d.authority.Client())
	if err != nil {
		return nil, err
	}
	srv.SetToken("")
	srv.TrustEntra(demoDirectory, d.authority)
	gc, err := graph.New(graph.Config{URL: d.graph.URL}, name, cred, d.graph.Client(), logger)
	if err != nil {
		return nil, err
	}
	d.creds[name], d.groups.Clients[name] = cred, gc
	return mcas.Bearer(cred), nil
}

// show prints how each tenant signs in, as `bot check` names it.
func (d *demoEntra) show(ctx context.Context, out io.Writer, tenants []string) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, name := range tenants {
		cred := d.creds[name]
		if cred == nil {
			fmt.Fprintf(tw, "%s\tlegacy token\tMCAS API token (Microsoft is retiring these: move to Entra ID)\n", name)
			continue
		}
		if _, err := cred.Token(ctx, mcas.Scope); err != nil {
			fmt.Fprintf(tw, "%s\t%s\tno token: %v\n", name, cred.Describe(), err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\ttoken issued by the sandbox Entra ID (%s); %d token request(s) so far, the rest came from the cache\n",
			name, cred.Describe(), demoDirectory, d.authority.TokenRequests(demoDirectory))
	}
	_ = tw.Flush()
	fmt.Fprintln(out, "Group rule: title~Leaked credentials&group=Staff=Highest (fabrikam's users' groups come from a sandbox Microsoft Graph).")
}

func (d *demoEntra) Close() {
	d.graph.Close()
	d.authority.Close()
}
