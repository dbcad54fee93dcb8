package correlation

import (
	"context"
	"net/netip"
	"time"

	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// Store is what correlation reads (store.Store).
type Store interface {
	FactsFor(ctx context.Context, keys []string, since time.Time) ([]store.AlertFact, error)
}

// Finder answers correlation questions from the store and the alerts at
// hand, within Window.
type Finder struct {
	Store  Store
	Window time.Duration // default DefaultWindow
	Now    func() time.Time
}

// Period is how far back alerts count.
func (f *Finder) Period() time.Duration {
	if f.Window <= 0 {
		return DefaultWindow
	}
	return f.Window
}

// Since is the oldest alert time that counts.
func (f *Finder) Since() time.Time {
	now := time.Now().UTC()
	if f.Now != nil {
		now = f.Now()
	}
	return now.Add(-f.Period())
}

// Index holds the remembered alerts that share any of facts, plus hand.
// On a store error it still holds hand.
func (f *Finder) Index(ctx context.Context, facts []Fact, hand []source.Alert) (*Index, error) {
	since := f.Since()
	x := NewIndex(since)
	x.AddAlerts(hand)
	if f.Store == nil || len(facts) == 0 {
		return x, nil
	}
	rows, err := f.Store.FactsFor(ctx, keys(facts), since)
	if err != nil {
		return x, err
	}
	x.AddFacts(rows)
	return x, nil
}

// Alerts says what other tenants share with as (a command's rows): one
// match per fact, tenant it was seen in here, and other tenant.
func (f *Finder) Alerts(ctx context.Context, as []source.Alert) ([]Match, error) {
	var facts []Fact
	byTenant := map[string][]Fact{}
	var tenants []string
	for _, a := range as {
		fs := Facts(a)
		facts = append(facts, fs...)
		if _, ok := byTenant[a.Tenant]; !ok {
			tenants = append(tenants, a.Tenant)
		}
		byTenant[a.Tenant] = append(byTenant[a.Tenant], fs...)
	}
	x, err := f.Index(ctx, facts, as)
	if err != nil {
		return nil, err
	}
	var out []Match
	for _, t := range tenants {
		out = append(out, x.Related(t, byTenant[t])...)
	}
	Sort(out)
	return out, nil
}

// IP says which tenants' remembered alerts carry addr (none for private
// and reserved addresses).
func (f *Finder) IP(ctx context.Context, addr netip.Addr) ([]Match, error) {
	fact, ok := IPFact(addr)
	if !ok {
		return nil, nil
	}
	x, err := f.Index(ctx, []Fact{fact}, nil)
	if err != nil {
		return nil, err
	}
	return x.Related("", []Fact{fact}), nil
}
