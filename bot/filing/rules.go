package filing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/source"
)

// Rule sets the priority of alerts that meet all its conditions.
type Rule struct {
	Conds    []Cond
	Priority string
}

// Cond is one condition: a field containing a text, or (Field "group")
// the affected user being in a group.
type Cond struct {
	Field    string // title, policy, description, user, tenant, severity or group
	Contains string // lower-case substring; for group, the display name
}

var ruleFields = []string{"title", "policy", "description", "user", "tenant", "severity"}

// ParseRules reads "title~Leaked credentials&group=Staff=Highest;policy~Impossible travel=High":
// rules separated by ";", first match wins; a rule is conditions joined by
// "&", then "=Priority". field~text matches a case-insensitive substring;
// group=NAME a group of the affected user, by exact (case-insensitive)
// display name.
func ParseRules(s string) ([]Rule, error) {
	var out []Rule
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		i := strings.LastIndex(part, "=")
		if i < 0 || strings.TrimSpace(part[i+1:]) == "" {
			return nil, fmt.Errorf("priority rule %q is not field~text=Priority (or field~text&group=NAME=Priority)", part)
		}
		r := Rule{Priority: strings.TrimSpace(part[i+1:])}
		for _, c := range splitConds(part[:i]) {
			cond, err := parseCond(c)
			if err != nil {
				return nil, fmt.Errorf("priority rule %q: %v", part, err)
			}
			r.Conds = append(r.Conds, cond)
		}
		out = append(out, r)
	}
	return out, nil
}

// splitConds splits at each "&" followed by something like a condition
// (a word, then "~" or "="), so a text may itself hold "&"
// ("title~Mass download & delete=High").
func splitConds(s string) []string {
	var out []string
	start := 0
	for _, m := range condStart.FindAllStringIndex(s, -1) {
		out = append(out, s[start:m[0]])
		start = m[0] + 1
	}
	return append(out, s[start:])
}

var condStart = regexp.MustCompile(`&\s*[A-Za-z]+\s*[~=]`)

func parseCond(c string) (Cond, error) {
	c = strings.TrimSpace(c)
	if strings.HasSuffix(c, "&") {
		return Cond{}, fmt.Errorf("condition %q ends with &", c)
	}
	lower := strings.ToLower(c)
	if rest, ok := strings.CutPrefix(lower, "group"); ok && strings.HasPrefix(strings.TrimLeft(rest, " "), "=") {
		_, name, _ := strings.Cut(c, "=")
		if name = strings.TrimSpace(name); name == "" {
			return Cond{}, fmt.Errorf("group= needs a group name")
		}
		return Cond{Field: "group", Contains: name}, nil
	}
	field, text, ok := strings.Cut(c, "~")
	field, text = strings.ToLower(strings.TrimSpace(field)), strings.TrimSpace(text)
	if !ok || text == "" {
		return Cond{}, fmt.Errorf("condition %q is not field~text or group=NAME", c)
	}
	if !slices.Contains(ruleFields, field) {
		return Cond{}, fmt.Errorf("field %q is not one of %s (or group=NAME)", field, strings.Join(ruleFields, ", "))
	}
	return Cond{Field: field, Contains: strings.ToLower(text)}, nil
}

// TestsGroups reports whether any rule needs the user's groups.
func (m Mapping) TestsGroups() bool {
	for _, r := range m.Rules {
		if r.testsGroups() {
			return true
		}
	}
	return false
}

func (r Rule) testsGroups() bool {
	return slices.ContainsFunc(r.Conds, func(c Cond) bool { return c.Field == "group" })
}

// Decision is the priority picked for an alert, and what the groups said.
type Decision struct {
	Priority string
	// Groups are the user's groups that made the matching rule match.
	Groups []string
	// Unavailable says why the user's groups could not be read, when a
	// rule needed them; such rules did not match.
	Unavailable string
}

// GroupLookup reads the affected user's group display names.
type GroupLookup func() ([]string, error)

// Decide picks the first matching rule, else the severity's priority. The
// groups are looked up at most once, and only when a rule whose other
// conditions hold tests a group.
func (m Mapping) Decide(a source.Alert, groups GroupLookup) Decision {
	var (
		looked      bool
		have        []string
		unavailable string
	)
	lookup := func() bool {
		if !looked {
			looked = true
			var err error
			if groups == nil {
				err = fmt.Errorf("group lookups are not configured")
			} else {
				have, err = groups()
			}
			if err != nil {
				unavailable = httpx.Describe(err)
			}
		}
		return unavailable == ""
	}
	for _, r := range m.Rules {
		if !r.fieldsMatch(a) {
			continue
		}
		if !r.testsGroups() {
			return Decision{Priority: r.Priority, Unavailable: unavailable}
		}
		if !lookup() {
			continue
		}
		if matched, ok := r.groupsMatch(have); ok {
			return Decision{Priority: r.Priority, Groups: matched}
		}
	}
	return Decision{Priority: m.Priorities[a.Severity], Unavailable: unavailable}
}

// Priority is the decision without group lookups.
func (m Mapping) Priority(a source.Alert) string { return m.Decide(a, nil).Priority }

func (r Rule) fieldsMatch(a source.Alert) bool {
	for _, c := range r.Conds {
		var v string
		switch c.Field {
		case "group":
			continue
		case "title":
			v = a.Title
		case "policy":
			v = a.Policy()
		case "description":
			v = formatting.StripHTML(a.Description)
		case "user":
			v = AffectedUser(a)
		case "tenant":
			v = a.Tenant
		case "severity":
			v = a.Severity.String()
		}
		if !strings.Contains(strings.ToLower(v), c.Contains) {
			return false
		}
	}
	return true
}

// groupsMatch reports whether have holds every group the rule names, and
// which of the user's groups those are (as Graph spells them).
func (r Rule) groupsMatch(have []string) ([]string, bool) {
	var matched []string
	for _, c := range r.Conds {
		if c.Field != "group" {
			continue
		}
		i := slices.IndexFunc(have, func(g string) bool { return strings.EqualFold(g, c.Contains) })
		if i < 0 {
			return nil, false
		}
		if !slices.Contains(matched, have[i]) {
			matched = append(matched, have[i])
		}
	}
	return matched, true
}

// groupNotes tells in the description what the groups did for the
// priority: the groups that made a rule match, or why they are unknown.
func groupNotes(b *strings.Builder, d Decision) {
	if len(d.Groups) > 0 {
		fmt.Fprintf(b, "||Matched groups|%s|\n", jira.Escape(formatting.Clean(strings.Join(d.Groups, ", "))))
	}
	if d.Unavailable != "" {
		fmt.Fprintf(b, "\n_group membership unavailable: %s_ (no group priority rule applied)\n", jira.Escape(formatting.Clean(d.Unavailable)))
	}
}

// decide picks the alert's priority, asking for the affected user's groups
// only if a group rule could match, within GroupWait.
func (s *Service) decide(ctx context.Context, log *slog.Logger, a source.Alert) Decision {
	d := s.Mapping.Decide(a, func() ([]string, error) {
		user := AffectedUser(a)
		switch {
		case s.Groups == nil:
			return nil, errors.New("group lookups are not set up (Microsoft Graph)")
		case user == "":
			return nil, errors.New("the alert names no user")
		}
		wait := s.GroupWait
		if wait <= 0 {
			wait = 4 * time.Second
		}
		gctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		return s.Groups.Groups(gctx, a.Tenant, user)
	})
	if d.Unavailable != "" {
		log.Warn("group membership unavailable; group priority rules skipped", "reason", d.Unavailable)
	}
	return d
}
