package main

import (
	"strings"
	"time"

	"github.com/soc/mcasbot/integrations/defender"
	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/source"
)

// graphEnv tunes the tenants read through Microsoft Graph's security API
// (issue #17; MCAS_TENANT_<i>_SOURCE=graph). GRAPH_URL (config_entra.go)
// points at Graph.
type graphEnv struct {
	// Graph documents 150 alert requests a minute per app per tenant.
	Rate     int `env:"GRAPH_REQUESTS_PER_MINUTE" envDefault:"120"`
	HuntRate int `env:"GRAPH_HUNTING_PER_MINUTE" envDefault:"40"`
	// How far back /mcas ip looks in advanced hunting (which keeps 30 days).
	HuntWindow time.Duration `env:"GRAPH_HUNTING_WINDOW" envDefault:"168h"`
	// Alerts reach Graph later than MCAS: a longer overlap for the digest.
	Overlap time.Duration `env:"DIGEST_OVERLAP_GRAPH" envDefault:"6h"`
}

// tenantSource reads a tenant's SOURCE: mcas (the default) or graph.
func tenantSource(t tenantSpec, fatal, warn func(string, ...any)) (string, bool) {
	k := t.key
	switch s := strings.ToLower(strings.TrimSpace(t.Source)); s {
	case "", source.MCAS:
		if len(t.ServiceSources) > 0 {
			warn("%s is for %s=graph; an MCAS tenant reads Defender for Cloud Apps only: ignored", k("SERVICE_SOURCES"), k("SOURCE"))
		}
		return source.MCAS, true
	case source.Graph:
		return source.Graph, true
	default:
		fatal("%s must be mcas (the Defender for Cloud Apps REST API, the default) or graph (Microsoft Graph's security API), not %q", k("SOURCE"), t.Source)
		return "", false
	}
}

// graphTenant resolves a tenant read through Graph: a name (no URL to
// take it from), its Entra ID application (Graph has no other sign-in),
// and the products it reads.
func graphTenant(cfg *Config, t tenantSpec, seen map[string]bool, fatal, warn func(string, ...any), secret func(string, *Secret, string)) (Tenant, bool) {
	k := t.key
	name := strings.TrimSpace(t.Name)
	switch {
	case name == "":
		fatal("%s is required with %s=graph (there is no portal URL to take it from)", k("NAME"), k("SOURCE"))
		return Tenant{}, false
	case !tenantName.MatchString(name):
		fatal("%s %q must be 1-40 letters, digits, - or _", k("NAME"), name)
		return Tenant{}, false
	case seen[strings.ToLower(name)]:
		fatal("tenant name %q is used twice; set %s", name, k("NAME"))
		return Tenant{}, false
	}
	seen[strings.ToLower(name)] = true
	if t.Token != "" || t.TokenFile != "" {
		fatal("%s: %s is an MCAS API token; a graph tenant signs in with its Entra ID application (%s and the AZURE_* settings): drop the token", name, k("TOKEN"), k("AZURE_TENANT_ID"))
		return Tenant{}, false
	}
	if t.URL != "" {
		warn("%s: %s is not used with %s=graph: alerts are read from GRAPH_URL", name, k("URL"), k("SOURCE"))
	}
	if t.TenantID == "" {
		fatal("%s: %s=graph needs the tenant's Entra ID application: set %s (the directory ID) and its AZURE_CLIENT_ID with a secret or certificate "+
			"(per tenant or the standard AZURE_* variables); grant it SecurityAlert.ReadWrite.All and ThreatHunting.Read.All with admin consent", name, k("SOURCE"), k("AZURE_TENANT_ID"))
		return Tenant{}, false
	}
	ent := tenantEntra(cfg, t, name, false, fatal, warn, secret)
	if ent == nil {
		return Tenant{}, false
	}
	var products []string
	for _, s := range t.ServiceSources {
		p, ok := defender.KnownServiceSource(s)
		if !ok {
			fatal("%s: %q is not a Defender product Graph knows; use any of %s", k("SERVICE_SOURCES"), s, strings.Join(defender.ServiceSources, ", "))
			return Tenant{}, false
		}
		products = append(products, p)
	}
	return Tenant{Name: name, Entra: ent, Source: source.Graph, ServiceSources: products}, true
}

// validateGraph checks the Graph settings once the tenants are resolved.
func validateGraph(cfg *Config, tenants []Tenant, fatal, warn func(string, ...any)) {
	g := cfg.Graph
	if g.Rate < 1 || g.Rate > 150 {
		fatal("GRAPH_REQUESTS_PER_MINUTE must be from 1 to 150 (Graph allows 150 alert requests a minute per app per tenant), not %d", g.Rate)
	}
	if g.HuntRate < 1 || g.HuntRate > 45 {
		fatal("GRAPH_HUNTING_PER_MINUTE must be from 1 to 45 (advanced hunting allows at least 45 a minute per tenant), not %d", g.HuntRate)
	}
	if g.HuntWindow < time.Hour || g.HuntWindow > defender.MaxHuntingWindow {
		fatal("GRAPH_HUNTING_WINDOW must be between 1h and 720h (advanced hunting keeps 30 days), not %s", g.HuntWindow)
	}
	if g.Overlap < 0 || g.Overlap > 7*24*time.Hour {
		fatal("DIGEST_OVERLAP_GRAPH must be between 0 and 168h, not %s", g.Overlap)
	}
}

// sourceOverlaps are the digest's overlaps of APIs later than MCAS.
func (c *Config) sourceOverlaps() map[string]time.Duration {
	out := map[string]time.Duration{}
	for k, v := range schedule.DefaultOverlaps {
		out[k] = v
	}
	out[source.Graph] = c.Graph.Overlap
	return out
}
