package main

import (
	"fmt"
	"time"

	"github.com/soc/mcasbot/integrations/defender"
	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/store"
)

// graphTenant builds the client of a tenant read through Microsoft Graph
// (with the credential signIn made), on request budgets shared by every
// replica: alert calls, and advanced hunting apart.
func (a *app) graphTenant(t Tenant, cred *entra.Credential) (*defender.Client, []*store.Budget, error) {
	if cred == nil {
		return nil, nil, fmt.Errorf("%s: a graph tenant needs its Entra ID application", t.Name)
	}
	g := a.cfg.Graph
	dc := defender.Config{Name: t.Name, URL: a.cfg.Entra.GraphURL, Tokens: cred, ServiceSources: t.ServiceSources,
		Timeout: a.cfg.MCASTimeout, Attempts: a.cfg.MCASAttempts, RequestsPerMinute: g.Rate, HuntingPerMinute: g.HuntRate, HuntingWindow: g.HuntWindow}
	var budgets []*store.Budget
	if a.store != nil {
		// While the store is unreachable, each replica takes its share.
		share := func(n int) int { return max(1, n/max(1, a.cfg.Busy.Replicas)) }
		alerts := &store.Budget{Store: a.store, Name: "graph:" + t.Name, N: g.Rate, Per: time.Minute, Fallback: share(g.Rate), Logger: a.logger}
		hunting := &store.Budget{Store: a.store, Name: "graph-hunting:" + t.Name, N: g.HuntRate, Per: time.Minute, Fallback: share(g.HuntRate), Logger: a.logger}
		budgets = append(budgets, alerts, hunting)
		dc.Limiter, dc.HuntingLimiter = alerts, hunting
	}
	c, err := defender.New(dc, a.hc, a.logger)
	if err != nil {
		return nil, nil, err
	}
	return c, budgets, nil
}
