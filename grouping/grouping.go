// Package grouping collapses repeats in a digest run: a tenant's alerts of
// one policy (or title, when the alert names no policy) for one account, or
// else for one IP address, become one group when there are enough of them.
// Each group has a signature that names it across runs, so a later repeat
// can find the Jira issue the group got.
package grouping

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"

	"github.com/soc/mcasbot/source"
)

// DefaultMin is DIGEST_GROUP_MIN's default.
const DefaultMin = 3

// By is what the alerts of a group share besides the policy.
type By string

const (
	ByAccount By = "account"
	ByIP      By = "ip"
)

// Group is repeats of one policy for one account or IP in one tenant.
type Group struct {
	Tenant    string
	Policy    string // the policy, else the title, as the first alert names it
	By        By
	Value     string // the shared account or address, as the first alert shows it
	Signature string
	Alerts    []source.Alert // in the order given to Collapse
}

// maxIPs bounds the addresses of one alert considered for grouping.
const maxIPs = 10

// PolicyOf is what groups an alert: its policy, else its title.
func PolicyOf(a source.Alert) string {
	if p := strings.TrimSpace(a.Policy()); p != "" {
		return p
	}
	return strings.TrimSpace(a.Title)
}

func norm(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

func normValue(by By, v string) string {
	if by == ByIP {
		if addr, err := netip.ParseAddr(strings.TrimSpace(v)); err == nil {
			return addr.Unmap().String()
		}
	}
	return norm(v)
}

// Signature names a group: the same tenant, policy, kind and value give the
// same signature in every run and on every replica.
func Signature(tenant, policy string, by By, value string) string {
	sum := sha256.Sum256([]byte(tenant + "\x00" + norm(policy) + "\x00" + string(by) + "\x00" + normValue(by, value)))
	return hex.EncodeToString(sum[:16])
}

// candidate is one group an alert could be in.
type candidate struct {
	by    By
	value string
	key   string // tenant, policy, kind and value, normalized
}

func candidates(a source.Alert) []candidate {
	policy := norm(PolicyOf(a))
	if policy == "" {
		return nil
	}
	var out []candidate
	if u := strings.TrimSpace(a.User()); u != "" {
		out = append(out, candidate{ByAccount, u, a.Tenant + "\x00" + policy + "\x00account\x00" + normValue(ByAccount, u)})
	}
	for i, ip := range a.IPs() {
		if i == maxIPs {
			break
		}
		out = append(out, candidate{ByIP, ip, a.Tenant + "\x00" + policy + "\x00ip\x00" + normValue(ByIP, ip)})
	}
	return out
}

// Signatures are the signatures of every group a could belong to.
func Signatures(a source.Alert) []string {
	var out []string
	for _, c := range candidates(a) {
		out = append(out, Signature(a.Tenant, PolicyOf(a), c.by, c.value))
	}
	return out
}

// Collapse finds the groups among as: first by account, then, among the
// alerts left, by IP address (the largest group first). An alert is in at
// most one group. min < 2 turns grouping off.
func Collapse(as []source.Alert, min int) []Group {
	if min < 2 {
		return nil
	}
	cands := make([][]candidate, len(as))
	for i, a := range as {
		cands[i] = candidates(a)
	}
	in := make([]bool, len(as))
	var out []Group
	add := func(c candidate, members []int) {
		first := as[members[0]]
		g := Group{Tenant: first.Tenant, Policy: PolicyOf(first), By: c.by, Value: c.value,
			Signature: Signature(first.Tenant, PolicyOf(first), c.by, c.value)}
		for _, i := range members {
			in[i] = true
			g.Alerts = append(g.Alerts, as[i])
		}
		out = append(out, g)
	}
	type bucket struct {
		c       candidate
		members []int
	}
	buckets := func(by By) ([]string, map[string]*bucket) {
		m := map[string]*bucket{}
		var order []string
		for i := range as {
			if in[i] {
				continue
			}
			seen := map[string]bool{}
			for _, c := range cands[i] {
				if c.by != by || seen[c.key] {
					continue
				}
				seen[c.key] = true
				b := m[c.key]
				if b == nil {
					b = &bucket{c: c}
					m[c.key] = b
					order = append(order, c.key)
				}
				b.members = append(b.members, i)
			}
		}
		return order, m
	}
	// An alert has one account: its buckets never overlap.
	order, m := buckets(ByAccount)
	for _, k := range order {
		if b := m[k]; len(b.members) >= min {
			add(b.c, b.members)
		}
	}
	// An alert can have several addresses: take the largest group, then
	// count again without its alerts.
	for {
		order, m := buckets(ByIP)
		var best *bucket
		for _, k := range order {
			if b := m[k]; len(b.members) >= min && (best == nil || len(b.members) > len(best.members)) {
				best = b
			}
		}
		if best == nil {
			return out
		}
		add(best.c, best.members)
	}
}
