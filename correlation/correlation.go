// Package correlation says which other tenants' alerts carry the same
// public IP address or the same account as an alert. It works on what the
// store remembers of the alerts the digest saw (their facts: addresses,
// accounts, tenant, severity, time) plus the alerts at hand, and makes no
// upstream calls.
package correlation

import (
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// DefaultWindow is how far back alerts count (CORRELATION_WINDOW).
const DefaultWindow = 7 * 24 * time.Hour

// Kind is what two alerts share.
type Kind string

const (
	IP      Kind = "ip"
	Account Kind = "account"
)

// Fact is something an alert carries that other tenants' alerts can carry
// too.
type Fact struct {
	Kind Kind
	// Key is what it matches on: "ip:<address>", "acct:<home address>" or,
	// for an account known only by its user name, "name:<user name>".
	Key string
	// Name is an account's user name part, lowercased.
	Name string
	// Bare is an account without a domain (a shared or on-premises account
	// such as CONTOSO\svc-backup): it matches any account of that name.
	Bare bool
	// Value is how the alert shows it.
	Value string
}

// maxIPs bounds the addresses taken from one alert.
const maxIPs = 10

// Facts are an alert's public IP addresses and its account. Private and
// reserved addresses never correlate: 10.0.0.1 in two tenants is two
// different machines.
func Facts(a source.Alert) []Fact {
	var out []Fact
	for _, s := range a.IPs() {
		if len(out) == maxIPs {
			break
		}
		if addr, err := netip.ParseAddr(s); err == nil {
			if f, ok := IPFact(addr); ok {
				out = append(out, f)
			}
		}
	}
	if f, ok := AccountFact(a.User()); ok {
		out = append(out, f)
	}
	return out
}

// IPFact is an address as a fact; false for private and reserved ones.
func IPFact(addr netip.Addr) (Fact, bool) {
	addr = addr.Unmap()
	if addr.Zone() != "" || !abuseipdb.Public(addr) {
		return Fact{}, false
	}
	return Fact{Kind: IP, Key: "ip:" + addr.String(), Value: addr.String()}, true
}

// AccountFact reads an account: a UPN or e-mail address matches itself in
// any case; a guest account (bob_contoso.com#EXT#@fabrikam.onmicrosoft.com)
// matches its home account (bob@contoso.com); an account without a domain
// (DOMAIN\name or a bare name) matches any account with that user name.
// Different domains with one user name (alice@contoso.com and
// alice@fabrikam.com) do not match: they are usually different people.
func AccountFact(s string) (Fact, bool) {
	v := strings.TrimSpace(s)
	l := strings.TrimPrefix(strings.ToLower(v), "mailto:")
	if l == "" || len(l) > 256 || strings.ContainsAny(l, " \t\r\n<>|`") {
		return Fact{}, false
	}
	if i := strings.Index(l, "#ext#@"); i > 0 {
		guest := l[:i]
		if j := strings.LastIndex(guest, "_"); j > 0 && strings.Contains(guest[j+1:], ".") {
			l = guest[:j] + "@" + guest[j+1:]
		}
	}
	if i := strings.LastIndex(l, `\`); i >= 0 {
		l = l[i+1:]
	}
	local, domain, ok := cutLast(l, "@")
	if !ok {
		if l == "" {
			return Fact{}, false
		}
		return Fact{Kind: Account, Key: "name:" + l, Name: l, Bare: true, Value: v}, true
	}
	if local == "" || domain == "" {
		return Fact{}, false
	}
	return Fact{Kind: Account, Key: "acct:" + l, Name: local, Value: v}, true
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// keys are what to ask the store for to match facts: an account is also
// looked up by its user name, where the accounts without a domain are.
func keys(fs []Fact) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Key)
		if f.Kind == Account && !f.Bare {
			out = append(out, "name:"+f.Name)
		}
	}
	return out
}

// Remember is what the store keeps of alerts: a row per fact, and for an
// account with a domain a second row under its user name, so that accounts
// known only by that name find it.
func Remember(as []source.Alert) []store.AlertFact {
	var out []store.AlertFact
	for _, a := range as {
		for _, f := range Facts(a) {
			row := store.AlertFact{Key: f.Key, Tenant: a.Tenant, AlertID: a.ID, Value: f.Value, Severity: a.Severity.String(), AlertTime: a.Time}
			out = append(out, row)
			if f.Kind == Account && !f.Bare {
				row.Key = "name:" + f.Name
				out = append(out, row)
			}
		}
	}
	return out
}

// Match is what one other tenant's alerts share with an alert (or a
// group): "also seen in fabrikam: 3 alerts (2 high), newest 2 h ago".
type Match struct {
	Kind  Kind   `json:"kind"`
	Value string `json:"value"`          // as shown here
	From  string `json:"from,omitempty"` // the tenant it was seen in here ("" for a lookup)
	// Tenant is the other tenant, Query the value as that tenant knows it
	// (a guest account's own name there), for /mcas ip|user.
	Tenant string    `json:"tenant"`
	Query  string    `json:"query"`
	Alerts int       `json:"alerts"`
	High   int       `json:"high"`
	Newest time.Time `json:"newest"`
}

// ref names an alert.
type ref struct{ tenant, id string }

// row is a remembered fact of one alert.
type row struct {
	sev   source.Severity
	at    time.Time
	value string
	bare  bool
}

// Index holds remembered facts and answers what other tenants share.
type Index struct {
	since time.Time
	rows  map[string]map[ref]row // by fact key
}

// NewIndex makes an empty index that ignores alerts before since.
func NewIndex(since time.Time) *Index {
	return &Index{since: since, rows: map[string]map[ref]row{}}
}

// AddFacts adds remembered facts.
func (x *Index) AddFacts(fs []store.AlertFact) {
	for _, f := range fs {
		if f.AlertTime.Before(x.since) {
			continue
		}
		sev, _ := source.ParseSeverity(f.Severity)
		r := row{sev: sev, at: f.AlertTime, value: f.Value}
		if strings.HasPrefix(f.Key, "name:") {
			af, _ := AccountFact(f.Value)
			r.bare = af.Bare
		}
		m := x.rows[f.Key]
		if m == nil {
			m = map[ref]row{}
			x.rows[f.Key] = m
		}
		m[ref{f.Tenant, f.AlertID}] = r
	}
}

// AddAlerts adds alerts at hand (read in this run or by this command).
func (x *Index) AddAlerts(as []source.Alert) { x.AddFacts(Remember(as)) }

// candidates are the alerts that share fact f.
func (x *Index) candidates(f Fact, visit func(ref, row)) {
	switch {
	case f.Kind == IP:
		for k, r := range x.rows[f.Key] {
			visit(k, r)
		}
	case f.Bare:
		for k, r := range x.rows["name:"+f.Name] {
			visit(k, r)
		}
	default:
		own := x.rows[f.Key]
		for k, r := range own {
			visit(k, r)
		}
		for k, r := range x.rows["name:"+f.Name] {
			if _, dup := own[k]; r.bare && !dup {
				visit(k, r)
			}
		}
	}
}

// Related lists, per fact and other tenant, the alerts that share it.
// Alerts of tenant from do not count (from "" counts every tenant).
// candidates visits each alert once per fact, so nothing is counted twice.
func (x *Index) Related(from string, facts []Fact) []Match {
	type agg struct {
		m  Match
		at time.Time // of the alert Query was taken from
	}
	var aggs []agg               // in the order first seen
	byKey := map[[2]string]int{} // fact key and tenant → index in aggs
	seenFact := map[string]bool{}
	for _, f := range facts {
		if seenFact[f.Key] {
			continue
		}
		seenFact[f.Key] = true
		x.candidates(f, func(k ref, r row) {
			if k.tenant == from {
				return
			}
			id := [2]string{f.Key, k.tenant}
			i, ok := byKey[id]
			if !ok {
				i = len(aggs)
				byKey[id] = i
				aggs = append(aggs, agg{m: Match{Kind: f.Kind, Value: f.Value, From: from, Tenant: k.tenant}})
			}
			a := &aggs[i]
			a.m.Alerts++
			if r.sev == source.SeverityHigh {
				a.m.High++
			}
			if r.at.After(a.m.Newest) || a.m.Newest.IsZero() {
				a.m.Newest = r.at
			}
			if a.m.Query == "" || r.at.After(a.at) {
				a.m.Query, a.at = r.value, r.at
			}
		})
	}
	out := make([]Match, len(aggs))
	for i, a := range aggs {
		out[i] = a.m
	}
	Sort(out)
	return out
}

// Sort orders matches by how much they say: more alerts, more high ones,
// newer, then by tenant and value.
func Sort(ms []Match) {
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := ms[i], ms[j]
		switch {
		case a.Alerts != b.Alerts:
			return a.Alerts > b.Alerts
		case a.High != b.High:
			return a.High > b.High
		case !a.Newest.Equal(b.Newest):
			return a.Newest.After(b.Newest)
		case a.Tenant != b.Tenant:
			return a.Tenant < b.Tenant
		}
		return a.Value < b.Value
	})
}

// Shared is an address or account that alerts of several tenants carry.
type Shared struct {
	Kind    Kind
	Value   string
	Tenants []TenantCount // by name
}

// TenantCount is how many alerts of a tenant carry it.
type TenantCount struct {
	Tenant string
	Alerts int
}

// CrossTenant lists every address and account that alerts of two or more
// tenants among as carry, most tenants first.
func CrossTenant(as []source.Alert) []Shared {
	x := NewIndex(time.Time{})
	x.AddAlerts(as)
	type entry struct {
		f      Fact
		counts map[string]map[ref]bool
	}
	var entries []*entry
	seen := map[string]bool{}
	bareNames := map[string]bool{}
	for _, a := range as {
		for _, f := range Facts(a) {
			if seen[f.Key] {
				continue
			}
			seen[f.Key] = true
			e := &entry{f: f, counts: map[string]map[ref]bool{}}
			x.candidates(f, func(k ref, _ row) {
				if e.counts[k.tenant] == nil {
					e.counts[k.tenant] = map[ref]bool{}
				}
				e.counts[k.tenant][k] = true
			})
			if len(e.counts) < 2 {
				continue
			}
			entries = append(entries, e)
			if f.Bare {
				bareNames[f.Name] = true
			}
		}
	}
	var out []Shared
	for _, e := range entries {
		// A name without a domain already covers the accounts of that name.
		if e.f.Kind == Account && !e.f.Bare && bareNames[e.f.Name] {
			continue
		}
		s := Shared{Kind: e.f.Kind, Value: e.f.Value}
		if e.f.Kind == Account && !e.f.Bare {
			s.Value = strings.TrimPrefix(e.f.Key, "acct:") // the home account, also for a guest
		}
		for t, ids := range e.counts {
			s.Tenants = append(s.Tenants, TenantCount{Tenant: t, Alerts: len(ids)})
		}
		sort.Slice(s.Tenants, func(i, j int) bool { return s.Tenants[i].Tenant < s.Tenants[j].Tenant })
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if len(a.Tenants) != len(b.Tenants) {
			return len(a.Tenants) > len(b.Tenants)
		}
		if na, nb := total(a), total(b); na != nb {
			return na > nb
		}
		return a.Value < b.Value
	})
	return out
}

func total(s Shared) int {
	n := 0
	for _, t := range s.Tenants {
		n += t.Alerts
	}
	return n
}
