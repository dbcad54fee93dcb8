// Package createjira handles the Create Jira button of digest messages and
// detail cards: it files the alert (or its group of repeats) and redraws
// the message clicked on to show the issue.
package createjira

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/access"
	"github.com/soc/mcasbot/bot/filing"
	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/bot/messages"
	"github.com/soc/mcasbot/store"
)

// Filer files issues (*filing.Service).
type Filer interface {
	File(ctx context.Context, tenant, alertID string, by filing.Filer) (filing.Result, error)
	FileGroup(ctx context.Context, g filing.RepeatGroup, by filing.Filer) (filing.Result, error)
}

// IssueReader reads issue records (store.Store).
type IssueReader interface {
	Issue(ctx context.Context, tenant, alertID string) (store.IssueRecord, bool, error)
}

// Config is the Create Jira button's configuration.
type Config struct {
	Filer  Filer
	Issues IssueReader
	// ActionUsers may press the button; empty means the allowed users.
	ActionUsers []string
	// Channels where the button works besides the allowed channels (the
	// digest channel), and LiveChannels, read at each click: the digest
	// channels the tenants file routes to, which a reload changes.
	Channels     []string
	LiveChannels func() []string
	// OnOutcome, when set, counts filings by outcome.
	OnOutcome func(outcome string)
	// Messages redraws digest messages from the store; nil patches the
	// clicked copy instead.
	Messages *messages.Redrawer
}

// Host is what the flow needs from the Socket Mode loop.
type Host interface {
	API() *slack.Client
	// Reply posts msg to a response_url.
	Reply(ctx context.Context, url string, msg *slack.WebhookMessage)
	// RedrawCard replaces the ephemeral detail card at url with a fresh one.
	RedrawCard(ctx context.Context, log *slog.Logger, url, tenant, alertID string)
}

// Flow handles Create Jira clicks.
type Flow struct {
	host   Host
	cfg    Config
	access access.List // who may press the button, where
	locks  sync.Map    // channel/ts -> *sync.Mutex
}

// New makes the flow; clicks says who may press the button, where.
func New(h Host, c Config, clicks access.List) *Flow {
	return &Flow{host: h, cfg: c, access: clicks}
}

// Views is the store the flow reads digest messages' stored views from;
// nil when it keeps none.
func (f *Flow) Views() store.Store {
	if f.cfg.Messages == nil {
		return nil
	}
	return f.cfg.Messages.Store
}

// Click handles one Create Jira click, after the ack.
func (f *Flow) Click(ctx context.Context, log *slog.Logger, cb slack.InteractionCallback, action *slack.BlockAction) {
	v, err := formatting.ParseButtonValue(action.Value)
	if err != nil {
		f.host.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(":x: That button is not one mcasbot understands."))
		return
	}
	log = log.With("tenant", v.Tenant, "alert", v.AlertID)
	if ok, why := f.access.Allowed(cb.Channel.ID, cb.User.ID); !ok {
		if strings.Contains(why, "list of users") {
			why = "You are not on the list of users allowed to file Jira issues (SLACK_ACTION_USERS)."
		}
		log.Warn("audit: jira click refused", "reason", why, "outcome", "refused")
		f.outcome("refused")
		f.host.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(":no_entry: "+formatting.Escape(why)))
		return
	}
	var res filing.Result
	if v.Group {
		var g filing.RepeatGroup
		if g, err = f.groupOf(ctx, v); err != nil {
			log.Error("audit: jira filing failed", "outcome", "failed", "error", err)
			f.outcome("failed")
			f.host.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(":x: Could not read this group's alerts: "+formatting.CutEscaped(err.Error(), 1500)))
			return
		}
		log = log.With("group", g.Signature, "alerts", len(g.Alerts))
		res, err = f.cfg.Filer.FileGroup(ctx, g, filing.Filer{ID: cb.User.ID, Name: userName(cb.User)})
	} else {
		res, err = f.cfg.Filer.File(ctx, v.Tenant, v.AlertID, filing.Filer{ID: cb.User.ID, Name: userName(cb.User)})
	}
	switch {
	case err != nil:
		log.Error("audit: jira filing failed", "outcome", string(res.Outcome), "error", err)
		f.outcome(string(res.Outcome))
		msg := ":x: Could not file a Jira issue for this alert: " + formatting.CutEscaped(err.Error(), 1500)
		if !errors.Is(err, filing.ErrStoreDown) && !strings.Contains(err.Error(), "is held until") {
			msg += "\nThe button stays; click it again once the cause is fixed."
		}
		f.host.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(msg))
	case res.Outcome == filing.Filed:
		if res.Earlier != "" {
			log = log.With("earlier", res.Earlier)
		}
		log.Info("audit: jira issue filed", "issue", res.Key, "outcome", "filed")
		f.outcome("filed")
		f.updateMessage(ctx, log, cb)
	case res.Outcome == filing.AlreadyFiled && res.Appended > 0:
		log.Info("audit: jira click added repeats to a filed group", "issue", res.Key, "appended", res.Appended, "outcome", "already_filed")
		f.outcome("already_filed")
		what := "this alert repeats a group filed there, so it was added to the issue as a comment"
		if v.Group {
			what = fmt.Sprintf("the %d alerts of this group not yet in it were added to the issue as a comment", res.Appended)
		}
		f.host.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(fmt.Sprintf(":information_source: Already filed as %s: %s.", formatting.IssueLink(res.Key, res.URL), what)))
		f.updateMessage(ctx, log, cb)
	case res.Outcome == filing.AlreadyFiled:
		log.Info("audit: jira click on filed alert", "issue", res.Key, "filed_by", res.By, "outcome", "already_filed")
		f.outcome("already_filed")
		by := ""
		if res.By != "" {
			by = " by <@" + res.By + ">"
		}
		f.host.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(fmt.Sprintf(":information_source: Already filed as %s%s.", formatting.IssueLink(res.Key, res.URL), by)))
		f.updateMessage(ctx, log, cb)
	case res.Outcome == filing.InProgress && res.Held != "":
		log.Info("audit: jira click on held alert", "held_by", res.By, "outcome", "in_progress")
		f.outcome("in_progress")
		f.host.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(fmt.Sprintf(":warning: An earlier attempt by <@%s> got no answer from Jira (%s). To avoid a duplicate, %s is held until %s UTC; after that a click searches Jira before filing.",
			res.By, formatting.CutEscaped(res.Held, 300), noun(v, "this alert", "(part of) this group"), res.HeldUntil.UTC().Format("15:04"))))
	case res.Outcome == filing.InProgress:
		// Someone else (maybe on another replica) is filing it: wait for
		// their result so this user is told the same key.
		if rec, ok := f.waitFiled(ctx, v.Tenant, v.AlertID); ok {
			log.Info("audit: jira click while filing", "issue", rec.Key, "filed_by", rec.By, "outcome", "already_filed")
			f.outcome("already_filed")
			f.host.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(fmt.Sprintf(":information_source: Already filed as %s by <@%s>.", formatting.IssueLink(rec.Key, rec.URL), rec.By)))
			return
		}
		log.Info("audit: jira click while filing", "filing_by", res.By, "outcome", "in_progress")
		f.outcome("in_progress")
		f.host.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(fmt.Sprintf(":hourglass_flowing_sand: <@%s> is filing %s right now; the message will show the issue in a moment.", res.By, noun(v, "this alert", "(part of) this group"))))
	}
}

// noun names what a button files.
func noun(v formatting.ButtonValue, alert, group string) string {
	if v.Group {
		return group
	}
	return alert
}

// waitFiled polls the store until another click's filing is done.
func (f *Flow) waitFiled(ctx context.Context, tenant, alertID string) (store.IssueRecord, bool) {
	ctx, cancel := context.WithTimeout(ctx, filingWait)
	defer cancel()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return store.IssueRecord{}, false
		case <-t.C:
			rec, ok, err := f.cfg.Issues.Issue(ctx, tenant, alertID)
			if err != nil || !ok || rec.State == store.IssueFailed {
				return store.IssueRecord{}, false
			}
			if rec.State == store.IssueCreated {
				return rec, true
			}
		}
	}
}

// filingWait bounds how long a click waits for another click's filing.
const filingWait = 20 * time.Second

func (f *Flow) outcome(o string) {
	if f.cfg.OnOutcome != nil {
		f.cfg.OnOutcome(o)
	}
}

func userName(u slack.User) string {
	if u.Name != "" {
		return u.Name
	}
	return u.ID
}

// updateMessage redraws the digest message the click came from from its
// stored view and the store's state, so concurrent clicks (on any replica)
// converge. Messages posted before views were kept are patched from the
// click's copy instead.
func (f *Flow) updateMessage(ctx context.Context, log *slog.Logger, cb slack.InteractionCallback) {
	if cb.Container.IsEphemeral {
		f.redrawFiledCard(ctx, log, cb) // a detail card
		return
	}
	channel, ts := cb.Container.ChannelID, cb.Container.MessageTs
	if channel == "" {
		channel = cb.Channel.ID
	}
	if ts == "" {
		ts = cb.Message.Timestamp
	}
	if f.cfg.Messages != nil && channel != "" && ts != "" && !cb.Container.IsEphemeral {
		err := f.cfg.Messages.Message(ctx, channel, ts)
		if err == nil {
			return
		}
		if !errors.Is(err, messages.ErrNoMessage) {
			log.Error("could not redraw the digest message", "error", err)
			return
		}
	}
	blocks := cb.Message.Blocks.BlockSet
	if channel == "" || ts == "" || len(blocks) == 0 || cb.Container.IsEphemeral {
		log.Warn("cannot update the digest message: the click carried no message")
		return
	}
	mu := f.messageLock(channel + "/" + ts)
	mu.Lock()
	defer mu.Unlock()
	filed := map[string]formatting.Filed{}
	for key, v := range formatting.ButtonsOf(blocks) {
		rec, ok, err := f.cfg.Issues.Issue(ctx, v.Tenant, v.AlertID)
		if err != nil {
			log.Warn("reading issue record", "error", err)
			continue
		}
		if ok && rec.State == store.IssueCreated {
			filed[key] = formatting.Filed{Key: rec.Key, URL: rec.URL, By: rec.By}
		}
	}
	if len(filed) == 0 {
		return
	}
	version := strconv.FormatInt(time.Now().UnixNano(), 36)
	_, _, _, err := f.host.API().UpdateMessageContext(ctx, channel, ts,
		slack.MsgOptionText(cb.Message.Text, false), slack.MsgOptionBlocks(formatting.FiledBlocks(blocks, filed, version)...))
	if err != nil {
		log.Error("could not update the digest message", "error", err)
	}
}

// redrawFiledCard shows the issue on the detail card Create Jira was
// pressed on, and redraws the alert's digest message too.
func (f *Flow) redrawFiledCard(ctx context.Context, log *slog.Logger, cb slack.InteractionCallback) {
	for _, a := range cb.ActionCallback.BlockActions {
		if v, err := formatting.ParseButtonValue(a.Value); err == nil && strings.HasPrefix(a.ActionID, formatting.ActionCreateJira+":") {
			if f.cfg.Messages != nil {
				if err := f.cfg.Messages.Alert(ctx, v.Tenant, v.AlertID); err != nil && !errors.Is(err, messages.ErrNoMessage) {
					log.Error("could not redraw the digest message", "error", err)
				}
			}
			f.host.RedrawCard(ctx, log, cb.ResponseURL, v.Tenant, v.AlertID)
			return
		}
	}
}

func (f *Flow) messageLock(key string) *sync.Mutex {
	v, _ := f.locks.LoadOrStore(key, &sync.Mutex{})
	return v.(*sync.Mutex)
}
