package tenants

import (
	"slices"
	"sync/atomic"

	"github.com/soc/mcasbot/source"
)

// Directory is the tenants the bot serves now, with their groups and
// routes. A reloaded tenants file replaces them all at once; whoever read
// the old set (a question in flight, a digest run) finishes with it.
// The zero value serves no tenants.
type Directory struct {
	cur atomic.Pointer[snapshot]
}

type snapshot struct {
	tenants []source.Tenant
	byName  map[string]source.Tenant
	set     Set
	routes  map[string]Route
}

// NewDirectory serves ts, with groups (group → its tenants) and routes
// (by tenant name); both may be nil.
func NewDirectory(ts []source.Tenant, groups map[string][]string, routes map[string]Route) *Directory {
	d := &Directory{}
	d.Replace(ts, groups, routes)
	return d
}

// Static serves ts, without groups or routes: the environment-variable
// configuration, and tests.
func Static(ts ...source.Tenant) *Directory { return NewDirectory(ts, nil, nil) }

// Replace serves a new set from now on.
func (d *Directory) Replace(ts []source.Tenant, groups map[string][]string, routes map[string]Route) {
	s := &snapshot{tenants: slices.Clone(ts), byName: map[string]source.Tenant{}, routes: routes,
		set: Set{Groups: map[string][]string{}}}
	for _, t := range ts {
		s.byName[t.Name()] = t
		s.set.Names = append(s.set.Names, t.Name())
	}
	for g, members := range groups {
		for _, m := range members {
			if _, ok := s.byName[m]; ok {
				s.set.Groups[g] = append(s.set.Groups[g], m)
			}
		}
	}
	d.cur.Store(s)
}

func (d *Directory) now() *snapshot {
	if s := d.cur.Load(); s != nil {
		return s
	}
	return &snapshot{}
}

// Tenants are every tenant, in configuration order.
func (d *Directory) Tenants() []source.Tenant { return d.now().tenants }

// Tenant finds a tenant by name.
func (d *Directory) Tenant(name string) (source.Tenant, bool) {
	t, ok := d.now().byName[name]
	return t, ok
}

// Set is the tenants' names and groups, for selections.
func (d *Directory) Set() Set { return d.now().set }

// Route is where a tenant's digest and issues go ("" fields: the bot's
// own settings).
func (d *Directory) Route(name string) Route { return d.now().routes[name] }

// Select resolves a selection ("contoso", "group:emea", …) to tenants;
// an empty selection is every tenant.
func (d *Directory) Select(sel string) ([]source.Tenant, error) {
	s := d.now()
	if sel == "" {
		return s.tenants, nil
	}
	names, err := s.set.Select(sel)
	if err != nil {
		return nil, err
	}
	out := make([]source.Tenant, len(names))
	for i, n := range names {
		out[i] = s.byName[n]
	}
	return out, nil
}

// Put serves t in place of the tenant of the same name, or after the
// others when there is none (one tenant's settings changed).
func (d *Directory) Put(t source.Tenant) {
	s := d.now()
	ts := slices.Clone(s.tenants)
	if i := slices.IndexFunc(ts, func(x source.Tenant) bool { return x.Name() == t.Name() }); i >= 0 {
		ts[i] = t
	} else {
		ts = append(ts, t)
	}
	d.Replace(ts, s.set.Groups, s.routes)
}

// Len is how many tenants are served.
func (d *Directory) Len() int { return len(d.now().tenants) }
