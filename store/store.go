// Package store keeps mcasbot's state: digest cursors, which alerts were
// posted where, and which alert became which Jira issue. SQLite (embedded,
// the default) and PostgreSQL (for several replicas) sit behind one
// interface and pass one conformance suite.
package store

import (
	"context"
	"errors"
	"time"
)

// Store is the state every part of the bot shares.
type Store interface {
	// Cursor is the newest alert time the digest has seen for a tenant.
	Cursor(ctx context.Context, tenant string) (time.Time, bool, error)
	// AdvanceCursor moves a tenant's cursor forward; it never moves back.
	AdvanceCursor(ctx context.Context, tenant string, t time.Time) error
	// DigestCursor reads a tenant's cursor with the API the digest read it
	// through and the floor it never reads below (issue #17).
	DigestCursor(ctx context.Context, tenant string) (DigestCursor, bool, error)
	// MoveCursor records that the digest read tenant through source up to
	// newest: the cursor moves forward only (a zero newest leaves it, and
	// makes no cursor for a tenant without one). When source differs from
	// the recorded one, the cursor as it stood becomes the floor: alert ids
	// differ between APIs, so what was read before must not be read again.
	MoveCursor(ctx context.Context, tenant, source string, newest time.Time) error

	// Posted returns which of ids were already posted for a tenant.
	Posted(ctx context.Context, tenant string, ids []string) (map[string]bool, error)
	// MarkPosted records alerts as posted in one Slack message.
	MarkPosted(ctx context.Context, ps []Posting) error
	// Message is where an alert's digest message lives.
	Message(ctx context.Context, tenant, alertID string) (Posting, bool, error)

	// ClaimIssue takes the right to file the issue for an alert. Exactly
	// one caller wins; the others learn who holds it or which key it got.
	ClaimIssue(ctx context.Context, tenant, alertID, user string) (Claim, error)
	// CompleteIssue records the filed issue of a claim.
	CompleteIssue(ctx context.Context, tenant, alertID, key, url string) error
	// FailIssue releases a claim after a failure so it can be tried again.
	FailIssue(ctx context.Context, tenant, alertID, reason string) error
	// NoteIssue records why a pending claim is held without releasing it
	// (Jira's answer was lost: the issue may exist). It frees itself after
	// StaleClaim.
	NoteIssue(ctx context.Context, tenant, alertID, note string) error
	// Issue reads an alert's issue record.
	Issue(ctx context.Context, tenant, alertID string) (IssueRecord, bool, error)

	// Digest messages: what each posted message shows, so that any change to
	// one of its alerts (filed, closed, Jira status) can redraw it.

	// SaveMessage stores (or replaces) a message's render input.
	SaveMessage(ctx context.Context, m MessageRecord) error
	// LoadMessage reads a message's render input.
	LoadMessage(ctx context.Context, channel, ts string) (MessageRecord, bool, error)

	// Alert closes (issue #8): one close per alert, and what it was, for
	// the messages and the weekly report.

	// ClaimClose takes the right to close an alert in MCAS, recording who
	// closes it and how (c's Tenant, AlertID, By, ByName, Classification,
	// Reason, Comment). Exactly one caller wins; the others learn the
	// holder's record (pending or closed). A rule of the bot (c.ByBot) never
	// takes an alert reopened since an earlier close: that is left to people.
	ClaimClose(ctx context.Context, c CloseRecord) (CloseClaim, error)
	// CompleteClose records that a claimed alert is closed: by the claim,
	// or (Elsewhere) already in MCAS, with MCAS's classification and user.
	CompleteClose(ctx context.Context, c CloseRecord) error
	// FailClose releases a close claim after a failure so it can be tried again.
	FailClose(ctx context.Context, tenant, alertID, reason string) error
	// AlertClose reads an alert's close record.
	AlertClose(ctx context.Context, tenant, alertID string) (CloseRecord, bool, error)
	// Closes lists the closes completed in [since, until), oldest first,
	// earlier closes of reopened alerts included.
	Closes(ctx context.Context, since, until time.Time) ([]CloseRecord, error)
	// ReopenClose records that a closed alert is open again in its tenant
	// (reopened in the portal): if the alert's record is still rec (closed,
	// rec.Generation), it becomes CloseReopened, claimable by the next close,
	// and the close is kept in the history. Exactly one caller gets true.
	ReopenClose(ctx context.Context, rec CloseRecord) (bool, error)
	// CloseHistory lists an alert's earlier closes, oldest first.
	CloseHistory(ctx context.Context, tenant, alertID string) ([]CloseRecord, error)
	// Correlation and grouped repeats (issue #11): what every alert the
	// digest saw carries, and which Jira issue each group of repeats got.

	// RememberFacts records facts of alerts; a fact already known for an
	// alert is kept once.
	RememberFacts(ctx context.Context, fs []AlertFact) error
	// FactsFor returns the facts with any of keys, of alerts at or after
	// since.
	FactsFor(ctx context.Context, keys []string, since time.Time) ([]AlertFact, error)
	// ForgetFacts deletes the facts of alerts older than before and says
	// how many went.
	ForgetFacts(ctx context.Context, before time.Time) (int64, error)
	// GroupIssues returns the issues filed for any of a tenant's group
	// signatures whose newest alert is at or after since, by signature.
	GroupIssues(ctx context.Context, tenant string, signatures []string, since time.Time) (map[string]GroupIssue, error)
	// SaveGroupIssue records a group's issue, or moves its newest alert
	// time forward.
	SaveGroupIssue(ctx context.Context, g GroupIssue) error

	// TryRun marks a scheduled run (e.g. "digest@2026-11-24T08:00Z") as
	// taken by owner; false when another took it and is alive or done.
	TryRun(ctx context.Context, run, owner string, lease time.Duration) (bool, error)
	// FinishRun marks a run done.
	FinishRun(ctx context.Context, run, owner string) error

	// Scheduled reports (issue #16): each period's report is sent once
	// across replicas, its attempts claimed one at a time.

	// ClaimReport takes the next attempt at period's report for owner
	// until lease passes: true when the period is new, released by the
	// last attempt, or left by a replica whose lease ended; false when it
	// was sent or given up, or another attempt holds it. The record says
	// what earlier attempts did (the message posted, the attempt number).
	ClaimReport(ctx context.Context, period, owner string, lease time.Duration) (ReportSend, bool, error)
	// ReportPosted records the message owner's attempt posted, so a later
	// attempt uploads only the chart; false when owner no longer holds it.
	ReportPosted(ctx context.Context, period, owner, channel, ts string) (bool, error)
	// FinishReport ends owner's attempt: ReportSent or ReportFailed for
	// good, ReportSending to release it for the next attempt (why says
	// what failed); false when owner no longer holds it.
	FinishReport(ctx context.Context, period, owner string, state ReportState, why string) (bool, error)
	// ReportSend reads a period's record.
	ReportSend(ctx context.Context, period string) (ReportSend, bool, error)

	// Lock takes a named lease for owner until ttl passes or Unlock; the
	// same owner may renew it. False when someone else holds it.
	Lock(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	// Unlock releases a lease held by owner.
	Unlock(ctx context.Context, name, owner string) error

	// Shared request budgets and cache (issue #10): with PostgreSQL every
	// replica draws on the same rows; with SQLite budgets stay in memory.
	//
	// ReserveSlot takes the next free slot of a budget of n requests in any
	// period and says how long until it starts.
	ReserveSlot(ctx context.Context, budget string, n int, per time.Duration) (Slot, error)
	// ReleaseSlot gives back a slot that will not be used.
	ReleaseSlot(ctx context.Context, slot Slot) error
	// CacheGet reads a cache entry that has not expired.
	CacheGet(ctx context.Context, key string) ([]byte, bool, error)
	// CachePut writes a cache entry that expires after ttl.
	CachePut(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Jira sync (issue #13): the last Jira state seen of each filed issue.

	// TrackedIssues lists the issues filed since since, with the Jira state
	// last seen of each (Jira.Key is empty when never seen).
	TrackedIssues(ctx context.Context, since time.Time) ([]TrackedIssue, error)
	// SaveJiraState records an issue's Jira state as changed: not yet shown
	// in its Slack message until MarkJiraDrawn.
	SaveJiraState(ctx context.Context, tenant, alertID string, st JiraState) error
	// MarkJiraDrawn records that the message shows the state saved at seen;
	// a state saved later stays undrawn.
	MarkJiraDrawn(ctx context.Context, tenant, alertID string, seen time.Time) error
	// JiraState reads an alert's issue state, for drawing its message.
	JiraState(ctx context.Context, tenant, alertID string) (JiraState, bool, error)

	// Weekly report (issue #13): what happened, recorded at the source.

	// RecordDigestRun records which tenants a digest run could read.
	RecordDigestRun(ctx context.Context, runs []TenantRun) error
	// Activity is what happened in [from, to).
	Activity(ctx context.Context, from, to time.Time) (Activity, error)

	// Bounded state (issue #19): what goes and what stays is in retention.go.

	// Prune deletes, in batches, what is older than before and that no
	// feature still needs (keep); a zero before keeps history and prunes
	// only expired operational rows (runs, leases, budget slots, cache).
	Prune(ctx context.Context, before time.Time, keep KeepRules, o PruneOptions) (PruneReport, error)
	// Size counts each table's rows and the bytes the database takes.
	Size(ctx context.Context) (StoreSize, error)

	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
	Close() error
}

// DigestCursor is where the digest stands with one tenant.
type DigestCursor struct {
	Newest time.Time // the newest alert time seen
	// Source is the API the tenant was read through ("mcas" for cursors
	// made before the bot knew of sources).
	Source string
	// Floor, when set, is the cursor at the tenant's last change of source:
	// the digest reads nothing older.
	Floor time.Time
}

// Posting says an alert was posted in a Slack message.
type Posting struct {
	Tenant, AlertID string
	Channel, TS     string
	PostedAt        time.Time
	// What the weekly report counts (issue #13); empty for alerts posted by
	// older versions.
	Severity, Title, Policy, User string
	IPs                           []string
	AlertTime                     time.Time
}

// MessageRecord is a posted message's render input (formatting.DigestView
// as JSON: the store does not interpret it).
type MessageRecord struct {
	Channel, TS string
	Body        []byte
	UpdatedAt   time.Time
}

// AlertFact is one thing an alert carries that can be looked up across
// tenants: Key is what it is looked up by ("ip:…", "acct:…", "name:…"),
// Value how the alert shows it.
type AlertFact struct {
	Key             string
	Tenant, AlertID string
	Value           string
	Severity        string
	AlertTime       time.Time
}

// GroupIssue is the Jira issue filed for a group of repeats (a tenant's
// alerts of one policy for one account or IP, named by Signature).
type GroupIssue struct {
	Tenant, Signature string
	Key, URL          string
	// Last is the newest alert filed under it.
	Last time.Time
	// The issue's state in Jira as the sync last saw it (empty until seen;
	// GroupIssues fills them): Category is new, indeterminate or done.
	Status, Category, Resolution string
}

// Done reports whether the sync saw the group's issue in Jira's done
// category: later repeats start a new issue instead of a comment nobody
// reads.
func (g GroupIssue) Done() bool { return g.Category == "done" }

// IssueState is the life of an alert's issue.
type IssueState string

const (
	IssuePending IssueState = "pending" // claimed, being filed
	IssueCreated IssueState = "created"
	IssueFailed  IssueState = "failed"
)

// IssueRecord is an alert's issue as the store knows it.
type IssueRecord struct {
	Tenant, AlertID string
	State           IssueState
	Key, URL        string
	By              string // Slack user who claimed or filed it
	ClaimedAt       time.Time
	FiledAt         time.Time
	Error           string
}

// Claim is the answer to ClaimIssue.
type Claim struct {
	Won    bool        // the caller must file the issue now
	Record IssueRecord // when !Won: the holder's record (pending or created)
	// TookOver is set when the caller won a stale or failed claim: an issue
	// may already exist, so look for it before creating one.
	TookOver bool
}

// CloseState is the life of an alert's close.
type CloseState string

const (
	ClosePending  CloseState = "pending" // claimed, MCAS being called
	CloseDone     CloseState = "closed"
	CloseFailed   CloseState = "failed"
	CloseReopened CloseState = "reopened" // closed, then open again in the tenant; the record shows the earlier close
)

// CloseRecord is an alert's close as the store knows it.
type CloseRecord struct {
	Tenant, AlertID string
	State           CloseState
	By, ByName      string // Slack user ID and name of who closed (or is closing) it
	// Classification is benign, false_positive or true_positive; for an
	// alert MCAS had closed already, MCAS's own resolution (e.g. "resolved").
	Classification string
	Reason         string // reason code ("confirmed_with_end_user"); "" for none
	Comment        string
	// Elsewhere: MCAS had the alert closed before this claim's call (in the
	// portal, by another tool); HandledBy is MCAS's handledByUser.
	Elsewhere bool
	HandledBy string
	ClaimedAt time.Time
	ClosedAt  time.Time
	Error     string
	// Generation counts the alert's closes before this record, each kept in
	// its history; ReopenedAt is when the bot found the last one reopened.
	Generation int
	ReopenedAt time.Time
}

// CloseClaim is the answer to ClaimClose.
type CloseClaim struct {
	Won    bool        // the caller must close the alert now
	Record CloseRecord // when !Won: the holder's record (pending or closed)
	// TookOver is set when the caller won a stale or failed claim.
	TookOver bool
}

// StaleClaim is how long a pending claim is honoured before another caller
// may take it over (a replica that died mid-filing).
const StaleClaim = 5 * time.Minute

// ErrUnavailable wraps failures to reach the database.
var ErrUnavailable = errors.New("state store unavailable")
