package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot"
	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/bot/createjira"
	"github.com/soc/mcasbot/bot/filing"
	"github.com/soc/mcasbot/bot/messages"
	"github.com/soc/mcasbot/correlation"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/graph"
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/ops"
	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/tenants"
)

// app is every part, wired from the configuration.
type app struct {
	cfg     *Config
	runner  *commands.Runner
	abuse   *abuseipdb.Client
	store   store.Store
	jira    *jira.Client
	filing  *filing.Service
	logger  *slog.Logger
	hc      *http.Client
	closers []func()
	// tenants are the tenants' clients, as served now (wire_tenants.go;
	// a reload replaces them).
	tenants []*wiredTenant
	// directory answers group rules for the tenants served now.
	directory atomic.Pointer[graph.Directory]
	// observe, once set (instrument), is applied to every tenant wired.
	observe func(*wiredTenant)
}

func (a *app) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// wire builds the clients; withStore opens the state store too.
func wire(ctx context.Context, cfg *Config, configured []Tenant, logger *slog.Logger, withStore bool) (*app, error) {
	a := &app{cfg: cfg, logger: logger, hc: httpClient(), runner: &commands.Runner{Tenants: tenants.Static(), Timeout: cfg.CommandTimout, CacheTTL: cfg.Busy.QueryCacheTTL,
		Cooldown: cfg.Busy.TenantCooldown, MaxCalls: cfg.Workers, FanOut: cfg.Busy.FanoutConcurrency, Logger: logger}}
	if withStore {
		st, err := store.Open(ctx, cfg.DatabaseURL.Reveal())
		if err != nil {
			return nil, fmt.Errorf("state store %s: %w", store.Kind(cfg.DatabaseURL.Reveal()), err)
		}
		a.store = st
		a.closers = append(a.closers, func() { _ = st.Close() })
	}
	var ws []*wiredTenant
	for _, t := range configured {
		w, err := a.wireTenant(t)
		if err != nil {
			a.Close()
			return nil, err
		}
		ws = append(ws, w)
	}
	a.serve(ws, cfg.roster)
	if cfg.AbuseKey != "" {
		ac := abuseipdb.Config{APIKey: cfg.AbuseKey.Reveal(), URL: cfg.AbuseURL, MaxAgeDays: cfg.AbuseMaxAge, CacheTTL: cfg.AbuseCacheTTL}
		if a.store != nil {
			ac.Shared = a.store
		}
		c, err := abuseipdb.New(ac, a.hc, logger)
		if err != nil {
			a.Close()
			return nil, err
		}
		a.abuse = c
		a.runner.Reputation = c
	}
	if a.store == nil {
		return a, nil
	}
	st := a.store
	a.runner.Related = &correlation.Finder{Store: st, Window: cfg.Correlation.window}
	if cfg.JiraEnabled() {
		jc, err := jiraClient(cfg, a.hc, logger)
		if err != nil {
			return nil, err
		}
		a.jira = jc
		a.filing = &filing.Service{Mapping: cfg.mapping, Store: st, Jira: jc, Tenants: a.runner.Tenants, Logger: logger}
		if cfg.Correlation.groupMin > 0 {
			a.filing.RepeatWindow = cfg.Correlation.window
		}
		if a.abuse != nil {
			a.filing.Reputation = a.abuse
		}
		a.filing.Groups = a.groups()
	}
	return a, nil
}

// digest builds the digest runner posting with api (nil for a dry run).
func (a *app) digest(api *slack.Client) *schedule.Digest {
	d := &schedule.Digest{
		Config: schedule.Config{Channel: a.cfg.DigestChannel, MinSeverity: a.cfg.minSeverity, Lookback: a.cfg.DigestLookback,
			Overlap: a.cfg.DigestOverlap, SourceOverlap: a.cfg.sourceOverlaps(), MaxPerTenant: a.cfg.DigestMaxAlerts, QuietText: a.cfg.DigestQuiet, NoJira: a.filing == nil,
			GroupMin: a.cfg.Correlation.groupMin, Window: a.cfg.Correlation.window, Concurrency: a.cfg.Busy.FanoutConcurrency},
		Store: a.store, Logger: a.logger, Owner: schedule.DefaultOwner(),
	}
	if api != nil {
		d.Slack = api
	}
	d.Tenants = a.runner.Tenants
	if a.abuse != nil {
		d.Reputation = a.abuse
	}
	if a.filing != nil {
		d.Repeats = a.filing
	}
	return d
}

// enableJira turns on the Create Jira buttons of b.
func (a *app) enableJira(b *bot.Bot, m *ops.Metrics) {
	if a.filing == nil {
		return
	}
	var channels []string
	if a.cfg.DigestChannel != "" {
		channels = append(channels, a.cfg.DigestChannel)
	}
	b.EnableJira(createjira.Config{Filer: a.filing, Issues: a.store, ActionUsers: a.cfg.ActionUsers, Channels: channels, LiveChannels: a.digestChannels,
		OnOutcome: func(o string) { m.Issues.WithLabelValues(o).Inc() },
		Messages:  a.redrawer(b.API())})
}

// redrawer redraws digest messages from the store through api.
func (a *app) redrawer(api *slack.Client) *messages.Redrawer {
	return &messages.Redrawer{Store: a.store, Slack: api, Logger: a.logger, Owner: schedule.DefaultOwner()}
}

// instrument feeds the metrics from every client and from the bot.
func (a *app) instrument(m *ops.Metrics, b *bot.Bot) {
	if a.abuse != nil {
		m.ObserveCaller(a.abuse.Caller())
		a.abuse.OnCache = func(hit bool) {
			if hit {
				m.AbuseCache.WithLabelValues("hit").Inc()
			} else {
				m.AbuseCache.WithLabelValues("miss").Inc()
			}
		}
	}
	if a.jira != nil {
		for _, c := range a.jira.Callers() {
			m.ObserveCaller(c)
		}
	}
	a.observe = func(w *wiredTenant) {
		for _, c := range w.callers() {
			m.ObserveCaller(c)
		}
		a.instrumentEntra(m, w.cred)
		for _, bu := range w.budgets {
			bu.OnFallback = m.BudgetFallback.Inc
		}
	}
	for _, w := range a.tenants {
		a.observe(w)
	}
	b.OnAck = func(kind string, d time.Duration) { m.AckLatency.WithLabelValues(kind).Observe(d.Seconds()) }
	b.OnCommand = func(name, outcome string, d time.Duration) {
		m.Commands.WithLabelValues(name, outcome).Inc()
		if d > 0 {
			m.ReplyLatency.WithLabelValues(name).Observe(d.Seconds())
		}
	}
	b.OnReconnect = m.Reconnects.Inc
	a.runner.OnCache = func(hit bool) {
		if hit {
			m.QueryCache.WithLabelValues("hit").Inc()
		} else {
			m.QueryCache.WithLabelValues("miss").Inc()
		}
	}
	a.runner.OnCoalesced = m.Coalesced.Inc
	a.runner.OnSkipped = func(t string) { m.TenantSkipped.WithLabelValues(t).Inc() }
	m.WatchTenants(func() []string { return a.runner.Tenants.Set().Names }, func(t string) int { return int(a.runner.TenantState(t)) })
	b.OnInterim = func(_ string, why commands.Interim) { m.Interim.WithLabelValues(string(why)).Inc() }
	a.runner.OnFanOutWait = m.FanOutWaits.Inc
	b.OnFullAnswer = func(o string) { m.FullAnswers.WithLabelValues(o).Inc() }
}

// quota reads AbuseIPDB's remaining quota, if configured.
func (a *app) quota() func() (int, bool) {
	if a.abuse == nil {
		return nil
	}
	return func() (int, bool) {
		q := a.abuse.Quota()
		return q.Remaining, q.Known
	}
}

func jiraClient(cfg *Config, hc *http.Client, logger *slog.Logger) (*jira.Client, error) {
	return jira.New(jira.Config{URL: cfg.JiraURL, User: cfg.JiraUser, APIToken: cfg.JiraAPIToken.Reveal(), PAT: cfg.JiraPAT.Reveal(),
		Deployment: jira.Deployment(cfg.JiraDeployment)}, hc, logger)
}

func slackAPI(cfg *Config, hc *http.Client) *slack.Client {
	return slack.New(cfg.SlackBotToken.Reveal(), slack.OptionAppLevelToken(cfg.SlackAppToken.Reveal()),
		slack.OptionAPIURL(cfg.SlackAPIURL), slack.OptionHTTPClient(hc))
}

// dbPassword is the password inside DATABASE_URL, for redaction.
func dbPassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}

// digestChannels are the channels the digest posts to now: DIGEST_CHANNEL
// and those the tenants file routes tenants to (a reload changes them).
func (a *app) digestChannels() []string {
	return schedule.Channels(a.runner.Tenants, a.cfg.DigestChannel)
}
