package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/source"
)

// withGraph moves fabrikam of threeTenants to Microsoft Graph.
var withGraph = with(threeTenants, "MCAS_TENANT_1_SOURCE=graph", "MCAS_TENANT_1_URL=<unset>")

func TestGraphTenantsAreChosenPerTenant(t *testing.T) {
	cfg, tenants, ps := Load(with(withGraph, "MCAS_TENANT_1_SERVICE_SOURCES=microsoftDefenderForCloudApps, MicrosoftDefenderForIdentity"), needs{slack: true, tenants: true})
	if err := ps.Err(); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if strings.Contains(p.Msg, "SOURCE") {
			t.Errorf("problem %s", p)
		}
	}
	got := map[string]Tenant{}
	for _, tn := range tenants {
		got[tn.Name] = tn
	}
	f := got["fabrikam"]
	if got["contoso"].Source != source.MCAS || got["northwind"].Source != source.MCAS || f.Source != source.Graph || f.URL != "" ||
		f.Entra == nil || f.Entra.TenantID != dirFabrikam || strings.Join(f.ServiceSources, ",") != "microsoftDefenderForCloudApps,microsoftDefenderForIdentity" {
		t.Fatalf("tenants %+v", tenants)
	}
	if cfg.Graph.Rate != 120 || cfg.Graph.HuntRate != 40 || cfg.Graph.HuntWindow != 7*24*time.Hour || cfg.sourceOverlaps()[source.Graph] != 6*time.Hour {
		t.Fatalf("defaults %+v", cfg.Graph)
	}
	if printed := fmt.Sprintf("%v %+v %#v", tenants, tenants, cfg); strings.Contains(printed, appSecret) {
		t.Fatal("the Entra secret printed")
	}
	// The single-tenant form.
	_, one, ps := Load([]string{"SLACK_BOT_TOKEN=xoxb-1", "SLACK_APP_TOKEN=xapp-1", "MCAS_SOURCE=graph", "MCAS_NAME=contoso",
		"AZURE_TENANT_ID=" + dirContoso, "AZURE_CLIENT_ID=" + multiApp, "AZURE_CLIENT_SECRET=" + appSecret}, needs{slack: true, tenants: true})
	if ps.Err() != nil || len(one) != 1 || one[0].Source != source.Graph || one[0].Entra == nil {
		t.Fatalf("%v %+v", ps.Err(), one)
	}
}

func TestGraphSettingsAreCheckedInWords(t *testing.T) {
	for _, tc := range []struct {
		env   []string
		fatal bool
		want  string
	}{
		{with(threeTenants, "MCAS_TENANT_1_SOURCE=defender"), true, "MCAS_TENANT_1_SOURCE must be mcas (the Defender for Cloud Apps REST API, the default) or graph"},
		{with(withGraph, "MCAS_TENANT_1_AZURE_TENANT_ID=<unset>"), true, "fabrikam: MCAS_TENANT_1_SOURCE=graph needs the tenant's Entra ID application: set MCAS_TENANT_1_AZURE_TENANT_ID"},
		{with(withGraph, "MCAS_TENANT_1_TOKEN=tok-x"), true, "fabrikam: MCAS_TENANT_1_TOKEN is an MCAS API token; a graph tenant signs in with its Entra ID application"},
		{with(withGraph, "MCAS_TENANT_1_NAME=<unset>"), true, "MCAS_TENANT_1_NAME is required with MCAS_TENANT_1_SOURCE=graph"},
		{with(withGraph, "MCAS_TENANT_1_SERVICE_SOURCES=microsoftCloudAppSecurity"), true, `MCAS_TENANT_1_SERVICE_SOURCES: "microsoftCloudAppSecurity" is not a Defender product Graph knows; use any of microsoftDefenderForCloudApps, microsoftDefenderForEndpoint`},
		{with(withGraph, "MCAS_TENANT_1_URL=https://fabrikam.us3.portal.cloudappsecurity.com"), false, "fabrikam: MCAS_TENANT_1_URL is not used with MCAS_TENANT_1_SOURCE=graph: alerts are read from GRAPH_URL"},
		{with(threeTenants, "MCAS_TENANT_0_SERVICE_SOURCES=microsoftDefenderForIdentity"), false, "MCAS_TENANT_0_SERVICE_SOURCES is for MCAS_TENANT_0_SOURCE=graph"},
		{with(withGraph, "GRAPH_REQUESTS_PER_MINUTE=200"), true, "GRAPH_REQUESTS_PER_MINUTE must be from 1 to 150"},
		{with(withGraph, "GRAPH_HUNTING_WINDOW=1000h"), true, "GRAPH_HUNTING_WINDOW must be between 1h and 720h (advanced hunting keeps 30 days)"},
		{with(withGraph, "DIGEST_OVERLAP_GRAPH=-1h"), true, "DIGEST_OVERLAP_GRAPH must be between 0 and 168h"},
		{with(withGraph, "MCAS_TENANT_2_NAME=fabrikam"), true, `tenant name "fabrikam" is used twice`},
	} {
		_, _, ps := Load(tc.env, needs{slack: true, tenants: true})
		found := false
		for _, p := range ps {
			if strings.Contains(p.Msg, tc.want) && p.Fatal == tc.fatal {
				found = true
			}
		}
		if !found {
			t.Errorf("want %s %q, got %v", map[bool]string{true: "error", false: "warning"}[tc.fatal], tc.want, ps)
		}
	}
}
