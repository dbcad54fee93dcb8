package main

import (
	"strconv"
	"time"

	"github.com/soc/mcasbot/bot/filing"
	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/ops"
)

// signIn builds a tenant's Entra ID credential, if it has one (nil: the
// legacy token). No token is fetched until the tenant is first asked.
func (a *app) signIn(t Tenant) (*entra.Credential, error) {
	if t.Entra == nil {
		return nil, nil
	}
	return entra.New(*t.Entra, a.hc)
}

// cred is the Entra ID credential of the tenant of that name, if any.
func (a *app) cred(name string) *entra.Credential {
	if w := a.wired(name); w != nil {
		return w.cred
	}
	return nil
}

// groups gives filing the tenants' directories when a priority rule tests
// a group; nil otherwise, so no lookup is ever made.
func (a *app) groups() filing.Groups {
	if !a.cfg.mapping.TestsGroups() {
		return nil
	}
	return liveDirectory{&a.directory}
}

// instrumentEntra counts a credential's token requests.
func (a *app) instrumentEntra(m *ops.Metrics, cred *entra.Credential) {
	if cred == nil {
		return
	}
	cred.Observe = func(status int, d time.Duration) {
		m.Upstream.WithLabelValues("entra", strconv.Itoa(status)).Inc()
		m.UpstreamLatency.WithLabelValues("entra").Observe(d.Seconds())
	}
}
