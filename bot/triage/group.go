package triage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/closing"
	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/bot/messages"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// Details and Close… of a group of repeats in the digest (issue #11). The
// menu carries the group's first alert; the group's alerts are read from
// the stored view of the message the menu is on.

// viewStore is where the stored views of digest messages and the close
// records are read.
func (f *Flow) viewStore() Store {
	if f.cfg.Store != nil {
		return f.cfg.Store
	}
	return f.host.Views()
}

// groupAt reads the group an alert leads from the stored view of the
// message at channel/ts.
func (f *Flow) groupAt(ctx context.Context, channel, ts, tenant, alertID string) (formatting.DigestGroup, []source.Alert, error) {
	st := f.viewStore()
	switch {
	case st == nil:
		return formatting.DigestGroup{}, nil, errors.New("this mcasbot keeps no digest messages to read groups from")
	case channel == "" || ts == "":
		return formatting.DigestGroup{}, nil, errors.New("the menu's message is unknown")
	}
	rec, ok, err := st.LoadMessage(ctx, channel, ts)
	if err != nil {
		return formatting.DigestGroup{}, nil, fmt.Errorf("reading the message's stored view: %w", err)
	}
	if !ok {
		return formatting.DigestGroup{}, nil, messages.ErrNoMessage
	}
	var v formatting.DigestView
	if err := json.Unmarshal(rec.Body, &v); err != nil {
		return formatting.DigestGroup{}, nil, fmt.Errorf("stored view of %s/%s: %w", channel, ts, err)
	}
	g, as, ok := formatting.GroupOf(v, tenant, alertID)
	if !ok {
		return formatting.DigestGroup{}, nil, messages.ErrNoGroup
	}
	return g, as, nil
}

// groupCloses reads the close records of a group's alerts, by card key.
func (f *Flow) groupCloses(ctx context.Context, as []source.Alert) (map[string]formatting.AlertState, error) {
	out := map[string]formatting.AlertState{}
	st := f.viewStore()
	for _, a := range as {
		rec, ok, err := st.AlertClose(ctx, a.Tenant, a.ID)
		if err != nil {
			return nil, err
		}
		if ok && rec.State == store.CloseDone {
			out[formatting.AlertKeyOf(a.Tenant, a.ID)] = formatting.AlertState{Closed: formatting.ClosedFromStore(rec)}
		}
	}
	return out, nil
}

func messageOf(cb slack.InteractionCallback) (channel, ts string) {
	channel = cb.Container.ChannelID
	if channel == "" {
		channel = cb.Channel.ID
	}
	return channel, cb.Container.MessageTs
}

// groupDetails lists a group's alerts, each openable from a Details for…
// menu, as a new ephemeral message.
func (f *Flow) groupDetails(ctx context.Context, log *slog.Logger, cb slack.InteractionCallback, v formatting.TriageValue) {
	channel, ts := messageOf(cb)
	g, as, err := f.groupAt(ctx, channel, ts, v.Tenant, v.AlertID)
	if err != nil {
		log.Warn("could not read the group's alerts", "error", err)
		f.host.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(":x: Could not list this group's alerts: "+formatting.CutEscaped(err.Error(), 300)))
		return
	}
	states, err := f.groupCloses(ctx, as)
	if err != nil {
		log.Warn("could not read the group's closes; listing it without them", "error", err)
	}
	msg := formatting.GroupDetails(g, as, states)
	msg.ReplaceOriginal = false
	f.host.Reply(ctx, cb.ResponseURL, msg)
	log.Info("group details shown", "alerts", len(as))
}

// openGroupClose opens the Close… form for a group, or says at once that
// nothing in it is left to close.
func (f *Flow) openGroupClose(ctx context.Context, log *slog.Logger, cb slack.InteractionCallback, t formatting.CloseTarget) {
	g, as, err := f.groupAt(ctx, t.Channel, t.TS, t.Tenant, t.AlertID)
	if err != nil {
		log.Error("could not read the group's alerts", "error", err)
		f.host.Reply(context.Background(), cb.ResponseURL, formatting.Ephemeral(":x: Could not read this group's alerts ("+formatting.CutEscaped(err.Error(), 300)+
			"), so Close… cannot tell what to close. Pick them in Details to close them one by one."))
		return
	}
	states, err := f.groupCloses(ctx, as)
	if err != nil {
		log.Warn("could not read the group's closes; the submission checks them again", "error", err)
	}
	var closed []formatting.Closed
	for _, a := range as {
		if c := states[formatting.AlertKeyOf(a.Tenant, a.ID)].Closed; c != nil {
			closed = append(closed, *c)
		}
	}
	if len(closed) == len(as) {
		log.Info("audit: alert already closed", "alerts", len(as), "outcome", "already_closed")
		f.host.Reply(ctx, cb.ResponseURL, formatting.Ephemeral(formatting.GroupAlreadyClosedText(closed, len(as))))
		return
	}
	t.Group, t.Open, t.Title = len(as), len(as)-len(closed), formatting.GroupTitle(g, as)
	if _, err := f.host.API().OpenViewContext(ctx, cb.TriggerID, formatting.CloseModal(t, "")); err != nil {
		log.Error("could not open the Close… form", "error", err)
		f.host.Reply(context.Background(), cb.ResponseURL, formatting.Ephemeral(":x: Could not open the Close… form: "+formatting.CutEscaped(err.Error(), 300)+". Press Close… again."))
		return
	}
	log.Info("close form opened", "alerts", len(as), "open", t.Open)
}

// closeGroup runs a submitted close of a group: every open alert of it,
// with one MCAS call per 100; then the message is redrawn and the analyst
// told.
func (f *Flow) closeGroup(ctx context.Context, log *slog.Logger, user slack.User, form formatting.CloseForm) {
	t := form.Target
	log = log.With("classification", string(form.Classification), "reason", form.Reason)
	_, as, err := f.groupAt(ctx, t.Channel, t.TS, t.Tenant, t.AlertID)
	if err != nil {
		log.Error("audit: alert close failed", "error", err, "outcome", string(closing.Failed))
		f.closeOutcome(string(closing.Failed))
		f.host.Reply(ctx, t.ResponseURL, formatting.Ephemeral(":x: Could not close the group: its alerts could not be read ("+formatting.CutEscaped(err.Error(), 300)+
			"). Nothing changed; Close… on each alert's card still works."))
		return
	}
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	res, err := f.cfg.Closer.CloseGroup(ctx, closing.GroupRequest{Tenant: t.Tenant, AlertIDs: ids, By: closing.Analyst{ID: user.ID, Name: userName(user)},
		Classification: form.Classification, Reason: form.Reason, Comment: form.Comment})
	f.closeOutcome(string(res.Outcome))
	auditGroupClose(log, ids, form, res, err)
	if len(res.Closed) > 0 || len(res.Already) > 0 {
		f.host.Runner().ForgetAlerts(t.Tenant)
		if f.cfg.Messages != nil {
			if err := f.cfg.Messages.Message(ctx, t.Channel, t.TS); err != nil && !errors.Is(err, messages.ErrNoMessage) {
				log.Error("could not redraw the digest message", "error", err)
			}
		}
	}
	f.host.Reply(ctx, t.ResponseURL, formatting.Ephemeral(groupCloseReply(res, err, len(as), t.Tenant)))
}

// auditGroupClose writes the audit lines of a group close: one per alert,
// as for single closes, each naming the group and how many close requests
// it took; then one line for the group.
func auditGroupClose(log *slog.Logger, ids []string, f formatting.CloseForm, res closing.GroupResult, err error) {
	var keys []string
	for _, is := range res.Issues {
		keys = append(keys, is.Key)
	}
	for _, rec := range res.Closed {
		log.Info("audit: alert closed", "alert", rec.AlertID, "comment_len", len(f.Comment), "jira_issue", strings.Join(keys, ","),
			"jira_commented", len(res.Commented) > 0, "requests", res.Requests, "outcome", string(closing.Closed))
	}
	for _, rec := range res.Already {
		log.Info("audit: alert already closed", "alert", rec.AlertID, "closed_by", rec.By, "elsewhere", rec.Elsewhere, "handled_by", rec.HandledBy,
			"outcome", string(closing.AlreadyClosed))
	}
	for _, fl := range res.Failed {
		log.Error("audit: alert close failed", "alert", fl.AlertID, "error", fl.Err, "requests", res.Requests, "outcome", string(closing.Failed))
	}
	if len(res.Closed)+len(res.Already)+len(res.Failed) > 0 {
		log.Info("audit: alert group closed", "alerts", len(ids), "closed", len(res.Closed), "already_closed", len(res.Already),
			"failed", len(res.Failed), "requests", res.Requests, "outcome", string(res.Outcome))
		return
	}
	// Nothing was decided per alert: the same line for each of them.
	for _, id := range ids {
		switch {
		case res.Outcome == closing.Refused:
			log.Warn("audit: alert close refused", "alert", id, "error", err, "outcome", string(res.Outcome))
		case err != nil:
			log.Error("audit: alert close failed", "alert", id, "error", err, "outcome", string(res.Outcome))
		case res.Outcome == closing.InProgress:
			log.Info("audit: alert close in progress", "alert", id, "closing_by", res.Holder.By, "outcome", string(res.Outcome))
		}
	}
}

// groupCloseReply tells the analyst what their group close did.
func groupCloseReply(res closing.GroupResult, err error, n int, tenant string) string {
	if err != nil && len(res.Closed) == 0 {
		msg := ":x: Could not close the alerts: " + formatting.CutEscaped(err.Error(), 1500)
		if !errors.Is(err, closing.ErrStoreDown) {
			msg += "\nNothing changed and Close… stays; press it again once the cause is fixed."
		}
		return msg
	}
	var lines []string
	switch res.Outcome {
	case closing.InProgress:
		return fmt.Sprintf(":hourglass_flowing_sand: <@%s> is closing alerts of this group as %s right now; the message will show it in a moment.",
			slackID(res.Holder.By), source.Classification(res.Holder.Classification).Label())
	case closing.AlreadyClosed:
		lines = append(lines, formatting.GroupAlreadyClosedText(closes(res.Already), n))
	default:
		c := formatting.ClosedFromStore(res.Closed[0])
		c.Comment = ""
		which := fmt.Sprintf("%d of the group's %d alerts", len(res.Closed), n)
		if len(res.Closed) == n {
			which = fmt.Sprintf("all %d alerts of the group", n)
		}
		calls := "one call"
		if res.Requests > 1 {
			calls = fmt.Sprintf("%d calls", res.Requests)
		}
		lines = append(lines, fmt.Sprintf("%s: %s in %s, with %s to MCAS.", formatting.ClosedText(*c), which, formatting.CutEscaped(tenant, 40), calls))
		if len(res.Already) > 0 {
			lines = append(lines, fmt.Sprintf(":information_source: Left out: %d already %s.", len(res.Already), formatting.ClosedSummary(closes(res.Already))))
		}
	}
	if len(res.Failed) > 0 {
		lines = append(lines, fmt.Sprintf(":warning: Could not close %d of them: %s. Close… stays for them; press it again once the cause is fixed.",
			len(res.Failed), failuresText(res.Failed)))
	}
	urls := map[string]string{}
	for _, is := range res.Issues {
		urls[is.Key] = is.URL
	}
	var commented []string
	for _, k := range res.Commented {
		commented = append(commented, formatting.IssueLink(k, urls[k]))
	}
	if len(commented) > 0 {
		lines = append(lines, "Added a comment to "+strings.Join(commented, ", ")+".")
	}
	if res.CommentErr != nil {
		lines = append(lines, ":warning: The alerts are closed, but commenting on Jira failed: "+formatting.CutEscaped(res.CommentErr.Error(), 500)+
			". Add it by hand if the issue needs it.")
	}
	return strings.Join(lines, "\n")
}

func closes(recs []store.CloseRecord) []formatting.Closed {
	out := make([]formatting.Closed, len(recs))
	for i, r := range recs {
		out[i] = *formatting.ClosedFromStore(r)
	}
	return out
}

// failuresText says which alerts a group close could not close, by
// reason: "100 as MCAS refused … (`a`, `b`, `c` and 97 more); 50 not
// sent, …".
func failuresText(fs []closing.AlertFailure) string {
	var order []string
	byWhy := map[string][]string{}
	for _, fl := range fs {
		why := fl.Err.Error()
		if _, seen := byWhy[why]; !seen {
			order = append(order, why)
		}
		byWhy[why] = append(byWhy[why], fl.AlertID)
	}
	var parts []string
	for i, why := range order {
		if i == 3 {
			rest := 0
			for _, w := range order[3:] {
				rest += len(byWhy[w])
			}
			parts = append(parts, fmt.Sprintf("%d for other reasons", rest))
			break
		}
		ids := byWhy[why]
		var shown []string
		for j, id := range ids {
			if j == 3 {
				shown = append(shown, fmt.Sprintf("and %d more", len(ids)-3))
				break
			}
			shown = append(shown, "`"+formatting.Escape(id)+"`")
		}
		parts = append(parts, fmt.Sprintf("%d: %s (%s)", len(ids), formatting.CutEscaped(why, 300), strings.Join(shown, ", ")))
	}
	return strings.Join(parts, "; ")
}
