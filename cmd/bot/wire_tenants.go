package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"hash"
	"sync/atomic"
	"time"

	"github.com/soc/mcasbot/integrations/defender"
	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/integrations/graph"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/tenants"
)

// wiredTenant is one tenant's clients. A reload keeps it whole (caches,
// request budgets, token cache) while the tenant's settings stay the same.
type wiredTenant struct {
	spec     Tenant
	sum      [32]byte // of spec: a reload rebuilds the tenant when it changes
	client   source.Tenant
	mcas     *mcas.Client      // or defender
	defender *defender.Client  //
	cred     *entra.Credential // nil: a legacy token
	budgets  []*store.Budget
	graph    *graph.Client // group rules' directory, when a rule tests a group
}

// callers are the tenant's HTTP callers, for metrics.
func (w *wiredTenant) callers() []*httpx.Caller {
	var out []*httpx.Caller
	if w.mcas != nil {
		out = append(out, w.mcas.Caller())
	}
	if w.defender != nil {
		out = append(out, w.defender.Callers()...)
	}
	if w.graph != nil {
		out = append(out, w.graph.Caller())
	}
	return out
}

// wireTenant builds a tenant's clients. It asks no upstream anything: an
// Entra ID token is fetched at the tenant's first use.
func (a *app) wireTenant(t Tenant) (*wiredTenant, error) {
	w := &wiredTenant{spec: t, sum: t.fingerprint()}
	cred, err := a.signIn(t)
	if err != nil {
		return nil, err
	}
	w.cred = cred
	if t.Source == source.Graph {
		if w.defender, w.budgets, err = a.graphTenant(t, cred); err != nil {
			return nil, err
		}
		w.client = w.defender
	} else {
		mc := mcas.Config{Name: t.Name, URL: t.URL, Token: t.Token.Reveal(), Timeout: a.cfg.MCASTimeout,
			RequestsPerMinute: a.cfg.MCASRate, Attempts: a.cfg.MCASAttempts}
		if cred != nil {
			mc.Auth = mcas.Bearer(cred)
		}
		if a.store != nil {
			// One budget per tenant for every replica (in memory on SQLite).
			b := &store.Budget{Store: a.store, Name: "mcas:" + t.Name, N: a.cfg.MCASRate, Per: time.Minute, Fallback: a.cfg.fallbackBudget(), Logger: a.logger}
			w.budgets = append(w.budgets, b)
			mc.Limiter = b
		}
		if w.mcas, err = mcas.New(mc, a.hc, a.logger); err != nil {
			return nil, err
		}
		w.client = w.mcas
	}
	if cred != nil && a.cfg.mapping.TestsGroups() {
		if w.graph, err = graph.New(graph.Config{URL: a.cfg.Entra.GraphURL, Timeout: a.cfg.MCASTimeout, Attempts: a.cfg.MCASAttempts}, t.Name, cred, a.hc, a.logger); err != nil {
			return nil, err
		}
	}
	if a.observe != nil {
		a.observe(w)
	}
	return w, nil
}

// serve makes ws the tenants the bot serves, at once, with the tenants
// file's groups and routes (nil from the variables).
func (a *app) serve(ws []*wiredTenant, r *roster) {
	clients := make([]source.Tenant, len(ws))
	dir := map[string]*graph.Client{}
	for i, w := range ws {
		clients[i] = w.client
		if w.graph != nil {
			dir[w.spec.Name] = w.graph
		}
	}
	a.tenants = ws
	a.directory.Store(&graph.Directory{Clients: dir})
	var groups map[string][]string
	var routes map[string]tenants.Route
	if r != nil {
		groups, routes = r.Groups, r.Routes
	}
	a.runner.Tenants.Replace(clients, groups, routes)
}

// wired is the tenant of that name as wired now.
func (a *app) wired(name string) *wiredTenant {
	for _, w := range a.tenants {
		if w.spec.Name == name {
			return w
		}
	}
	return nil
}

// liveDirectory answers group rules from the tenants served now.
type liveDirectory struct {
	p *atomic.Pointer[graph.Directory]
}

func (d liveDirectory) Groups(ctx context.Context, tenant, user string) ([]string, error) {
	return d.p.Load().Groups(ctx, tenant, user)
}

// fingerprint says whether a tenant's settings changed: its name, API,
// address, sign-in and secrets (hashed, never kept).
func (t Tenant) fingerprint() [32]byte {
	h := sha256.New()
	field := func(s string) {
		_ = binary.Write(h, binary.BigEndian, uint32(len(s)))
		h.Write([]byte(s))
	}
	field(t.Name)
	field(t.Source)
	field(t.URL)
	field(t.Token.Reveal())
	for _, s := range t.ServiceSources {
		field(s)
	}
	field("|")
	if e := t.Entra; e != nil {
		field(e.TenantID)
		field(e.ClientID)
		field(string(e.Method))
		field(e.Secret)
		field(e.TokenFile)
		field(e.AuthorityHost)
		for _, c := range e.Certs {
			field(string(c.Raw))
		}
		fingerprintKey(h, e)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func fingerprintKey(h hash.Hash, e *entra.Settings) {
	if e.Key == nil {
		return
	}
	if der, err := x509.MarshalPKCS8PrivateKey(e.Key); err == nil {
		h.Write(der)
		return
	}
	fmt.Fprintf(h, "%T", e.Key)
}
