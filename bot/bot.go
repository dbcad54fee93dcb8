// Package bot is the Socket Mode loop: it acks every envelope at once,
// authorizes by Slack ID, routes slash commands and button clicks to a
// bounded worker pool, and replies.
package bot

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/soc/mcasbot/bot/access"
	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/bot/createjira"
	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/bot/triage"
	"github.com/soc/mcasbot/integrations/httpx"
)

// Config tunes the loop.
type Config struct {
	AllowedChannels []string // empty: every channel
	AllowedUsers    []string // empty: everyone
	Workers         int      // concurrent commands (default 8)
	Queue           int      // commands waiting for a worker (default 64)
	// PingInterval is how long without a Slack ping before reconnecting
	// (slack-go's default 30s).
	PingInterval time.Duration
	// ShutdownGrace bounds how long in-flight replies may take at shutdown.
	ShutdownGrace time.Duration
	// MaxBackoff caps the wait between reconnect attempts (default 2m).
	MaxBackoff time.Duration
	// ReplyDeadline is when a lookup shows what it has, naming the tenants
	// still missing, and updates the message once they answer (default 8s).
	ReplyDeadline time.Duration
	// Waiting bounds the lookups that wait for their tenants outside the
	// worker pool (default 64). A lookup takes a worker only to start; while
	// it waits for answers (up to COMMAND_TIMEOUT for a hung tenant) it holds
	// one of these instead, so slow tenants cannot starve the pool. When all
	// are taken, a lookup waits on its worker, as before.
	Waiting int
}

// Bot serves /mcas over Socket Mode.
type Bot struct {
	cfg    Config
	api    *slack.Client
	sm     *socketmode.Client
	runner *commands.Runner
	hc     *http.Client
	log    *slog.Logger
	auth   access.List

	jobs          chan func(context.Context)
	waiting       chan struct{} // a slot per lookup waiting off the pool
	waiters       sync.WaitGroup
	connected     atomic.Bool
	everConnected atomic.Bool
	inflight      sync.WaitGroup

	jira *createjira.Flow // nil: Create Jira is not configured

	triage *triage.Flow // Details always; Close… once EnableTriage

	// Metrics hooks, all optional.
	OnAck       func(kind string, d time.Duration)
	OnCommand   func(name, outcome string, d time.Duration)
	OnReconnect func() // a lost connection was re-established
	OnInterim   func(name string, why commands.Interim)
	// OnFullAnswer is told what became of each answer too big for a
	// message: posted, direct_message, not_in_channel, upload_failed, failed.
	OnFullAnswer func(outcome string)
}

// New wires a bot. api must carry the app-level token.
func New(cfg Config, api *slack.Client, runner *commands.Runner, hc *http.Client, logger *slog.Logger) *Bot {
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 64
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 30 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 2 * time.Minute
	}
	if cfg.ReplyDeadline <= 0 {
		cfg.ReplyDeadline = 8 * time.Second
	}
	if cfg.Waiting <= 0 {
		cfg.Waiting = 64
	}
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts := []socketmode.Option{socketmode.OptionLog(slogLogger{logger})}
	if cfg.PingInterval > 0 {
		opts = append(opts, socketmode.OptionPingInterval(cfg.PingInterval))
	}
	b := &Bot{
		cfg: cfg, api: api, sm: socketmode.New(api, opts...), runner: runner, hc: hc, log: logger,
		auth: access.New(cfg.AllowedChannels, cfg.AllowedUsers),
		jobs: make(chan func(context.Context), cfg.Queue), waiting: make(chan struct{}, cfg.Waiting),
	}
	// Details works before EnableTriage, for whoever may run commands.
	b.triage = triage.New(host{b}, triage.Config{}, b.auth, b.auth)
	return b
}

// Connected reports whether the Socket Mode connection is up.
func (b *Bot) Connected() bool { return b.connected.Load() }

// API is the Web API client the bot posts with.
func (b *Bot) API() *slack.Client { return b.api }

// Run serves until ctx is done, then stops taking envelopes, finishes the
// replies in flight (up to ShutdownGrace) and returns nil.
func (b *Bot) Run(ctx context.Context) error {
	// Work outlives ctx by the grace period so in-flight replies land.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var workers sync.WaitGroup
	for range b.cfg.Workers {
		workers.Go(func() {
			for job := range b.jobs {
				job(workCtx)
				b.inflight.Done()
			}
		})
	}

	sockCtx, stopSock := context.WithCancel(ctx)
	defer stopSock()
	var loops sync.WaitGroup
	loops.Go(func() { b.connectLoop(sockCtx) })
	loops.Go(func() { b.eventLoop(sockCtx) })
	<-ctx.Done()
	b.log.Info("shutting down: no new envelopes; finishing replies in flight")
	stopSock()
	loops.Wait()
	close(b.jobs)

	done := make(chan struct{})
	go func() {
		workers.Wait()
		b.waiters.Wait() // no worker is left to start one
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(b.cfg.ShutdownGrace):
		b.log.Warn("shutdown grace period over; abandoning replies in flight")
		stopWork()
		<-done
	}
	b.connected.Store(false)
	return nil
}

// connectLoop keeps a Socket Mode connection up. slack-go reconnects by
// itself on disconnect, but RunContext returns on some failures (bad
// token, 404 on connections.open): retry those with backoff, logging why.
func (b *Bot) connectLoop(ctx context.Context) {
	wait := time.Second
	for {
		start := time.Now()
		err := b.sm.RunContext(ctx)
		b.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			wait = time.Second // it had been up a while: not a tight failure loop
		}
		b.log.Error("socket mode connection ended; reconnecting", "error", describeConnErr(err), "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, b.cfg.MaxBackoff)
	}
}

func describeConnErr(err error) string {
	if err == nil {
		return "closed"
	}
	switch err.Error() {
	case "invalid_auth", "not_authed", "token_revoked", "account_inactive":
		return err.Error() + " (check SLACK_APP_TOKEN: an xapp- token with connections:write)"
	}
	return err.Error()
}

func (b *Bot) eventLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case evt := <-b.sm.Events:
			b.handle(ctx, evt)
		}
	}
}

func (b *Bot) handle(ctx context.Context, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		b.log.Debug("connecting to Slack")
	case socketmode.EventTypeConnected, socketmode.EventTypeHello:
		if !b.connected.Swap(true) {
			b.log.Info("connected to Slack over Socket Mode")
			if b.everConnected.Swap(true) && b.OnReconnect != nil {
				b.OnReconnect()
			}
		}
	case socketmode.EventTypeConnectionError:
		b.connected.Store(false)
		if e, ok := evt.Data.(*slack.ConnectionErrorEvent); ok {
			b.log.Warn("socket mode connection failed", "error", describeConnErr(e.ErrorObj), "attempt", e.Attempt, "retry_in", e.Backoff)
		}
	case socketmode.EventTypeInvalidAuth:
		b.connected.Store(false)
		b.log.Error("Slack rejected the app token (check SLACK_APP_TOKEN)")
	case socketmode.EventTypeDisconnect:
		b.connected.Store(false)
		b.log.Info("Slack asked to reconnect")
	case socketmode.EventTypeSlashCommand:
		cmd, _ := evt.Data.(slack.SlashCommand)
		b.onSlash(evt.Request, cmd)
	case socketmode.EventTypeInteractive:
		cb, _ := evt.Data.(slack.InteractionCallback)
		b.onInteractive(evt.Request, cb)
	case socketmode.EventTypeEventsAPI:
		b.ack(evt.Request, "events_api", nil)
	case socketmode.EventTypeErrorBadMessage:
		// An envelope slack-go could not parse still needs its ack, or
		// Slack retries it.
		if e, ok := evt.Data.(*socketmode.ErrorBadMessage); ok {
			var env struct {
				EnvelopeID string `json:"envelope_id"`
			}
			if json.Unmarshal(e.Message, &env) == nil && env.EnvelopeID != "" {
				b.ack(&socketmode.Request{EnvelopeID: env.EnvelopeID}, "unknown", nil)
			}
			b.log.Warn("unreadable envelope from Slack", "error", e.Cause)
		}
	}
}

// ack answers an envelope; payload, if any, is the immediate reply.
func (b *Bot) ack(req *socketmode.Request, kind string, payload any) {
	if req == nil {
		return
	}
	start := time.Now()
	// Bounded: with the connection down the send queue can fill, and the
	// event loop must not hang on it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := b.sm.AckCtx(ctx, req.EnvelopeID, payload); err != nil {
		b.log.Error("ack failed", "envelope", req.EnvelopeID, "error", err)
		if payload != nil {
			// Too large for Socket Mode: ack bare.
			_ = b.sm.AckCtx(ctx, req.EnvelopeID, nil)
		}
	}
	if b.OnAck != nil {
		b.OnAck(kind, time.Since(start))
	}
}

func (b *Bot) onSlash(req *socketmode.Request, cmd slack.SlashCommand) {
	log := b.log.With("request_id", req.EnvelopeID, "user", cmd.UserID, "channel", cmd.ChannelID)
	if ok, why := b.auth.Allowed(cmd.ChannelID, cmd.UserID); !ok {
		b.ack(req, "slash_command", formatting.Refusal(why))
		log.Warn("audit: command refused", "reason", why, "text_len", len(cmd.Text))
		b.count("refused", "denied", 0)
		return
	}
	parsed, err := b.runner.Parse(cmd.Text)
	if err != nil {
		var ue *commands.UsageError
		if !errors.As(err, &ue) {
			ue = &commands.UsageError{Problem: err.Error()}
		}
		b.ack(req, "slash_command", formatting.Help(ue))
		log.Info("bad command input", "problem", ue.Problem)
		b.count("invalid", "bad_input", 0)
		return
	}
	name := commands.Name(parsed)
	log = log.With("command", name)
	tenants := b.runner.Tenants.Len()
	if sel := commands.Selection(parsed); sel != "" {
		ts, _ := b.runner.Tenants.Select(sel)
		tenants = len(ts)
		log = log.With("tenant", sel)
	}
	if !commands.Slow(parsed) {
		res := b.runner.Run(context.Background(), parsed)
		if msg, left := formatting.ReplyFull(res, nil); left == 0 && fitsAck(msg) {
			b.ack(req, "slash_command", msg)
			b.count(name, "ok", 0)
			return
		}
		// Too big for the ack: the reply comes through response_url, with
		// the whole answer as a CSV.
		b.ack(req, "slash_command", formatting.LookingUp(parsed, tenants))
		b.submit(log, cmd.ResponseURL, func(ctx context.Context) {
			b.reply(ctx, log, cmd.ResponseURL, b.answer(ctx, log, cmd, res))
			b.count(name, "ok", 0)
		})
		return
	}
	b.ack(req, "slash_command", formatting.LookingUp(parsed, tenants))
	start := time.Now()
	b.submit(log, cmd.ResponseURL, func(ctx context.Context) {
		ctx = httpx.WithLogger(ctx, log)
		ans := b.runner.Start(ctx, parsed)
		b.wait(log, func() {
			// At most two interim replies and the answer (with its
			// fallback): within response_url's 5 posts.
			res := ans.Await(start.Add(b.cfg.ReplyDeadline), func(part commands.Result, why commands.Interim) {
				log.Info("interim reply", "reason", why, "pending", pendingNames(part))
				b.reply(ctx, log, cmd.ResponseURL, b.cardMessage(part))
				if b.OnInterim != nil {
					b.OnInterim(name, why)
				}
			})
			outcome := "ok"
			if commands.Failed(res) {
				outcome = "upstream_error"
				for _, f := range failures(res) {
					log.Warn("tenant failed", "tenant", f.Tenant, "error", f.Err)
				}
			}
			b.reply(ctx, log, cmd.ResponseURL, b.answer(ctx, log, cmd, res))
			log.Info("command answered", "outcome", outcome, "took", time.Since(start).Round(time.Millisecond))
			b.count(name, outcome, time.Since(start))
		})
	})
}

// wait runs a started lookup's waiting (its replies included) outside the
// worker pool, so that a hung tenant holds no worker (issue #16). With
// every waiting slot taken it runs on the caller's worker: the pool, then
// the queue, fill, and new commands are told mcasbot is busy.
func (b *Bot) wait(log *slog.Logger, f func()) {
	select {
	case b.waiting <- struct{}{}:
		b.waiters.Go(func() {
			defer func() { <-b.waiting }()
			f()
		})
	default:
		log.Warn("every waiting slot is taken; the lookup waits on its worker", "waiting", cap(b.waiting))
		f()
	}
}

func (b *Bot) count(name, outcome string, d time.Duration) {
	if b.OnCommand != nil {
		b.OnCommand(name, outcome, d)
	}
}

func pendingNames(r commands.Result) []string {
	var ps []commands.Pending
	switch r := r.(type) {
	case commands.AlertsResult:
		ps = r.Pending
	case commands.IPResult:
		ps = r.Pending
	case commands.AlertResult:
		ps = r.Pending
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Tenant
	}
	return names
}

func failures(r commands.Result) []commands.Failure {
	switch r := r.(type) {
	case commands.AlertsResult:
		return r.Failures
	case commands.IPResult:
		return r.Failures
	case commands.AlertResult:
		return r.Failures
	}
	return nil
}

// submit queues work; a full queue gets a "busy" reply instead of blocking
// the event loop.
func (b *Bot) submit(log *slog.Logger, responseURL string, job func(ctx context.Context)) {
	b.inflight.Add(1)
	select {
	case b.jobs <- job:
	default:
		b.inflight.Done()
		log.Warn("worker queue full; refusing command")
		go b.reply(context.Background(), log, responseURL, formatting.Notice(":hourglass: mcasbot is busy with other lookups. Try again in a minute."))
	}
}

// reply posts to a response_url. If Slack refuses the rich message, a
// short text version follows so the user is never left with "looking up…".
func (b *Bot) reply(ctx context.Context, log *slog.Logger, url string, msg *slack.WebhookMessage) {
	if url == "" {
		log.Error("no response_url to reply to")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err := slack.PostWebhookCustomHTTPContext(ctx, url, b.hc, msg)
	if err == nil {
		return
	}
	log.Error("reply failed; sending a plain fallback", "error", err)
	fallback := formatting.Notice(formatting.Escape(formatting.Cut(msg.Text, 2000)) + "\n_(the full table could not be shown: " + formatting.Escape(formatting.Cut(err.Error(), 200)) + ")_")
	fallback.ReplaceOriginal = true
	if err := slack.PostWebhookCustomHTTPContext(ctx, url, b.hc, fallback); err != nil {
		log.Error("fallback reply failed too", "error", err)
	}
}

// Reply posts msg to a response_url (for interaction handlers).
func (b *Bot) Reply(ctx context.Context, url string, msg *slack.WebhookMessage) {
	b.reply(ctx, b.log, url, msg)
}

// slogLogger adapts slog to slack-go's logger interface (debug level:
// slack-go logs every frame when debugging is on).
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Output(_ int, msg string) error {
	s.l.Debug(msg, "component", "socketmode")
	return nil
}
