// Package commands turns `/mcas …` text into typed requests and runs them
// against every configured tenant. It knows nothing about Slack.
package commands

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/tenants"
)

// Limits on what a user may type.
const (
	MaxArgLen   = 256
	MaxTextLen  = 1024
	MaxLimit    = 100
	DefaultLim  = 20
	MaxLookback = 365 * 24 * time.Hour
)

// Request is a parsed command.
type Request interface{ command() string }

// AlertsRequest is `/mcas alerts`.
type AlertsRequest struct {
	Limit      int
	Severities []source.Severity // empty: all
	Severity   string            // as given, for display
	Status     source.Status
	Tenant     string // a selection (contoso, contoso,fabrikam, group:emea); "" for every tenant
	Since      time.Time
	SinceText  string
}

// IPRequest is `/mcas ip`.
type IPRequest struct {
	Addr   netip.Addr
	Limit  int
	Tenant string // a selection; "" for every tenant
}

// UserRequest is `/mcas user`.
type UserRequest struct {
	User   string
	Limit  int
	Tenant string // a selection; "" for every tenant
}

// HelpRequest is `/mcas help` or `/mcas` alone.
type HelpRequest struct{}

func (AlertsRequest) command() string { return "alerts" }
func (IPRequest) command() string     { return "ip" }
func (UserRequest) command() string   { return "user" }
func (HelpRequest) command() string   { return "help" }

// Name is the subcommand a request is for.
func Name(r Request) string { return r.command() }

// UsageError is bad input: what was wrong and how to say it right.
type UsageError struct {
	Problem string      // what was wrong; may quote user text (unescaped)
	Def     *Definition // the command it was for; nil when unknown
}

func (e *UsageError) Error() string { return e.Problem }

// Parser knows the configured tenants, their groups and the clock.
type Parser struct {
	Tenants []string
	Groups  map[string][]string // group → its tenants; nil: no groups
	Now     func() time.Time
}

// Parse reads the text after `/mcas`.
func (p Parser) Parse(text string) (Request, error) {
	if utf8.RuneCountInString(text) > MaxTextLen {
		return nil, &UsageError{Problem: fmt.Sprintf("the command is longer than %d characters", MaxTextLen)}
	}
	if !utf8.ValidString(text) {
		return nil, &UsageError{Problem: "the command is not valid UTF-8"}
	}
	for _, r := range text {
		if badRune(r) {
			return nil, &UsageError{Problem: fmt.Sprintf("the command contains a control character (%U)", r)}
		}
	}
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return HelpRequest{}, nil
	}
	name := strings.ToLower(fields[0])
	def := Lookup(name)
	if def == nil {
		return nil, &UsageError{Problem: fmt.Sprintf("unknown command %q", clip(fields[0]))}
	}
	args, err := p.split(def, fields[1:])
	if err != nil {
		return nil, err
	}
	req, err := def.parse(p, def, args)
	if err != nil {
		if ue, ok := err.(*UsageError); ok && ue.Def == nil {
			ue.Def = def
		}
		return nil, err
	}
	return req, nil
}

// args are a command's key=value pairs and positional words, in order.
type args struct {
	kv         map[string]string
	positional []string
}

func (p Parser) split(def *Definition, fields []string) (args, error) {
	a := args{kv: map[string]string{}}
	for _, f := range fields {
		if utf8.RuneCountInString(f) > MaxArgLen {
			return a, &UsageError{Problem: fmt.Sprintf("an argument is longer than %d characters", MaxArgLen), Def: def}
		}
		key, val, isKV := strings.Cut(f, "=")
		if !isKV {
			a.positional = append(a.positional, f)
			continue
		}
		key = strings.ToLower(key)
		if !def.hasKey(key) {
			return a, &UsageError{Problem: fmt.Sprintf("unknown option %q for %s", clip(key), def.Name), Def: def}
		}
		if _, dup := a.kv[key]; dup {
			return a, &UsageError{Problem: fmt.Sprintf("%s is given twice", key), Def: def}
		}
		if val == "" {
			return a, &UsageError{Problem: fmt.Sprintf("%s= needs a value", key), Def: def}
		}
		a.kv[key] = val
	}
	return a, nil
}

// set records a value that came positionally, refusing a repeat.
func (a *args) set(def *Definition, key, val string) error {
	if _, dup := a.kv[key]; dup {
		return &UsageError{Problem: fmt.Sprintf("%s is given twice", key), Def: def}
	}
	a.kv[key] = val
	return nil
}

func badRune(r rune) bool {
	if r == ' ' || r == '\t' {
		return false
	}
	// Cc controls, and bidi overrides that can disguise text.
	return unicode.IsControl(r) || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == utf8.RuneError
}

// clip keeps echoed input short.
func clip(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		return string([]rune(s)[:39]) + "…"
	}
	return s
}

func parseLimit(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("limit must be a whole number from 1 to %d, not %q", MaxLimit, clip(s))
	}
	if n < 1 || n > MaxLimit {
		return 0, fmt.Errorf("limit must be from 1 to %d, not %d", MaxLimit, n)
	}
	return n, nil
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

var durationRE = regexp.MustCompile(`^(-?\d+)([mhdw])$`)

// parseSince reads 30m, 24h, 7d, 2w, YYYY-MM-DD (UTC) or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if m := durationRE.FindStringSubmatch(strings.ToLower(s)); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 100000 {
			return time.Time{}, fmt.Errorf("since %q is too far back", clip(s))
		}
		if n <= 0 {
			return time.Time{}, fmt.Errorf("since must be a positive duration, not %q", clip(s))
		}
		unit := map[string]time.Duration{"m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
		d := time.Duration(n) * unit
		if d > MaxLookback {
			return time.Time{}, fmt.Errorf("since %q is more than a year back", clip(s))
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		t, err = time.Parse(time.RFC3339, s)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("since %q is not a duration (24h, 7d) or a date (YYYY-MM-DD)", clip(s))
	}
	t = t.UTC()
	if t.After(now) {
		return time.Time{}, fmt.Errorf("since %s is in the future", t.Format("2006-01-02"))
	}
	if now.Sub(t) > MaxLookback {
		return time.Time{}, fmt.Errorf("since %s is more than a year back", t.Format("2006-01-02"))
	}
	return t, nil
}

// parseIP accepts a bare IPv4 or IPv6 address (no zone, no port).
func parseIP(s string) (netip.Addr, error) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 or IPv6 address", clip(s))
	}
	return addr.Unmap(), nil
}

var (
	userRE   = regexp.MustCompile(`^[\p{L}\p{N}._%+\-'@\\#]+$`)
	mailtoRE = regexp.MustCompile(`^<mailto:([^|>]+)(?:\|[^>]*)?>$`)
)

// parseUser accepts a UPN (a guest's carries #EXT#), e-mail or account name;
// Slack may have turned an e-mail into a <mailto:…|…> link.
func parseUser(s string) (string, error) {
	if m := mailtoRE.FindStringSubmatch(s); m != nil {
		s = m[1]
	}
	if !userRE.MatchString(s) {
		return "", fmt.Errorf("%q is not a user principal name or user name", clip(s))
	}
	return s, nil
}

// tenant reads a tenant selection (tenant=contoso, tenant=contoso,fabrikam,
// tenant=group:emea, mixed) and returns it canonical: each part once, a
// name as configured, a group as group:<name>. An unknown name or group is
// an error that suggests the closest one.
func (p Parser) tenant(s string) (string, error) {
	set := p.set()
	if _, err := set.Select(s); err != nil {
		return "", err
	}
	var parts []string
	for part := range strings.SplitSeq(s, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		if part == "" {
			continue
		}
		if !strings.HasPrefix(part, tenants.GroupPrefix) {
			for _, n := range set.Names {
				if strings.EqualFold(n, part) {
					part = n
					break
				}
			}
		}
		if !slices.Contains(parts, part) {
			parts = append(parts, part)
		}
	}
	return strings.Join(parts, ","), nil
}

// tenantArg is the command's tenant=… selection, canonical; "" when it
// names none.
func (p Parser) tenantArg(a args) (string, error) {
	v, ok := a.kv["tenant"]
	if !ok {
		return "", nil
	}
	t, err := p.tenant(v)
	if err != nil {
		return "", usageErr(err)
	}
	return t, nil
}

func (p Parser) set() tenants.Set { return tenants.Set{Names: p.Tenants, Groups: p.Groups} }

// isTenant reports whether a positional word is a tenant selection.
func (p Parser) isTenant(s string) bool {
	_, err := p.tenant(s)
	return err == nil
}

// misselected is the selection error of a positional word that was meant
// as one (a group, a list, a known group's bare name); nil otherwise.
func (p Parser) misselected(w string) error {
	lw := strings.ToLower(w)
	_, group := p.Groups[lw]
	if !group && !strings.HasPrefix(lw, tenants.GroupPrefix) && !strings.Contains(lw, ",") {
		return nil
	}
	if _, err := p.tenant(w); err != nil {
		return usageErr(err)
	}
	return nil
}

func (p Parser) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}
