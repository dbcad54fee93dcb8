package commands

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/soc/mcasbot/integrations/httpx"
)

// `/mcas tenants` (issue #18) shows each tenant's health as this replica
// saw it: the last outcome of the calls questions made to it. Nothing is
// asked upstream for it; the digest's and other jobs' calls do not count.

// Health is how a tenant's last calls from questions went.
type Health struct {
	LastOK   time.Time // the last answer (zero: none yet); a 404 for an alert id is an answer
	LastFail time.Time // the last failure (zero: none yet)
	Failure  string    // why the last failure, in a few words
}

// Failing reports whether the tenant's last call failed.
func (h Health) Failing() bool { return h.LastFail.After(h.LastOK) }

// record keeps the outcome of one call to a tenant. Outcomes that say
// nothing about the tenant (a cancelled call, one that spent its time
// waiting for the request budget or was refused by it) are not kept.
func (r *Runner) record(tenant string, err error) {
	if err != nil && excluded(err) {
		return
	}
	now := r.now()
	r.healthMu.Lock()
	defer r.healthMu.Unlock()
	if r.health == nil {
		r.health = map[string]Health{}
	}
	h := r.health[tenant]
	switch {
	case err == nil || httpx.KindOf(err) == httpx.KindNotFound:
		h.LastOK = now
	case timedOut(err):
		h.LastFail, h.Failure = now, fmt.Sprintf("%s: no answer within %s", httpx.KindTimeout, r.timeout())
	default:
		h.LastFail, h.Failure = now, httpx.Truncate(httpx.Describe(err), 200)
	}
	r.health[tenant] = h
}

// Health is what this replica saw of the tenant's last calls.
func (r *Runner) Health(tenant string) Health {
	r.healthMu.Lock()
	defer r.healthMu.Unlock()
	return r.health[tenant]
}

// TenantsResult answers tenants.
type TenantsResult struct {
	Selection string // as asked ("" every tenant)
	Tenants   []TenantInfo
	Groups    []GroupInfo // the groups of the tenants listed, by name
	Now       time.Time   // when it was read, by the runner's clock
}

// TenantInfo is one tenant in /mcas tenants.
type TenantInfo struct {
	Name   string
	Source string // mcas, graph
	Groups []string
	Budget string // its request budget ("25/min"); "" unlimited
	Health
	State TenantState
	// Skipped is set while questions skip the tenant (State not answering).
	Skipped *NotAnswering
}

// GroupInfo is one group and its tenants (every one, also those outside a
// selection).
type GroupInfo struct {
	Name    string
	Tenants []string
}

func (TenantsResult) result() {}

func (r *Runner) tenantsResult(req TenantsRequest) TenantsResult {
	res := TenantsResult{Selection: req.Tenant, Now: r.now()}
	ts, err := r.pick(req.Tenant)
	if err != nil {
		// Reloaded since parsing: show every tenant rather than none.
		ts = r.Tenants.Tenants()
		res.Selection = ""
	}
	set := r.Tenants.Set()
	groupsOf := map[string][]string{}
	for g, members := range set.Groups {
		for _, m := range members {
			groupsOf[m] = append(groupsOf[m], g)
		}
	}
	shown := map[string]bool{}
	for _, t := range ts {
		info := TenantInfo{Name: t.Name(), Source: t.Source(), Groups: groupsOf[t.Name()], Health: r.Health(t.Name()), State: r.TenantState(t.Name())}
		sort.Strings(info.Groups)
		if b, ok := t.(budgeted); ok {
			if n, per := b.Budget(); n > 0 {
				info.Budget = httpx.BudgetText(n, per)
			}
		}
		if info.State != TenantAnswering {
			if b := r.breaker(t.Name()); b != nil {
				info.Skipped = r.skipped(t.Name(), b, b.cb.State() == gobreaker.StateHalfOpen)
			}
		}
		for _, g := range info.Groups {
			shown[g] = true
		}
		res.Tenants = append(res.Tenants, info)
	}
	for g := range shown {
		res.Groups = append(res.Groups, GroupInfo{Name: g, Tenants: slices.Clone(set.Groups[g])})
	}
	slices.SortFunc(res.Groups, func(a, b GroupInfo) int { return strings.Compare(a.Name, b.Name) })
	return res
}
