// Package messages redraws posted digest messages from the store. A click,
// a close or a Jira sync changes an alert's state in the store and then asks
// for the message to be redrawn: the message is rendered again from its
// stored view and the current state of every alert in it, never patched
// from whatever copy of the message the caller happened to hold. So updates
// from several replicas, in any order, converge on the latest state.
package messages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// Slack updates messages (*slack.Client).
type Slack interface {
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slack.MsgOption) (string, string, string, error)
}

// Redrawer redraws digest messages.
type Redrawer struct {
	Store  store.Store
	Slack  Slack
	Logger *slog.Logger
	// Owner names this process in the per-message lease.
	Owner string
	// LockWait bounds how long a redraw waits for another one of the same
	// message (default 15s).
	LockWait time.Duration
}

// ErrNoMessage means the store has no view of the message (posted before
// views were kept, or not a digest message).
var ErrNoMessage = errors.New("no stored view of this message")

// Save stores what a newly posted message shows.
func Save(ctx context.Context, st store.Store, channel, ts string, v formatting.DigestView) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return st.SaveMessage(ctx, store.MessageRecord{Channel: channel, TS: ts, Body: body})
}

// Alert redraws the digest message an alert was posted in.
func (r *Redrawer) Alert(ctx context.Context, tenant, alertID string) error {
	p, ok, err := r.Store.Message(ctx, tenant, alertID)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNoMessage
	}
	return r.Message(ctx, p.Channel, p.TS)
}

// Message redraws one message from its view and its alerts' current state.
// Redraws of one message take turns (a lease in the store), and each reads
// the state only once it has the lease, so the last update Slack gets shows
// every change committed before it.
func (r *Redrawer) Message(ctx context.Context, channel, ts string) error {
	lock := "message:" + channel + "/" + ts
	// Each redraw is its own lease holder, also within one process.
	owner := fmt.Sprintf("%s#%d", r.owner(), redraws.Add(1))
	if err := r.lock(ctx, lock, owner); err != nil {
		return err
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = r.Store.Unlock(uctx, lock, owner)
	}()
	rec, ok, err := r.Store.LoadMessage(ctx, channel, ts)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNoMessage
	}
	var v formatting.DigestView
	if err := json.Unmarshal(rec.Body, &v); err != nil {
		return fmt.Errorf("stored view of %s/%s: %w", channel, ts, err)
	}
	states, err := States(ctx, r.Store, v.Alerts)
	if err != nil {
		return err
	}
	msg := formatting.RenderDigest(v, states, strconv.FormatInt(time.Now().UnixNano(), 36))
	return r.update(ctx, channel, ts, msg)
}

// ErrNoGroup means the alert was not posted in a group of repeats.
var ErrNoGroup = errors.New("the alert is not in a group of repeats")

// Group reads the group of repeats an alert was posted in, and the group's
// alerts, from its message's stored view (issue #11).
func Group(ctx context.Context, st store.Store, tenant, alertID string) (formatting.DigestGroup, []source.Alert, error) {
	p, ok, err := st.Message(ctx, tenant, alertID)
	if err != nil {
		return formatting.DigestGroup{}, nil, err
	}
	if !ok {
		return formatting.DigestGroup{}, nil, ErrNoMessage
	}
	rec, ok, err := st.LoadMessage(ctx, p.Channel, p.TS)
	if err != nil {
		return formatting.DigestGroup{}, nil, err
	}
	if !ok {
		return formatting.DigestGroup{}, nil, ErrNoMessage
	}
	var v formatting.DigestView
	if err := json.Unmarshal(rec.Body, &v); err != nil {
		return formatting.DigestGroup{}, nil, fmt.Errorf("stored view of %s/%s: %w", p.Channel, p.TS, err)
	}
	g, alerts, ok := formatting.GroupOf(v, tenant, alertID)
	if !ok {
		return formatting.DigestGroup{}, nil, ErrNoGroup
	}
	return g, alerts, nil
}

// States collects what the store knows of each alert, by its card key.
func States(ctx context.Context, st store.Store, alerts []source.Alert) (map[string]formatting.AlertState, error) {
	out := map[string]formatting.AlertState{}
	for _, a := range alerts {
		var s formatting.AlertState
		rec, ok, err := st.Issue(ctx, a.Tenant, a.ID)
		if err != nil {
			return nil, err
		}
		if ok && rec.State == store.IssueCreated {
			s.Filed = &formatting.Filed{Key: rec.Key, URL: rec.URL, By: rec.By}
			if s.Jira, err = jiraStatus(ctx, st, a, rec.Key); err != nil {
				return nil, err
			}
		}
		c, ok, err := st.AlertClose(ctx, a.Tenant, a.ID)
		if err != nil {
			return nil, err
		}
		switch {
		case ok && c.State == store.CloseDone:
			s.Closed = formatting.ClosedFromStore(c)
		case ok && c.State == store.CloseReopened:
			s.Reopened = formatting.ClosedFromStore(c)
		}
		out[formatting.AlertKeyOf(a.Tenant, a.ID)] = s
	}
	return out, nil
}

// jiraStatus is the issue's state as the Jira sync last saw it (issue #13).
func jiraStatus(ctx context.Context, st store.Store, a source.Alert, key string) (*formatting.JiraStatus, error) {
	js, ok, err := st.JiraState(ctx, a.Tenant, a.ID)
	if err != nil || !ok || js.Key != key {
		return nil, err
	}
	return &formatting.JiraStatus{Status: js.Status, Category: js.Category, Resolution: js.Resolution,
		AssigneeSlack: js.AssigneeSlack, AssigneeName: js.AssigneeName, Gone: js.Gone}, nil
}

var redraws atomic.Int64

func (r *Redrawer) lock(ctx context.Context, name, owner string) error {
	wait := r.LockWait
	if wait <= 0 {
		wait = 15 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		ok, err := r.Store.Lock(ctx, name, owner, 30*time.Second)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("another redraw of this message has held it for %s", wait)
		}
		if err := httpx.Sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// update sends chat.update; Slack's 429 is waited out (a few times).
func (r *Redrawer) update(ctx context.Context, channel, ts string, msg *slack.WebhookMessage) error {
	for attempt := 0; ; attempt++ {
		_, _, _, err := r.Slack.UpdateMessageContext(ctx, channel, ts,
			slack.MsgOptionText(msg.Text, false), slack.MsgOptionBlocks(msg.Blocks.BlockSet...))
		var rl *slack.RateLimitedError
		if err == nil || !errors.As(err, &rl) || attempt == 3 {
			if err != nil {
				return fmt.Errorf("updating the message: %w", err)
			}
			return nil
		}
		r.logger().Warn("slack rate limit: waiting to update a message", "retry_after", rl.RetryAfter)
		if err := httpx.Sleep(ctx, max(rl.RetryAfter, time.Second)); err != nil {
			return err
		}
	}
}

func (r *Redrawer) owner() string {
	if r.Owner != "" {
		return r.Owner
	}
	return "mcasbot"
}

func (r *Redrawer) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}
