package commands

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/soc/mcasbot/source"
)

var (
	now    = time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)
	parser = Parser{Tenants: []string{"contoso", "fabrikam", "northwind"}, Groups: map[string][]string{"emea": {"contoso", "northwind"}, "tier1": {"fabrikam"}},
		Now: func() time.Time { return now }}
)

func TestParseValid(t *testing.T) {
	cases := []struct {
		in   string
		want Request
	}{
		{"", HelpRequest{}},
		{"   ", HelpRequest{}},
		{"help", HelpRequest{}},
		{"HELP", HelpRequest{}},
		{"alerts", AlertsRequest{Limit: 20, Severity: "all", Status: source.StatusOpen, Since: now.Add(-7 * 24 * time.Hour), SinceText: "7d"}},
		{"alerts 10 high", AlertsRequest{Limit: 10, Severity: "high", Severities: []source.Severity{source.SeverityHigh}, Status: source.StatusOpen, Since: now.Add(-7 * 24 * time.Hour), SinceText: "7d"}},
		{"alerts since=24h tenant=CONTOSO status=all severity=medium limit=5", AlertsRequest{Limit: 5, Severity: "medium", Severities: []source.Severity{source.SeverityMedium}, Status: source.StatusAny, Tenant: "contoso", Since: now.Add(-24 * time.Hour), SinceText: "24h"}},
		{"alerts fabrikam closed 2026-11-01", AlertsRequest{Limit: 20, Severity: "all", Status: source.StatusClosed, Tenant: "fabrikam", Since: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), SinceText: "2026-11-01"}},
		{"ip 185.220.101.4", IPRequest{Addr: mustAddr("185.220.101.4"), Limit: 20}},
		{"ip 2a02:c207:3009:9999::1 50", IPRequest{Addr: mustAddr("2a02:c207:3009:9999::1"), Limit: 50}},
		{"ip ::ffff:10.0.0.1 tenant=fabrikam", IPRequest{Addr: mustAddr("10.0.0.1"), Limit: 20, Tenant: "fabrikam"}},
		{"user alice@contoso.com limit=3", UserRequest{User: "alice@contoso.com", Limit: 3}},
		{"user <mailto:bob@fabrikam.com|bob@fabrikam.com>", UserRequest{User: "bob@fabrikam.com", Limit: 20}},
		{"user CONTOSO\\alice contoso", UserRequest{User: "CONTOSO\\alice", Limit: 20, Tenant: "contoso"}},
		{"user bob.smith_contoso.com#EXT#@fabrikam.onmicrosoft.com tenant=fabrikam", UserRequest{User: "bob.smith_contoso.com#EXT#@fabrikam.onmicrosoft.com", Limit: 20, Tenant: "fabrikam"}},
		// Tenant selections (issue #18): names, groups, mixed; canonical
		// (configured names, each once, in the order given).
		{"alerts tenant=contoso,FABRIKAM", AlertsRequest{Limit: 20, Severity: "all", Status: source.StatusOpen, Tenant: "contoso,fabrikam", Since: now.Add(-7 * 24 * time.Hour), SinceText: "7d"}},
		{"alerts tenant=group:EMEA", AlertsRequest{Limit: 20, Severity: "all", Status: source.StatusOpen, Tenant: "group:emea", Since: now.Add(-7 * 24 * time.Hour), SinceText: "7d"}},
		{"alerts tenant=group:emea,Fabrikam,,group:emea", AlertsRequest{Limit: 20, Severity: "all", Status: source.StatusOpen, Tenant: "group:emea,fabrikam", Since: now.Add(-7 * 24 * time.Hour), SinceText: "7d"}},
		{"alerts high group:tier1", AlertsRequest{Limit: 20, Severity: "high", Severities: []source.Severity{source.SeverityHigh}, Status: source.StatusOpen, Tenant: "group:tier1", Since: now.Add(-7 * 24 * time.Hour), SinceText: "7d"}},
		{"ip 185.220.101.4 tenant=group:emea", IPRequest{Addr: mustAddr("185.220.101.4"), Limit: 20, Tenant: "group:emea"}},
		{"user alice@contoso.com contoso,northwind", UserRequest{User: "alice@contoso.com", Limit: 20, Tenant: "contoso,northwind"}},
		{"alert 65a1b2c3d4e5f60718293a4b tenant=group:emea", AlertRequest{ID: "65a1b2c3d4e5f60718293a4b", Tenant: "group:emea"}},
		{"tenants", TenantsRequest{}},
		{"tenants group:tier1", TenantsRequest{Tenant: "group:tier1"}},
		{"tenants tenant=northwind,contoso", TenantsRequest{Tenant: "northwind,contoso"}},
	}
	for _, tc := range cases {
		got, err := parser.Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if !equalReq(got, tc.want) {
			t.Errorf("Parse(%q)\n got %#v\nwant %#v", tc.in, got, tc.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	cases := []struct{ in, want, cmd string }{
		{"alertz", `unknown command "alertz"`, ""},
		{"ip", "missing IP address", "ip"},
		{"ip 999.1.1.1", `"999.1.1.1" is not an IPv4 or IPv6 address`, "ip"},
		{"ip abc", `"abc" is not an IPv4 or IPv6 address`, "ip"},
		{"ip 1.2.3.4.5", `"1.2.3.4.5" is not an IPv4 or IPv6 address`, "ip"},
		{"ip fe80::1%eth0", "is not an IPv4 or IPv6 address", "ip"},
		{"alerts limit=0", "limit must be from 1 to 100, not 0", "alerts"},
		{"alerts limit=101", "limit must be from 1 to 100, not 101", "alerts"},
		{"alerts limit=ten", `limit must be a whole number from 1 to 100, not "ten"`, "alerts"},
		{"alerts 500", "limit must be from 1 to 100, not 500", "alerts"},
		{"alerts severity=critical", `unknown severity "critical"`, "alerts"},
		{"alerts status=pending", `unknown status "pending"`, "alerts"},
		{"alerts tenant=initech", `no tenant "initech" (known: contoso, fabrikam, northwind)`, "alerts"},
		{"alerts tenant=contso", `no tenant "contso" (did you mean contoso?)`, "alerts"},
		{"alerts tenant=contoso,fabrikan", `no tenant "fabrikan" (did you mean fabrikam?)`, "alerts"},
		{"alerts tenant=group:emae", `no group "emae" (did you mean group:emea?)`, "alerts"},
		{"alerts tenant=group:apac", `no group "apac" (known: group:emea, group:tier1)`, "alerts"},
		{"alerts tenant=emea", `"emea" is a group: write tenant=group:emea`, "alerts"},
		{"alerts emea", `"emea" is a group: write tenant=group:emea`, "alerts"},
		{"alerts high group:apac", `no group "apac"`, "alerts"},
		{"alerts tenant=,", "name a tenant or a group", "alerts"},
		{"ip 1.2.3.4 contoso,initech", `no tenant "initech"`, "ip"},
		{"user alice group:nope", `no group "nope"`, "user"},
		{"alert 65a1b2c3d4e5f60718293a4b group:x", `no group "x"`, "alert"},
		{"tenants banana", `did not understand "banana"`, "tenants"},
		{"tenants tenant=contoso tenant=fabrikam", "tenant is given twice", "tenants"},
		{"alerts since=yesterday", `since "yesterday" is not a duration`, "alerts"},
		{"alerts since=-2d", "since must be a positive duration", "alerts"},
		{"alerts since=0h", "since must be a positive duration", "alerts"},
		{"alerts since=2099-01-01", "is in the future", "alerts"},
		{"alerts since=900d", "more than a year back", "alerts"},
		{"alerts limit=5 limit=6", "limit is given twice", "alerts"},
		{"alerts 5 limit=6", "limit is given twice", "alerts"},
		{"alerts high severity=low", "severity is given twice", "alerts"},
		{"alerts color=red", `unknown option "color" for alerts`, "alerts"},
		{"alerts limit=", "limit= needs a value", "alerts"},
		{"alerts banana", `did not understand "banana"`, "alerts"},
		{"alerts \x07", "control character", ""},
		{"user al\u202eice", "control character", ""},
		{"user " + strings.Repeat("a", 257), "longer than 256 characters", "user"},
		{"user <!channel>", `"<!channel>" is not a user principal name`, "user"},
		{"user", "missing user", "user"},
		{"ip 8.8.8.8 9.9.9.9", `did not understand "9.9.9.9"`, "ip"},
		{strings.Repeat("x ", 600), "longer than 1024 characters", ""},
	}
	for _, tc := range cases {
		_, err := parser.Parse(tc.in)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("Parse(%q) = %v, want a usage error", tc.in, err)
			continue
		}
		if !strings.Contains(ue.Problem, tc.want) {
			t.Errorf("Parse(%q) problem %q, want it to contain %q", tc.in, ue.Problem, tc.want)
		}
		if tc.cmd != "" && (ue.Def == nil || ue.Def.Name != tc.cmd) {
			t.Errorf("Parse(%q) usage for %v, want %s", tc.in, ue.Def, tc.cmd)
		}
	}
}

func TestUsageLinesComeFromDefinitions(t *testing.T) {
	want := "/mcas alerts [limit=1-100] [severity=low|medium|high|informational|all] [status=open|closed|all] [tenant=NAME[,NAME…]|group:GROUP] [since=24h|7d|YYYY-MM-DD]"
	if got := Lookup("alerts").Usage(); got != want {
		t.Fatalf("usage %q", got)
	}
	if got := Lookup("ip").Usage(); got != "/mcas ip <IPv4 or IPv6> [limit=1-100] [tenant=NAME[,NAME…]|group:GROUP]" {
		t.Fatalf("usage %q", got)
	}
	// Every example in the help must itself parse, and every command that
	// asks tenants takes a selection and shows one in an example.
	for _, d := range Definitions {
		selects := false
		for _, ex := range d.Examples {
			req, err := parser.Parse(strings.TrimPrefix(ex, "/mcas"))
			if err != nil {
				t.Errorf("example %q does not parse: %v", ex, err)
				continue
			}
			selects = selects || strings.Contains(Selection(req), "group:") || strings.Contains(Selection(req), ",")
		}
		if d.Name != "help" && (!d.hasKey("tenant") || !selects) {
			t.Errorf("%s: no tenant option, or no example selecting several tenants or a group", d.Name)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"alerts 10 high", "ip 1.2.3.4", "user <!channel>", "alerts since=2026-01-01 tenant=contoso", "alerts tenant=group:emea,fabrikam",
		"tenants group:tier1", "alerts contoso,group:emea,",
		"ip ::ffff:1.2.3.4", "user <mailto:a@b.c|a@b.c>", "alerts limit=5 limit=5", "\x00", "alerts \u202e", "ip [::1]", "alerts since=-1d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		req, err := parser.Parse(s)
		if err != nil {
			var ue *UsageError
			if !errors.As(err, &ue) || ue.Problem == "" {
				t.Fatalf("Parse(%q) returned a non-usage error %v", s, err)
			}
			return
		}
		switch r := req.(type) {
		case AlertsRequest:
			if r.Limit < 1 || r.Limit > MaxLimit || r.Since.After(now) {
				t.Fatalf("accepted bad alerts request %+v", r)
			}
		case IPRequest:
			if !r.Addr.IsValid() || r.Limit < 1 || r.Limit > MaxLimit {
				t.Fatalf("accepted bad ip request %+v", r)
			}
		case UserRequest:
			if r.User == "" || strings.ContainsAny(r.User, "<>& ") || utf8.RuneCountInString(r.User) > MaxArgLen {
				t.Fatalf("accepted bad user %q", r.User)
			}
		}
		// Whatever was accepted as a selection resolves to known tenants,
		// and the canonical form parses to itself.
		if sel := Selection(req); sel != "" {
			names, err := parser.set().Select(sel)
			if err != nil || len(names) == 0 {
				t.Fatalf("accepted selection %q that does not resolve: %v", sel, err)
			}
			if again, err := parser.tenant(sel); err != nil || again != sel {
				t.Fatalf("canonical selection %q is not stable: %q, %v", sel, again, err)
			}
		}
	})
}
