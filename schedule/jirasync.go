package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/patrickmn/go-cache"
	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/messages"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/store"
)

// JiraStatuses reads issues' states (*jira.Client).
type JiraStatuses interface {
	ReadStatuses(ctx context.Context, keys []string) (jira.Statuses, error)
}

// SlackUsers finds Slack users by e-mail (*slack.Client; users:read.email).
type SlackUsers interface {
	GetUserByEmailContext(ctx context.Context, email string) (*slack.User, error)
}

// Redraw redraws a digest message from the store (*messages.Redrawer).
type Redraw interface {
	Message(ctx context.Context, channel, ts string) error
}

// DoneCloser closes the MCAS alerts of an issue in Jira's done category
// (JIRA_DONE_CLOSES_ALERT) through issue #8's one close per alert
// (*closing.JiraDone): the alerts given are one tenant's tracked under one
// issue (a group's, or one alert), closed with one MCAS call. changed
// lists the alerts whose close record changed, so their messages are
// redrawn; an error says the others failed, tried again by the next sync
// while the issue stays done.
type DoneCloser interface {
	CloseDone(ctx context.Context, tenant, key string, alertIDs []string, now store.JiraState) (changed []string, err error)
}

// JiraSync mirrors the Jira status of filed issues into their digest
// messages: every Interval, one replica reads the status, assignee and
// resolution of every issue filed in the last Days, keeps them in the
// store, and redraws only the messages whose issues changed.
type JiraSync struct {
	Store  store.Store
	Jira   JiraStatuses
	Users  SlackUsers // nil: assignees show their Jira names
	Redraw Redraw
	// Closer, when set, closes the alerts whose issues reached done.
	Closer DoneCloser
	Logger *slog.Logger
	Owner  string
	// Interval between syncs (default 5m).
	Interval time.Duration
	// Days back whose filed issues are followed (default 14).
	Days int
	// UpdateInterval paces message updates (default 1s, like the digest).
	UpdateInterval time.Duration
	Now            func() time.Time
	// OnRun and OnChanges, when set, count runs by outcome and changes.
	OnRun     func(outcome string)
	OnChanges func(n int)

	once     sync.Once
	mentions *cache.Cache
	noLookup atomic.Bool // the token lacks users:read.email
	stop     context.CancelFunc
	done     chan struct{}
}

// SyncReport is what one sync did.
type SyncReport struct {
	Tracked  int // issues filed in the window
	Searched int // keys read from Jira
	Searches int // Jira searches made
	Changed  int // issues whose state changed
	Gone     int // of which deleted in Jira
	Redrawn  int // messages updated
	Skipped  string
	// With a Closer, counted in alerts: those of done issues closed (or
	// found closed in MCAS), those whose close failed, and those left for
	// the next sync after their tenant's first failure in this one.
	Closed, CloseFailed, CloseDeferred int
}

const syncLock = "jira-sync"

func (s *JiraSync) defaults() {
	s.once.Do(func() {
		if s.Interval <= 0 {
			s.Interval = 5 * time.Minute
		}
		if s.Days <= 0 {
			s.Days = 14
		}
		if s.UpdateInterval <= 0 {
			s.UpdateInterval = time.Second
		}
		if s.Now == nil {
			s.Now = func() time.Time { return time.Now().UTC() }
		}
		if s.Logger == nil {
			s.Logger = slog.New(slog.DiscardHandler)
		}
		if s.Owner == "" {
			s.Owner = DefaultOwner()
		}
		s.mentions = cache.New(24*time.Hour, time.Hour)
	})
}

// Start syncs on every multiple of Interval until ctx is done or Stop.
// Every replica ticks; the store lease lets one of them sync per tick.
func (s *JiraSync) Start(ctx context.Context) {
	s.defaults()
	ctx, s.stop = context.WithCancel(ctx)
	s.done = make(chan struct{})
	s.Logger.Info("jira sync scheduled", "every", s.Interval, "days", s.Days)
	go func() {
		defer close(s.done)
		for {
			next := time.Now().Truncate(s.Interval).Add(s.Interval)
			if err := httpx.Sleep(ctx, time.Until(next)); err != nil {
				return
			}
			s.tick(ctx)
		}
	}()
}

// Stop stops scheduling and waits for a running sync.
func (s *JiraSync) Stop() {
	if s.stop != nil {
		s.stop()
		<-s.done
	}
}

func (s *JiraSync) tick(ctx context.Context) {
	rep, err := s.Run(ctx)
	switch {
	case errors.Is(err, store.ErrUnavailable):
		s.Logger.Error("jira sync not run: state store unreachable", "error", err)
		s.outcome("store_error")
	case err != nil:
		s.Logger.Error("jira sync failed", "error", err, "changed", rep.Changed, "redrawn", rep.Redrawn)
		s.outcome("failed")
	case rep.Skipped != "":
		s.outcome("skipped")
	default:
		s.Logger.Info("jira sync done", "tracked", rep.Tracked, "searches", rep.Searches, "changed", rep.Changed, "gone", rep.Gone, "redrawn", rep.Redrawn,
			"alerts_closed", rep.Closed, "closes_failed", rep.CloseFailed)
		s.outcome("ok")
	}
}

func (s *JiraSync) outcome(o string) {
	if s.OnRun != nil {
		s.OnRun(o)
	}
}

// Run syncs once now, unless another replica synced this interval or is
// syncing. What it could read is kept and drawn even when Jira fails
// part-way; messages whose update failed are redrawn by the next sync.
func (s *JiraSync) Run(ctx context.Context) (SyncReport, error) {
	s.defaults()
	var rep SyncReport
	ok, err := s.Store.Lock(ctx, syncLock, s.Owner, 2*time.Minute)
	if err != nil {
		return rep, fmt.Errorf("jira sync lock: %w", err)
	}
	if !ok {
		rep.Skipped = "synced by another replica this interval"
		return rep, nil
	}
	stop := keepLease(ctx, s.Store, syncLock, s.Owner, 2*time.Minute, s.Logger)
	defer func() {
		stop()
		// Hold the lease to the end of this interval, so the other replicas'
		// ticks find it taken: one sync per interval.
		until := time.Until(time.Now().Truncate(s.Interval).Add(s.Interval)) - time.Second
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if until > 0 {
			_, _ = s.Store.Lock(lctx, syncLock, s.Owner, until)
		} else {
			_ = s.Store.Unlock(lctx, syncLock, s.Owner)
		}
	}()

	tracked, err := s.Store.TrackedIssues(ctx, s.Now().AddDate(0, 0, -s.Days))
	if err != nil {
		return rep, err
	}
	rep.Tracked = len(tracked)
	var keys []string
	var pending []store.TrackedIssue // changed before but not yet drawn
	for _, t := range tracked {
		if !t.Jira.Gone {
			keys = append(keys, t.Key)
		} else if !t.Jira.Drawn {
			pending = append(pending, t)
		}
	}
	rep.Searched = len(keys)
	var readErr error
	var found jira.Statuses
	if len(keys) > 0 {
		found, readErr = s.Jira.ReadStatuses(ctx, keys)
		rep.Searches = found.Searches
		if readErr != nil {
			s.Logger.Warn("jira sync: could not read every issue; the rest waits for the next sync", "error", readErr, "read", len(found.Found))
		}
	}
	gone := map[string]bool{}
	for _, k := range found.Gone {
		gone[k] = true
	}
	var changed []store.TrackedIssue
	read := map[alertRef]store.JiraState{} // as stored after this sync, for the issues Jira returned
	for _, t := range tracked {
		st, seen := found.Found[t.Key]
		if t.Jira.Gone {
			continue
		}
		if !seen && !gone[t.Key] {
			// Not in Jira's index yet, or not read this time.
			if t.Jira.Key == t.Key && !t.Jira.Drawn {
				pending = append(pending, t)
			}
			continue
		}
		next := store.JiraState{Key: t.Key, Gone: gone[t.Key], SeenAt: s.Now()}
		if !next.Gone {
			next.Status, next.Category, next.Resolution = st.Name, st.Category, st.Resolution
			if a := st.Assignee; a != nil {
				next.AssigneeID, next.AssigneeName = a.ID(), a.DisplayName
				if next.AssigneeID == t.Jira.AssigneeID && t.Jira.AssigneeSlack != "" {
					next.AssigneeSlack = t.Jira.AssigneeSlack
				} else {
					next.AssigneeSlack = s.mention(ctx, a.Email)
				}
			}
		}
		first := t.Jira.Key != t.Key
		if !first && next.Same(t.Jira) {
			read[alertRef{t.Tenant, t.AlertID}] = t.Jira
			if !t.Jira.Drawn {
				pending = append(pending, t)
			}
			continue
		}
		// An issue first seen as filed (To Do, nobody on it) is what its
		// message already says: recorded, not redrawn.
		next.Drawn = first && !next.Gone && next.Category == jira.CategoryNew && next.AssigneeID == ""
		if err := s.Store.SaveJiraState(ctx, t.Tenant, t.AlertID, next); err != nil {
			return rep, err
		}
		read[alertRef{t.Tenant, t.AlertID}] = next
		if next.Drawn {
			continue
		}
		rep.Changed++
		if next.Gone {
			rep.Gone++
		}
		s.Logger.Info("audit: jira status synced", "tenant", t.Tenant, "alert", t.AlertID, "issue", t.Key,
			"from", describeState(t.Jira), "to", describeState(next), "outcome", map[bool]string{true: "gone", false: "changed"}[next.Gone])
		t.Jira = next
		changed = append(changed, t)
	}
	if s.OnChanges != nil && rep.Changed > 0 {
		s.OnChanges(rep.Changed)
	}
	draw := append(changed, pending...)
	if s.Closer != nil {
		draw = appendNew(draw, s.closeDone(ctx, tracked, read, &rep))
	}
	n, err := s.redraw(ctx, draw)
	rep.Redrawn = n
	if err != nil {
		return rep, err
	}
	return rep, readErr
}

// closeDone closes the alerts of the issues Jira returned as done whose
// alerts are not closed: newly done ones, and those whose close failed
// before, tried again once per sync while their issue stays done. The
// alerts of one issue in one tenant (a group of repeats filed as one issue)
// are closed together, with one MCAS call. An alert someone is closing
// right now is left to them. After a tenant's first failure its other
// closes wait for the next sync (the least recently tried go first), so
// credentials that cannot close, or an MCAS that is down, cost one attempt
// per sync rather than the tenant's request budget. It returns the issues
// whose messages now show a close.
func (s *JiraSync) closeDone(ctx context.Context, tracked []store.TrackedIssue, read map[alertRef]store.JiraState, rep *SyncReport) []store.TrackedIssue {
	var todo []store.TrackedIssue
	for _, t := range tracked {
		st, ok := read[alertRef{t.Tenant, t.AlertID}]
		switch {
		case !ok || st.Gone || st.Category != jira.CategoryDone, t.CloseState == store.CloseDone:
			continue
		case t.CloseState == store.ClosePending && s.Now().Sub(t.CloseClaimedAt) < store.StaleClaim:
			continue // being closed from Slack right now
		}
		t.Jira = st
		todo = append(todo, t)
	}
	sort.SliceStable(todo, func(i, j int) bool { return todo[i].CloseClaimedAt.Before(todo[j].CloseClaimedAt) })
	// One close per issue and tenant, in the order of its least recently
	// tried alert.
	type issueRef struct{ tenant, key string }
	var order []issueRef
	byIssue := map[issueRef][]store.TrackedIssue{}
	for _, t := range todo {
		r := issueRef{t.Tenant, t.Key}
		if _, seen := byIssue[r]; !seen {
			order = append(order, r)
		}
		byIssue[r] = append(byIssue[r], t)
	}
	failed := map[string]bool{}
	var closed []store.TrackedIssue
	for _, r := range order {
		ts := byIssue[r]
		if failed[r.tenant] {
			rep.CloseDeferred += len(ts)
			continue
		}
		ids := make([]string, len(ts))
		for i, t := range ts {
			ids[i] = t.AlertID
		}
		changed, err := s.Closer.CloseDone(ctx, r.tenant, r.key, ids, ts[0].Jira)
		if err != nil {
			rep.CloseFailed += len(ts) - len(changed)
			failed[r.tenant] = true
			s.Logger.Warn("jira sync: could not close the alerts of a done issue; the next sync tries again", "tenant", r.tenant,
				"issue", r.key, "alerts", len(ts), "closed", len(changed), "error", err)
		}
		done := map[string]bool{}
		for _, id := range changed {
			done[id] = true
		}
		for _, t := range ts {
			if !done[t.AlertID] {
				continue
			}
			rep.Closed++
			closed = append(closed, t)
			if t.Jira.Drawn {
				// Undrawn until its message shows the close: a failed
				// redraw is tried again by the next sync.
				t.Jira.Drawn = false
				if err := s.Store.SaveJiraState(ctx, t.Tenant, t.AlertID, t.Jira); err != nil {
					s.Logger.Warn("jira sync: could not record a message to redraw", "tenant", t.Tenant, "alert", t.AlertID, "error", err)
				}
			}
		}
	}
	if rep.CloseDeferred > 0 {
		s.Logger.Warn("jira sync: closes of done issues left for the next sync after their tenant's close failed", "deferred", rep.CloseDeferred)
	}
	return closed
}

// alertRef is a tenant's alert (a group's issue is tracked for each of
// its alerts).
type alertRef struct{ tenant, alertID string }

// appendNew appends the issues of more whose alerts are not in list yet.
func appendNew(list, more []store.TrackedIssue) []store.TrackedIssue {
	in := map[alertRef]bool{}
	for _, t := range list {
		in[alertRef{t.Tenant, t.AlertID}] = true
	}
	for _, t := range more {
		if !in[alertRef{t.Tenant, t.AlertID}] {
			list = append(list, t)
		}
	}
	return list
}

// redraw updates each message holding a changed issue once, paced, and
// marks the states it drew.
func (s *JiraSync) redraw(ctx context.Context, changed []store.TrackedIssue) (int, error) {
	type msg struct{ channel, ts string }
	var order []msg
	by := map[msg][]store.TrackedIssue{}
	for _, t := range changed {
		p, ok, err := s.Store.Message(ctx, t.Tenant, t.AlertID)
		if err != nil {
			return 0, err
		}
		if !ok {
			// Filed from a message the store does not know: nothing to draw.
			_ = s.Store.MarkJiraDrawn(ctx, t.Tenant, t.AlertID, t.Jira.SeenAt)
			continue
		}
		m := msg{p.Channel, p.TS}
		if _, seen := by[m]; !seen {
			order = append(order, m)
		}
		by[m] = append(by[m], t)
	}
	n := 0
	for i, m := range order {
		if i > 0 {
			if err := httpx.Sleep(ctx, s.UpdateInterval); err != nil {
				return n, err
			}
		}
		err := s.Redraw.Message(ctx, m.channel, m.ts)
		switch {
		case errors.Is(err, messages.ErrNoMessage):
			s.Logger.Info("jira sync: message posted before views were kept cannot show the status", "channel", m.channel, "ts", m.ts)
		case err != nil:
			// Left undrawn: the next sync tries again.
			s.Logger.Warn("jira sync: could not update the digest message", "channel", m.channel, "ts", m.ts, "error", err)
			continue
		default:
			n++
		}
		for _, t := range by[m] {
			if err := s.Store.MarkJiraDrawn(ctx, t.Tenant, t.AlertID, t.Jira.SeenAt); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// mention finds the Slack user with the assignee's e-mail; "" when there
// is none, the e-mail is hidden, or the token lacks users:read.email.
func (s *JiraSync) mention(ctx context.Context, email string) string {
	email = strings.ToLower(strings.TrimSpace(email))
	if s.Users == nil || email == "" || s.noLookup.Load() {
		return ""
	}
	if v, ok := s.mentions.Get(email); ok {
		return v.(string)
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u, err := s.Users.GetUserByEmailContext(lctx, email)
	var se slack.SlackErrorResponse
	switch {
	case err == nil && u != nil && !u.Deleted:
		s.mentions.Set(email, u.ID, cache.DefaultExpiration)
		return u.ID
	case err == nil, errors.As(err, &se) && se.Err == "users_not_found":
		s.mentions.Set(email, "", 6*time.Hour)
	case errors.As(err, &se) && (se.Err == "missing_scope" || se.Err == "not_allowed_token_type"):
		if !s.noLookup.Swap(true) {
			s.Logger.Warn("users.lookupByEmail refused (" + se.Err + "): add the users:read.email scope to mention Jira assignees; their Jira names are shown meanwhile")
		}
	default:
		s.Logger.Warn("users.lookupByEmail failed; showing the Jira name", "error", err)
	}
	return ""
}

func describeState(s store.JiraState) string {
	switch {
	case s.Key == "":
		return "unseen"
	case s.Gone:
		return "gone"
	}
	out := s.Status
	if s.Resolution != "" {
		out += " (" + s.Resolution + ")"
	}
	if s.AssigneeID != "" {
		out += ", assigned to " + s.AssigneeID
	}
	return out
}

// keepLease renews a lease until the returned stop is called.
func keepLease(ctx context.Context, st store.Store, name, owner string, ttl time.Duration, log *slog.Logger) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if ok, err := st.Lock(ctx, name, owner, ttl); err != nil || !ok {
					log.Warn("could not renew a lease", "lease", name, "error", err, "held", ok)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}
