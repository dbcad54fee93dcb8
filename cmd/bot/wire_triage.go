package main

import (
	"github.com/soc/mcasbot/bot"
	"github.com/soc/mcasbot/bot/closing"
	"github.com/soc/mcasbot/bot/triage"
	"github.com/soc/mcasbot/ops"
)

// enableTriage turns on Close… (with the state store) and shows the bot's
// records on detail cards.
func (a *app) enableTriage(b *bot.Bot, m *ops.Metrics) {
	if a.store == nil {
		return
	}
	a.runner.Records = a.store
	svc := a.closer()
	var channels []string
	if a.cfg.DigestChannel != "" {
		channels = append(channels, a.cfg.DigestChannel)
	}
	b.EnableTriage(triage.Config{Closer: svc, Store: a.store, ActionUsers: a.cfg.ActionUsers, Channels: channels, LiveChannels: a.digestChannels,
		Messages: a.redrawer(b.API()), OnOutcome: func(o string) { m.Closes.WithLabelValues(o).Inc() }})
}

// closer is the one-close-per-alert service, for Close… and the Jira sync.
func (a *app) closer() *closing.Service {
	svc := &closing.Service{Store: a.store, Tenants: a.runner.Tenants, Logger: a.logger}
	if a.jira != nil {
		svc.Jira = a.jira
	}
	return svc
}
