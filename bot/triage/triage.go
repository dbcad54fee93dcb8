// Package triage handles Details and Close… on digest messages, tables and
// detail cards: the alert's card (or a group's list), the Close… form and
// its submission, for one alert or a group of repeats.
package triage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/access"
	"github.com/soc/mcasbot/bot/closing"
	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/bot/messages"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// Closer closes alerts (*closing.Service): one, or a group of repeats
// with one MCAS call per 100 alerts; Recheck asks the tenant whether an
// alert the store has closed was reopened.
type Closer interface {
	Close(ctx context.Context, req closing.Request) (closing.Result, error)
	CloseGroup(ctx context.Context, req closing.GroupRequest) (closing.GroupResult, error)
	Recheck(ctx context.Context, tenant, alertID string) (closing.Check, error)
}

// Store is what Close… reads before opening its form (store.Store).
type Store interface {
	AlertClose(ctx context.Context, tenant, alertID string) (store.CloseRecord, bool, error)
	LoadMessage(ctx context.Context, channel, ts string) (store.MessageRecord, bool, error)
}

// Config is the configuration of Close… (Details needs none).
type Config struct {
	Closer Closer
	Store  Store
	// ActionUsers may close alerts; empty means the allowed users.
	ActionUsers []string
	// Channels where Details and Close… work besides the allowed channels
	// (the digest channel), and LiveChannels, read at each click: the
	// digest channels the tenants file routes to.
	Channels     []string
	LiveChannels func() []string
	// Messages redraws the digest message of a closed alert.
	Messages *messages.Redrawer
	// OnOutcome, when set, counts closes by outcome.
	OnOutcome func(outcome string)
}

// Host is what the flow needs from the Socket Mode loop.
type Host interface {
	API() *slack.Client
	Runner() *commands.Runner
	// Reply posts msg to a response_url.
	Reply(ctx context.Context, url string, msg *slack.WebhookMessage)
	// Submit queues job on the worker pool, or tells the user the bot is busy.
	Submit(log *slog.Logger, responseURL string, job func(ctx context.Context))
	// Card renders a command's result; an alert's card offers Create Jira
	// and Close… only where they work.
	Card(res commands.Result) *slack.WebhookMessage
	// Views is where digest messages' stored views are read when
	// Config.Store is nil (Create Jira's); nil when nowhere.
	Views() Store
}

// Flow handles Details and Close… clicks and the Close… form.
type Flow struct {
	host        Host
	cfg         Config      // zero: Close… is not enabled; Details still works
	closeAccess access.List // who may close alerts, where
	viewAccess  access.List // who may open cards from clicks, where
}

// New makes the flow: closers may close alerts, viewers open cards.
func New(h Host, c Config, closers, viewers access.List) *Flow {
	return &Flow{host: h, cfg: c, closeAccess: closers, viewAccess: viewers}
}

// Closing reports whether Close… is enabled.
func (f *Flow) Closing() bool { return f.cfg.Closer != nil }

// openWithin is how long the bot takes at most to open a modal: Slack
// accepts a trigger_id for 3 seconds after the click.
const openWithin = 2500 * time.Millisecond

// Click handles Details and Close… from a digest menu, a table's
// Details menu or a card's Close… button, after the ack.
func (f *Flow) Click(log *slog.Logger, cb slack.InteractionCallback, a *slack.BlockAction) {
	value := a.Value
	if a.SelectedOption.Value != "" {
		value = a.SelectedOption.Value
	}
	v, err := formatting.ParseTriageValue(value)
	if err != nil {
		go f.host.Reply(context.Background(), cb.ResponseURL, formatting.Ephemeral(":x: That menu is not one mcasbot understands."))
		return
	}
	if v.Group {
		log = log.With("tenant", v.Tenant, "group", v.AlertID)
	} else {
		log = log.With("tenant", v.Tenant, "alert", v.AlertID)
	}
	if v.Op == formatting.OpDetails {
		if ok, why := f.viewAccess.Allowed(cb.Channel.ID, cb.User.ID); !ok {
			log.Warn("audit: details refused", "reason", why, "outcome", "refused")
			go f.host.Reply(context.Background(), cb.ResponseURL, formatting.Ephemeral(":no_entry: "+formatting.Escape(why)))
			return
		}
		if v.Group {
			f.host.Submit(log, cb.ResponseURL, func(ctx context.Context) { f.groupDetails(httpx.WithLogger(ctx, log), log, cb, v) })
			return
		}
		f.host.Submit(log, cb.ResponseURL, func(ctx context.Context) { f.details(httpx.WithLogger(ctx, log), log, cb.ResponseURL, v) })
		return
	}
	// Close… opens its form at once: the trigger_id is good for 3 seconds,
	// so this never waits in the worker queue.
	go f.openClose(log, cb, v)
}

// details posts an alert's card as a new ephemeral message.
func (f *Flow) details(ctx context.Context, log *slog.Logger, url string, v formatting.TriageValue) {
	res := f.host.Runner().Run(ctx, commands.AlertRequest{ID: v.AlertID, Tenant: v.Tenant})
	msg := f.host.Card(res)
	msg.ReplaceOriginal = false
	f.host.Reply(ctx, url, msg)
	log.Info("details shown", "failed", commands.Failed(res))
}

// openClose opens the Close… form for the click's user.
func (f *Flow) openClose(log *slog.Logger, cb slack.InteractionCallback, v formatting.TriageValue) {
	ctx, cancel := context.WithTimeout(context.Background(), openWithin)
	defer cancel()
	refuse := func(why string) {
		log.Warn("audit: alert close refused", "reason", why, "outcome", "refused")
		f.closeOutcome("refused")
		f.host.Reply(context.Background(), cb.ResponseURL, formatting.Ephemeral(":no_entry: "+formatting.Escape(why)))
	}
	if f.cfg.Closer == nil {
		f.host.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(":x: Closing alerts is not enabled in this mcasbot (it needs the state store)."))
		return
	}
	if ok, why := f.closeAccess.Allowed(cb.Channel.ID, cb.User.ID); !ok {
		if strings.Contains(why, "list of users") {
			why = "You are not on the list of users allowed to close alerts (SLACK_ACTION_USERS)."
		}
		refuse(why)
		return
	}
	t := formatting.CloseTarget{Tenant: v.Tenant, AlertID: v.AlertID, Title: v.Title, Channel: cb.Container.ChannelID,
		Ephemeral: cb.Container.IsEphemeral, ResponseURL: cb.ResponseURL, Source: f.sourceOf(v.Tenant)}
	if t.Channel == "" {
		t.Channel = cb.Channel.ID
	}
	if !t.Ephemeral {
		t.TS = cb.Container.MessageTs
	}
	if v.Group {
		f.openGroupClose(ctx, log, cb, t)
		return
	}
	// Closed already: say so rather than open a form for nothing, unless
	// the tenant shows it open again.
	chk, closed := f.recheck(ctx, log, t)
	if closed {
		rec := *chk.Closed
		log.Info("audit: alert already closed", "closed_by", rec.By, "classification", rec.Classification, "outcome", "already_closed")
		f.host.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(formatting.AlreadyClosedText(*formatting.ClosedFromStore(rec))))
		return
	}
	if f.cfg.Store != nil && t.Title == "" && t.TS != "" {
		t.Title = f.titleFromView(ctx, t)
	}
	_, err := f.host.API().OpenViewContext(ctx, cb.TriggerID, formatting.CloseModal(t, ""))
	if chk.Recorded {
		// The digest entry shows the alert open again.
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		f.redrawAlert(rctx, log, formatting.CloseTarget{Tenant: t.Tenant, AlertID: t.AlertID})
		cancel()
	}
	if err != nil {
		log.Error("could not open the Close… form", "error", err)
		f.host.Reply(context.Background(), cb.ResponseURL, formatting.Ephemeral(":x: Could not open the Close… form: "+formatting.CutEscaped(err.Error(), 300)+". Press Close… again."))
		return
	}
	log.Info("close form opened", "reopened", chk.Reopened != nil)
}

// recheckWithin bounds the tenant's answer to whether an alert the store
// has closed was reopened, leaving the rest of openWithin to views.open.
const recheckWithin = 1500 * time.Millisecond

// recheck asks whether an alert the store has closed is still closed in
// its tenant (issue #16): closed reports it is, so Close… says so. A
// tenant that does not answer in time lets the form open: the submission
// checks again.
func (f *Flow) recheck(ctx context.Context, log *slog.Logger, t formatting.CloseTarget) (closing.Check, bool) {
	rctx, cancel := context.WithTimeout(ctx, recheckWithin)
	defer cancel()
	chk, err := f.cfg.Closer.Recheck(httpx.WithLogger(rctx, log), t.Tenant, t.AlertID)
	if err != nil {
		log.Warn("could not check whether the alert was reopened; the form opens and the close checks again", "error", err)
		return chk, false
	}
	return chk, chk.Closed != nil
}

// titleFromView finds an alert's title in its digest message's stored view.
func (f *Flow) titleFromView(ctx context.Context, t formatting.CloseTarget) string {
	rec, ok, err := f.cfg.Store.LoadMessage(ctx, t.Channel, t.TS)
	if err != nil || !ok {
		return ""
	}
	var v formatting.DigestView
	if json.Unmarshal(rec.Body, &v) != nil {
		return ""
	}
	for _, a := range v.Alerts {
		if a.Tenant == t.Tenant && a.ID == t.AlertID {
			return a.Title
		}
	}
	return ""
}

// ViewAction redraws the Close… form's reasons for the classification
// just picked (views.update, against the view's hash).
func (f *Flow) ViewAction(log *slog.Logger, cb slack.InteractionCallback) {
	for _, a := range cb.ActionCallback.BlockActions {
		t, kind, ok := formatting.ClassificationChosen(cb.View, *a)
		if !ok {
			continue
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := f.host.API().UpdateViewContext(ctx, formatting.CloseModal(t, kind), "", cb.View.Hash, cb.View.ID); err != nil {
				// hash_conflict: a newer choice already redrew it.
				log.Warn("could not redraw the Close… form", "error", err)
			}
		}()
	}
}

// ViewSubmission answers a Close… form in its ack: errors go back into
// the form; a valid one closes it and the close runs on a worker.
func (f *Flow) ViewSubmission(log *slog.Logger, cb slack.InteractionCallback, ack func(response any)) {
	if cb.View.CallbackID != formatting.CallbackClose {
		ack(nil)
		return
	}
	form, errs := formatting.ParseCloseSubmission(cb.View)
	if form.Target.Group > 0 {
		log = log.With("tenant", form.Target.Tenant, "group", form.Target.AlertID, "group_size", form.Target.Group)
	} else {
		log = log.With("tenant", form.Target.Tenant, "alert", form.Target.AlertID)
	}
	switch {
	case f.cfg.Closer == nil:
		errs = map[string]string{formatting.BlockClassification: "Closing alerts is not enabled in this mcasbot."}
	case errs == nil:
		if ok, why := f.closeAccess.Allowed(form.Target.Channel, cb.User.ID); !ok {
			if strings.Contains(why, "list of users") {
				why = "You are not on the list of users allowed to close alerts (SLACK_ACTION_USERS)."
			}
			log.Warn("audit: alert close refused", "classification", string(form.Classification), "reason", form.Reason, "why", why, "outcome", "refused")
			f.closeOutcome("refused")
			errs = map[string]string{formatting.BlockClassification: why}
		}
	}
	if errs != nil {
		ack(slack.NewErrorsViewSubmissionResponse(errs))
		log.Info("close form sent back", "problems", errs)
		return
	}
	ack(nil)
	f.host.Submit(log, form.Target.ResponseURL, func(ctx context.Context) {
		if form.Target.Group > 0 {
			f.closeGroup(httpx.WithLogger(ctx, log), log, cb.User, form)
			return
		}
		f.closeAlert(httpx.WithLogger(ctx, log), log, cb.User, form)
	})
}

// closeAlert runs a submitted close and tells the analyst and the
// messages how it went.
func (f *Flow) closeAlert(ctx context.Context, log *slog.Logger, user slack.User, form formatting.CloseForm) {
	t := form.Target
	res, err := f.cfg.Closer.Close(ctx, closing.Request{Tenant: t.Tenant, AlertID: t.AlertID, By: closing.Analyst{ID: user.ID, Name: userName(user)},
		Classification: form.Classification, Reason: form.Reason, Comment: form.Comment})
	log = log.With("classification", string(form.Classification), "reason", form.Reason, "outcome", string(res.Outcome))
	f.closeOutcome(string(res.Outcome))
	switch {
	case err != nil:
		if res.Outcome == closing.Refused {
			log.Warn("audit: alert close refused", "error", err)
		} else {
			log.Error("audit: alert close failed", "error", err)
		}
		msg := ":x: Could not close the alert: " + formatting.CutEscaped(err.Error(), 1500)
		if !errors.Is(err, closing.ErrStoreDown) {
			msg += "\nNothing changed and Close… stays; press it again once the cause is fixed."
		}
		f.host.Reply(ctx, t.ResponseURL, formatting.Ephemeral(msg))
	case res.Outcome == closing.Closed:
		log.Info("audit: alert closed", "comment_len", len(form.Comment), "jira_issue", issueKey(res), "jira_commented", res.Commented,
			"closes_before", res.Record.Generation)
		f.host.Runner().ForgetAlerts(t.Tenant)
		f.redrawAlert(ctx, log, t)
		f.host.Reply(ctx, t.ResponseURL, formatting.Ephemeral(closedConfirmation(res)))
		return
	case res.Outcome == closing.AlreadyClosed:
		log.Info("audit: alert already closed", "closed_by", res.Record.By, "elsewhere", res.Record.Elsewhere, "handled_by", res.Record.HandledBy)
		f.redrawAlert(ctx, log, t)
		f.host.Reply(ctx, t.ResponseURL, formatting.Ephemeral(formatting.AlreadyClosedText(*formatting.ClosedFromStore(res.Record))))
		return
	case res.Outcome == closing.InProgress:
		log.Info("audit: alert close in progress", "closing_by", res.Record.By)
		f.host.Reply(ctx, t.ResponseURL, formatting.Ephemeral(fmt.Sprintf(":hourglass_flowing_sand: <@%s> is closing this alert as %s right now; the message will show it in a moment.",
			slackID(res.Record.By), source.Classification(res.Record.Classification).Label())))
	}
	if res.Reopened != nil {
		// Not closed now, but open again: the messages show it open.
		f.redrawAlert(ctx, log, t)
	}
}

func userName(u slack.User) string {
	if u.Name != "" {
		return u.Name
	}
	return u.ID
}

func issueKey(res closing.Result) string {
	if res.Issue == nil {
		return ""
	}
	return res.Issue.Key
}

// slackID keeps only what can be a Slack user ID.
func slackID(s string) string {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "unknown"
		}
	}
	return s
}

// closedConfirmation tells the analyst their close is done, and what
// became of the Jira comment.
func closedConfirmation(res closing.Result) string {
	c := formatting.ClosedFromStore(res.Record)
	c.Comment = ""
	text := formatting.ClosedText(*c) + " in " + formatting.CutEscaped(res.Record.Tenant, 40) + "."
	if res.Reopened != nil {
		text += "\n" + formatting.ReopenedText(*formatting.ClosedFromStore(*res.Reopened)) + " Both closes are kept."
	}
	switch {
	case res.Issue != nil && res.Commented:
		text += "\nAdded a comment to " + formatting.IssueLink(res.Issue.Key, res.Issue.URL) + "."
	case res.Issue != nil && res.CommentErr != nil:
		text += "\n:warning: The alert is closed, but the comment on " + formatting.IssueLink(res.Issue.Key, res.Issue.URL) + " failed: " +
			formatting.CutEscaped(res.CommentErr.Error(), 500) + ". Add it by hand if the issue needs it."
	case res.CommentErr != nil:
		text += "\n:warning: Could not comment on the alert's Jira issue: " + formatting.CutEscaped(res.CommentErr.Error(), 500)
	}
	return text
}

// redrawAlert shows an alert's close where it is listed: its digest
// message (redrawn from the store) and the detail card it was closed from.
func (f *Flow) redrawAlert(ctx context.Context, log *slog.Logger, t formatting.CloseTarget) {
	if f.cfg.Messages != nil {
		if err := f.cfg.Messages.Alert(ctx, t.Tenant, t.AlertID); err != nil && !errors.Is(err, messages.ErrNoMessage) {
			log.Error("could not redraw the digest message", "error", err)
		}
	}
	if t.Ephemeral && t.ResponseURL != "" {
		f.RedrawCard(ctx, log, t.ResponseURL, t.Tenant, t.AlertID)
	}
}

// RedrawCard replaces an ephemeral detail card with a fresh one.
func (f *Flow) RedrawCard(ctx context.Context, log *slog.Logger, url, tenant, alertID string) {
	res := f.host.Runner().Run(ctx, commands.AlertRequest{ID: alertID, Tenant: tenant})
	if r, ok := res.(commands.AlertResult); !ok || len(r.Found) != 1 {
		log.Warn("could not redraw the detail card: the alert could not be read again")
		return
	}
	msg := f.host.Card(res)
	msg.ReplaceOriginal = true
	f.host.Reply(ctx, url, msg)
}

func (f *Flow) closeOutcome(o string) {
	if f.cfg.OnOutcome != nil {
		f.cfg.OnOutcome(o)
	}
}

// sourceOf names the API a tenant is read through, for the reasons its
// Close… form offers ("" for a tenant not configured here).
func (f *Flow) sourceOf(tenant string) string {
	for _, t := range f.host.Runner().Tenants.Tenants() {
		if t.Name() == tenant {
			return t.Source()
		}
	}
	return ""
}
