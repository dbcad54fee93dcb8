package tenants

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Set is the tenants a bot knows and their groups, in order: what a
// selection such as tenant=contoso,group:emea picks from.
type Set struct {
	Names  []string
	Groups map[string][]string // group → its tenants, in tenant order
}

// Set is the file's tenants and groups.
func (f *File) Set() Set {
	s := Set{Groups: map[string][]string{}}
	for _, t := range f.Tenants {
		s.Names = append(s.Names, t.Name)
		for _, g := range t.Groups {
			s.Groups[g] = append(s.Groups[g], t.Name)
		}
	}
	return s
}

// GroupPrefix marks a group in a selection: group:emea.
const GroupPrefix = "group:"

// Select resolves a selection: names and groups separated by commas
// ("contoso", "contoso,fabrikam", "group:emea", "group:emea,northwind"),
// case-insensitive. It returns the tenants in the set's order, each once.
// An unknown name or group is an error that says what is known.
func (s Set) Select(sel string) ([]string, error) {
	want := map[string]bool{}
	for part := range strings.SplitSeq(sel, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		if part == "" {
			continue
		}
		if g, ok := strings.CutPrefix(part, GroupPrefix); ok {
			members, known := s.Groups[g]
			if !known {
				return nil, fmt.Errorf("no group %q%s", clip(g), s.hint(g, s.groupNames(), GroupPrefix))
			}
			for _, m := range members {
				want[m] = true
			}
			continue
		}
		i := slices.IndexFunc(s.Names, func(n string) bool { return strings.EqualFold(n, part) })
		if i < 0 {
			if _, isGroup := s.Groups[part]; isGroup {
				return nil, fmt.Errorf("%q is a group: write tenant=group:%s", clip(part), part)
			}
			return nil, fmt.Errorf("no tenant %q%s", clip(part), s.hint(part, s.Names, ""))
		}
		want[s.Names[i]] = true
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("name a tenant or a group (tenant=contoso, tenant=group:emea)")
	}
	var out []string
	for _, n := range s.Names {
		if want[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

func (s Set) groupNames() []string {
	out := make([]string, 0, len(s.Groups))
	for g := range s.Groups {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// hint suggests the closest known name, or lists a few.
func (s Set) hint(got string, known []string, prefix string) string {
	best, dist := "", 3
	for _, k := range known {
		if d := distance(got, strings.ToLower(k)); d < dist {
			best, dist = k, d
		}
	}
	switch {
	case best != "":
		return fmt.Sprintf(" (did you mean %s%s?)", prefix, best)
	case len(known) == 0:
		return ""
	case len(known) <= 8:
		return fmt.Sprintf(" (known: %s%s)", prefix, strings.Join(known, ", "+prefix))
	}
	return fmt.Sprintf(" (%d known; /mcas tenants lists them)", len(known))
}

// Route is where a tenant's alerts go and how they are filed: empty
// fields fall back to the bot's own settings (DIGEST_CHANNEL, …).
type Route struct {
	DigestChannel string
	JiraProject   string
	MinSeverity   string
}

// Route resolves a tenant's routing: its own settings, else its first
// group (in the order the tenant lists them) that sets one, else the
// file's defaults.
func (f *File) Route(t Tenant) Route {
	pick := func(own string, of func(Group) string, def string) string {
		if own != "" {
			return own
		}
		for _, g := range t.Groups {
			if v := of(f.Groups[g]); v != "" {
				return v
			}
		}
		return def
	}
	return Route{
		DigestChannel: pick(t.DigestChannel, func(g Group) string { return g.DigestChannel }, f.Defaults.DigestChannel),
		JiraProject:   pick(t.JiraProject, func(g Group) string { return g.JiraProject }, f.Defaults.JiraProject),
		MinSeverity:   pick(t.MinSeverity, func(g Group) string { return g.MinSeverity }, f.Defaults.MinSeverity),
	}
}
