package bot

import (
	"context"
	"log/slog"
	"strings"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/soc/mcasbot/bot/access"
	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/bot/createjira"
	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/bot/triage"
	"github.com/soc/mcasbot/integrations/httpx"
)

// The interactive flows live in sub-packages: createjira (the Create Jira
// button) and triage (Details and Close…). This file turns them on and
// routes clicks to them.

// EnableJira turns the Create Jira buttons on. Call before Run.
func (b *Bot) EnableJira(c createjira.Config) {
	users := c.ActionUsers
	if len(users) == 0 {
		users = b.cfg.AllowedUsers
	}
	b.jira = createjira.New(host{b}, c, b.clickAccess(users, c.Channels, c.LiveChannels))
}

// EnableTriage turns Close… on. Call before Run. Details works without it.
func (b *Bot) EnableTriage(c triage.Config) {
	users := c.ActionUsers
	if len(users) == 0 {
		users = b.cfg.AllowedUsers
	}
	b.triage = triage.New(host{b}, c, b.clickAccess(users, c.Channels, c.LiveChannels),
		b.clickAccess(b.cfg.AllowedUsers, c.Channels, c.LiveChannels))
}

// clickAccess is who may press a flow's buttons, where: users in the
// allowed channels, the flow's channels and its live channels; anywhere
// when no channels are configured.
func (b *Bot) clickAccess(users, channels []string, live func() []string) access.List {
	var all []string
	if len(b.cfg.AllowedChannels) > 0 {
		all = append(append(all, b.cfg.AllowedChannels...), channels...)
	}
	l := access.New(all, users)
	if len(all) > 0 {
		l.More = live
	}
	return l
}

func (b *Bot) onInteractive(req *socketmode.Request, cb slack.InteractionCallback) {
	if cb.Type == slack.InteractionTypeViewSubmission {
		// Its ack carries the answer.
		log := b.log.With("request_id", req.EnvelopeID, "user", cb.User.ID)
		b.triage.ViewSubmission(log, cb, func(response any) { b.ack(req, "interactive", response) })
		return
	}
	b.ack(req, "interactive", nil)
	if cb.Type != slack.InteractionTypeBlockActions {
		return
	}
	log := b.log.With("request_id", req.EnvelopeID, "user", cb.User.ID, "channel", cb.Channel.ID)
	if cb.Container.Type == "view" {
		b.triage.ViewAction(log, cb)
		return
	}
	for _, a := range cb.ActionCallback.BlockActions {
		if strings.HasPrefix(a.ActionID, formatting.ActionTriage) {
			b.triage.Click(log, cb, a)
			continue
		}
		if !strings.HasPrefix(a.ActionID, formatting.ActionCreateJira+":") {
			continue // e.g. Open in Defender: a link, nothing to do
		}
		if b.jira == nil {
			b.submit(log, cb.ResponseURL, func(ctx context.Context) {
				b.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(":x: Jira is not configured for this mcasbot (set JIRA_URL and JIRA_PROJECT)."))
			})
			continue
		}
		b.submit(log, cb.ResponseURL, func(ctx context.Context) { b.jira.Click(httpx.WithLogger(ctx, log), log, cb, a) })
	}
}

// cardMessage renders a command result; an alert's card offers Create
// Jira and Close… only where they work.
func (b *Bot) cardMessage(res commands.Result) *slack.WebhookMessage {
	if r, ok := res.(commands.AlertResult); ok {
		return formatting.AlertReply(r, b.jira == nil, !b.triage.Closing())
	}
	return formatting.Reply(res)
}

// host is what the flows use of the bot: the Web API client and Reply
// come with *Bot.
type host struct{ *Bot }

func (h host) Runner() *commands.Runner { return h.runner }

func (h host) Submit(log *slog.Logger, responseURL string, job func(ctx context.Context)) {
	h.submit(log, responseURL, job)
}

func (h host) Card(res commands.Result) *slack.WebhookMessage { return h.cardMessage(res) }

// Views lends triage Create Jira's stored views of digest messages.
func (h host) Views() triage.Store {
	if h.jira != nil && h.jira.Views() != nil {
		return h.jira.Views()
	}
	return nil
}

func (h host) RedrawCard(ctx context.Context, log *slog.Logger, url, tenant, alertID string) {
	h.triage.RedrawCard(ctx, log, url, tenant, alertID)
}
