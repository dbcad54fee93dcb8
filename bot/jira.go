package bot

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

// JiraButtons is the Create Jira button's configuration.
type JiraButtons struct {
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

// EnableJira turns the Create Jira buttons on. Call before Run.
func (b *Bot) EnableJira(j JiraButtons) {
	b.jira = &j
	users := j.ActionUsers
	if len(users) == 0 {
		users = b.cfg.AllowedUsers
	}
	var channels []string
	if len(b.cfg.AllowedChannels) > 0 {
		channels = append(append(channels, b.cfg.AllowedChannels...), j.Channels...)
	}
	b.clickAuth = access.New(channels, users)
	if len(channels) > 0 {
		b.clickAuth.More = j.LiveChannels
	}
}

// onCreateJira handles one Create Jira click, after the ack.
func (b *Bot) onCreateJira(ctx context.Context, log *slog.Logger, cb slack.InteractionCallback, action *slack.BlockAction) {
	v, err := formatting.ParseButtonValue(action.Value)
	if err != nil {
		b.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(":x: That button is not one mcasbot understands."))
		return
	}
	log = log.With("tenant", v.Tenant, "alert", v.AlertID)
	if ok, why := b.clickAuth.Allowed(cb.Channel.ID, cb.User.ID); !ok {
		if strings.Contains(why, "list of users") {
			why = "You are not on the list of users allowed to file Jira issues (SLACK_ACTION_USERS)."
		}
		log.Warn("audit: jira click refused", "reason", why, "outcome", "refused")
		b.outcome("refused")
		b.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(":no_entry: "+formatting.Escape(why)))
		return
	}
	var res filing.Result
	if v.Group {
		var g filing.RepeatGroup
		if g, err = b.groupOf(ctx, v); err != nil {
			log.Error("audit: jira filing failed", "outcome", "failed", "error", err)
			b.outcome("failed")
			b.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(":x: Could not read this group's alerts: "+formatting.CutEscaped(err.Error(), 1500)))
			return
		}
		log = log.With("group", g.Signature, "alerts", len(g.Alerts))
		res, err = b.jira.Filer.FileGroup(ctx, g, filing.Filer{ID: cb.User.ID, Name: userName(cb.User)})
	} else {
		res, err = b.jira.Filer.File(ctx, v.Tenant, v.AlertID, filing.Filer{ID: cb.User.ID, Name: userName(cb.User)})
	}
	switch {
	case err != nil:
		log.Error("audit: jira filing failed", "outcome", string(res.Outcome), "error", err)
		b.outcome(string(res.Outcome))
		msg := ":x: Could not file a Jira issue for this alert: " + formatting.CutEscaped(err.Error(), 1500)
		if !errors.Is(err, filing.ErrStoreDown) && !strings.Contains(err.Error(), "is held until") {
			msg += "\nThe button stays; click it again once the cause is fixed."
		}
		b.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(msg))
	case res.Outcome == filing.Filed:
		if res.Earlier != "" {
			log = log.With("earlier", res.Earlier)
		}
		log.Info("audit: jira issue filed", "issue", res.Key, "outcome", "filed")
		b.outcome("filed")
		b.updateMessage(ctx, log, cb)
	case res.Outcome == filing.AlreadyFiled && res.Appended > 0:
		log.Info("audit: jira click added repeats to a filed group", "issue", res.Key, "appended", res.Appended, "outcome", "already_filed")
		b.outcome("already_filed")
		what := "this alert repeats a group filed there, so it was added to the issue as a comment"
		if v.Group {
			what = fmt.Sprintf("the %d alerts of this group not yet in it were added to the issue as a comment", res.Appended)
		}
		b.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(fmt.Sprintf(":information_source: Already filed as %s: %s.", formatting.IssueLink(res.Key, res.URL), what)))
		b.updateMessage(ctx, log, cb)
	case res.Outcome == filing.AlreadyFiled:
		log.Info("audit: jira click on filed alert", "issue", res.Key, "filed_by", res.By, "outcome", "already_filed")
		b.outcome("already_filed")
		by := ""
		if res.By != "" {
			by = " by <@" + res.By + ">"
		}
		b.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(fmt.Sprintf(":information_source: Already filed as %s%s.", formatting.IssueLink(res.Key, res.URL), by)))
		b.updateMessage(ctx, log, cb)
	case res.Outcome == filing.InProgress && res.Held != "":
		log.Info("audit: jira click on held alert", "held_by", res.By, "outcome", "in_progress")
		b.outcome("in_progress")
		b.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(fmt.Sprintf(":warning: An earlier attempt by <@%s> got no answer from Jira (%s). To avoid a duplicate, %s is held until %s UTC; after that a click searches Jira before filing.",
			res.By, formatting.CutEscaped(res.Held, 300), noun(v, "this alert", "(part of) this group"), res.HeldUntil.UTC().Format("15:04"))))
	case res.Outcome == filing.InProgress:
		// Someone else (maybe on another replica) is filing it: wait for
		// their result so this user is told the same key.
		if rec, ok := b.waitFiled(ctx, v.Tenant, v.AlertID); ok {
			log.Info("audit: jira click while filing", "issue", rec.Key, "filed_by", rec.By, "outcome", "already_filed")
			b.outcome("already_filed")
			b.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(fmt.Sprintf(":information_source: Already filed as %s by <@%s>.", formatting.IssueLink(rec.Key, rec.URL), rec.By)))
			return
		}
		log.Info("audit: jira click while filing", "filing_by", res.By, "outcome", "in_progress")
		b.outcome("in_progress")
		b.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(fmt.Sprintf(":hourglass_flowing_sand: <@%s> is filing %s right now; the message will show the issue in a moment.", res.By, noun(v, "this alert", "(part of) this group"))))
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
func (b *Bot) waitFiled(ctx context.Context, tenant, alertID string) (store.IssueRecord, bool) {
	ctx, cancel := context.WithTimeout(ctx, filingWait)
	defer cancel()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return store.IssueRecord{}, false
		case <-t.C:
			rec, ok, err := b.jira.Issues.Issue(ctx, tenant, alertID)
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

func (b *Bot) outcome(o string) {
	if b.jira.OnOutcome != nil {
		b.jira.OnOutcome(o)
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
func (b *Bot) updateMessage(ctx context.Context, log *slog.Logger, cb slack.InteractionCallback) {
	if cb.Container.IsEphemeral {
		b.redrawFiledCard(ctx, log, cb) // a detail card
		return
	}
	channel, ts := cb.Container.ChannelID, cb.Container.MessageTs
	if channel == "" {
		channel = cb.Channel.ID
	}
	if ts == "" {
		ts = cb.Message.Timestamp
	}
	if b.jira.Messages != nil && channel != "" && ts != "" && !cb.Container.IsEphemeral {
		err := b.jira.Messages.Message(ctx, channel, ts)
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
	mu := b.messageLock(channel + "/" + ts)
	mu.Lock()
	defer mu.Unlock()
	filed := map[string]formatting.Filed{}
	for key, v := range formatting.ButtonsOf(blocks) {
		rec, ok, err := b.jira.Issues.Issue(ctx, v.Tenant, v.AlertID)
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
	_, _, _, err := b.api.UpdateMessageContext(ctx, channel, ts,
		slack.MsgOptionText(cb.Message.Text, false), slack.MsgOptionBlocks(formatting.FiledBlocks(blocks, filed, version)...))
	if err != nil {
		log.Error("could not update the digest message", "error", err)
	}
}

func (b *Bot) messageLock(key string) *sync.Mutex {
	v, _ := b.msgLocks.LoadOrStore(key, &sync.Mutex{})
	return v.(*sync.Mutex)
}
