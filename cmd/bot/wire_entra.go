package main

import (
	"strconv"
	"time"

	"github.com/soc/mcasbot/bot/filing"
	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/integrations/graph"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/ops"
)

// signIn builds a tenant's Entra ID credential, if it has one, and the
// MCAS auth that uses it (nil: the legacy token).
func (a *app) signIn(t Tenant) (mcas.Auth, error) {
	if t.Entra == nil {
		return nil, nil
	}
	cred, err := entra.New(*t.Entra, a.hc)
	if err != nil {
		return nil, err
	}
	if a.entra == nil {
		a.entra = map[string]*entra.Credential{}
	}
	a.entra[t.Name] = cred
	return mcas.Bearer(cred), nil
}

// groups gives filing the tenants' directories when a priority rule tests
// a group; nil otherwise, so no lookup is ever made.
func (a *app) groups() (filing.Groups, error) {
	if !a.cfg.mapping.TestsGroups() {
		return nil, nil
	}
	dir := graph.Directory{Clients: map[string]*graph.Client{}}
	for name, cred := range a.entra {
		c, err := graph.New(graph.Config{URL: a.cfg.Entra.GraphURL, Timeout: a.cfg.MCASTimeout, Attempts: a.cfg.MCASAttempts}, name, cred, a.hc, a.logger)
		if err != nil {
			return nil, err
		}
		dir.Clients[name] = c
		a.graph = append(a.graph, c)
	}
	return dir, nil
}

// instrumentEntra counts token and Graph requests.
func (a *app) instrumentEntra(m *ops.Metrics) {
	for _, cred := range a.entra {
		cred.Observe = func(status int, d time.Duration) {
			m.Upstream.WithLabelValues("entra", strconv.Itoa(status)).Inc()
			m.UpstreamLatency.WithLabelValues("entra").Observe(d.Seconds())
		}
	}
	for _, c := range a.graph {
		m.ObserveCaller(c.Caller())
	}
}
