package commands

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/soc/mcasbot/source"
)

// Option is one key=value argument.
type Option struct {
	Key     string
	Values  string // what it accepts, for help
	Default string
}

// Definition describes a command; help is generated from these.
type Definition struct {
	Name     string
	Args     string // positional part of the usage line, e.g. "<ip>"
	Summary  string
	Options  []Option
	Examples []string
	parse    func(p Parser, def *Definition, a args) (Request, error)
}

// Usage is the command's one-line grammar.
func (d *Definition) Usage() string {
	var b strings.Builder
	b.WriteString("/mcas " + d.Name)
	if d.Args != "" {
		b.WriteString(" " + d.Args)
	}
	for _, o := range d.Options {
		fmt.Fprintf(&b, " [%s=%s]", o.Key, o.Values)
	}
	return b.String()
}

func (d *Definition) hasKey(k string) bool {
	return slices.ContainsFunc(d.Options, func(o Option) bool { return o.Key == k })
}

var (
	optLimit  = Option{Key: "limit", Values: "1-100", Default: "20"}
	optTenant = Option{Key: "tenant", Values: "NAME[,NAME…]|group:GROUP", Default: "every tenant"}
)

// Definitions are every command, in help order.
var Definitions = []*Definition{
	{
		Name:    "alerts",
		Summary: "The newest alerts across every tenant, newest first.",
		Options: []Option{
			optLimit,
			{Key: "severity", Values: "low|medium|high|informational|all", Default: "all"},
			{Key: "status", Values: "open|closed|all", Default: "open"},
			optTenant,
			{Key: "since", Values: "24h|7d|YYYY-MM-DD", Default: "7d"},
		},
		Examples: []string{"/mcas alerts", "/mcas alerts 10 high", "/mcas alerts severity=medium since=24h tenant=contoso", "/mcas alerts high tenant=group:emea",
			"/mcas alerts status=all since=2026-11-01 tenant=contoso,fabrikam"},
		parse: parseAlerts,
	},
	{
		Name:     "ip",
		Args:     "<IPv4 or IPv6>",
		Summary:  "Recent activity from an address, with its AbuseIPDB reputation.",
		Options:  []Option{optLimit, optTenant},
		Examples: []string{"/mcas ip 185.220.101.4", "/mcas ip 2a02:c207:3009:9999::1 limit=50 tenant=group:emea"},
		parse:    parseIPCmd,
	},
	{
		Name:     "user",
		Args:     "<upn or username>",
		Summary:  "A user's alerts.",
		Options:  []Option{optLimit, optTenant},
		Examples: []string{"/mcas user alice@contoso.com", "/mcas user bob.smith@fabrikam.com tenant=fabrikam", "/mcas user alice@contoso.com tenant=group:emea,fabrikam"},
		parse:    parseUserCmd,
	},
	{
		Name:     "alert",
		Args:     "<id>",
		Summary:  "One alert in full: status, entities with IP reputation, evidence, its Jira issue; Create Jira and Close… from there.",
		Options:  []Option{optTenant},
		Examples: []string{"/mcas alert 65a1b2c3d4e5f60718293a4b", "/mcas alert 65a1b2c3d4e5f60718293a4b tenant=contoso", "/mcas alert 65a1b2c3d4e5f60718293a4b tenant=group:emea"},
		parse:    parseAlertCmd,
	},
	{
		Name:     "tenants",
		Summary:  "Every tenant and group: each tenant's source and how its last answers went (on this replica).",
		Options:  []Option{optTenant},
		Examples: []string{"/mcas tenants", "/mcas tenants tenant=group:emea"},
		parse:    parseTenantsCmd,
	},
	{
		Name:     "help",
		Summary:  "This help.",
		Examples: []string{"/mcas help"},
		parse:    func(Parser, *Definition, args) (Request, error) { return HelpRequest{}, nil },
	},
}

// Lookup finds a command by name.
func Lookup(name string) *Definition {
	for _, d := range Definitions {
		if d.Name == name {
			return d
		}
	}
	return nil
}

func usageErr(err error) error { return &UsageError{Problem: err.Error()} }

func parseAlerts(p Parser, def *Definition, a args) (Request, error) {
	// Positional shortcuts: a number is the limit, a severity, status or
	// tenant name is that filter, a duration or date is since.
	for _, w := range a.positional {
		lw := strings.ToLower(w)
		var key string
		switch {
		case isNumber(w):
			key = "limit"
		case lw == "all":
			key = "severity"
			if _, ok := a.kv["severity"]; ok {
				key = "status"
			}
		case isSeverityWord(lw):
			key = "severity"
		case lw == "open" || lw == "closed":
			key = "status"
		case p.isTenant(w):
			key = "tenant"
		case durationRE.MatchString(lw) || looksLikeDate(w):
			key = "since"
		default:
			if err := p.misselected(w); err != nil {
				return nil, err
			}
			return nil, &UsageError{Problem: fmt.Sprintf("did not understand %q", clip(w))}
		}
		if err := a.set(def, key, w); err != nil {
			return nil, err
		}
	}
	now := p.now()
	req := AlertsRequest{Limit: DefaultLim, Severity: "all", Status: source.StatusOpen, SinceText: "7d", Since: now.Add(-7 * 24 * time.Hour)}
	if v, ok := a.kv["limit"]; ok {
		n, err := parseLimit(v)
		if err != nil {
			return nil, usageErr(err)
		}
		req.Limit = n
	}
	if v, ok := a.kv["severity"]; ok {
		lv := strings.ToLower(v)
		if lv != "all" {
			s, ok := source.ParseSeverity(lv)
			if !ok {
				return nil, &UsageError{Problem: fmt.Sprintf("unknown severity %q (low, medium, high, informational or all)", clip(v))}
			}
			req.Severities = []source.Severity{s}
			lv = s.String()
		}
		req.Severity = lv
	}
	if v, ok := a.kv["status"]; ok {
		switch strings.ToLower(v) {
		case "open":
			req.Status = source.StatusOpen
		case "closed":
			req.Status = source.StatusClosed
		case "all":
			req.Status = source.StatusAny
		default:
			return nil, &UsageError{Problem: fmt.Sprintf("unknown status %q (open, closed or all)", clip(v))}
		}
	}
	tenant, err := p.tenantArg(a)
	if err != nil {
		return nil, err
	}
	req.Tenant = tenant
	if v, ok := a.kv["since"]; ok {
		t, err := parseSince(v, now)
		if err != nil {
			return nil, usageErr(err)
		}
		req.Since, req.SinceText = t, v
	}
	return req, nil
}

func isSeverityWord(s string) bool {
	_, ok := source.ParseSeverity(s)
	return ok
}

func looksLikeDate(s string) bool {
	return len(s) >= 10 && s[4] == '-' && s[7] == '-' && isNumber(s[:4])
}

// subject parses the one positional argument of ip and user, plus an
// optional positional limit.
func subject(def *Definition, p Parser, a *args, what string) (string, error) {
	var subj string
	for _, w := range a.positional {
		switch {
		case subj == "":
			subj = w
		case isNumber(w):
			if err := a.set(def, "limit", w); err != nil {
				return "", err
			}
		case p.isTenant(w):
			if err := a.set(def, "tenant", w); err != nil {
				return "", err
			}
		default:
			if err := p.misselected(w); err != nil {
				return "", err
			}
			return "", &UsageError{Problem: fmt.Sprintf("did not understand %q", clip(w))}
		}
	}
	if subj == "" {
		return "", &UsageError{Problem: "missing " + what}
	}
	return subj, nil
}

func limitAndTenant(p Parser, a args) (int, string, error) {
	limit := DefaultLim
	if v, ok := a.kv["limit"]; ok {
		n, err := parseLimit(v)
		if err != nil {
			return 0, "", usageErr(err)
		}
		limit = n
	}
	tenant, err := p.tenantArg(a)
	if err != nil {
		return 0, "", err
	}
	return limit, tenant, nil
}

func parseIPCmd(p Parser, def *Definition, a args) (Request, error) {
	s, err := subject(def, p, &a, "IP address")
	if err != nil {
		return nil, err
	}
	addr, err := parseIP(s)
	if err != nil {
		return nil, usageErr(err)
	}
	limit, tenant, err := limitAndTenant(p, a)
	if err != nil {
		return nil, err
	}
	return IPRequest{Addr: addr, Limit: limit, Tenant: tenant}, nil
}

func parseUserCmd(p Parser, def *Definition, a args) (Request, error) {
	s, err := subject(def, p, &a, "user (UPN or user name)")
	if err != nil {
		return nil, err
	}
	user, err := parseUser(s)
	if err != nil {
		return nil, usageErr(err)
	}
	limit, tenant, err := limitAndTenant(p, a)
	if err != nil {
		return nil, err
	}
	return UserRequest{User: user, Limit: limit, Tenant: tenant}, nil
}

// TenantsRequest is `/mcas tenants`: the tenants, their groups and health.
type TenantsRequest struct {
	Tenant string // a selection; "" for every tenant
}

func (TenantsRequest) command() string { return "tenants" }

func parseTenantsCmd(p Parser, def *Definition, a args) (Request, error) {
	for _, w := range a.positional {
		if !p.isTenant(w) {
			if err := p.misselected(w); err != nil {
				return nil, err
			}
			return nil, &UsageError{Problem: fmt.Sprintf("did not understand %q", clip(w))}
		}
		if err := a.set(def, "tenant", w); err != nil {
			return nil, err
		}
	}
	var req TenantsRequest
	tenant, err := p.tenantArg(a)
	if err != nil {
		return nil, err
	}
	req.Tenant = tenant
	return req, nil
}
