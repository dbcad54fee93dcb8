// Package closing closes an MCAS alert from Slack exactly once: it claims
// the alert in the store, calls the close endpoint of its classification,
// re-reads the alert when MCAS says it is not open, comments on the
// alert's Jira issue, and records who closed it, how and when. An alert
// the store has closed but its tenant shows open again (reopened in the
// portal) is reopened in the store first, once, and closed anew.
package closing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/tenants"
)

// Store is what closing needs from store.Store.
type Store interface {
	ClaimClose(ctx context.Context, c store.CloseRecord) (store.CloseClaim, error)
	CompleteClose(ctx context.Context, c store.CloseRecord) error
	FailClose(ctx context.Context, tenant, alertID, reason string) error
	AlertClose(ctx context.Context, tenant, alertID string) (store.CloseRecord, bool, error)
	ReopenClose(ctx context.Context, rec store.CloseRecord) (bool, error)
	Issue(ctx context.Context, tenant, alertID string) (store.IssueRecord, bool, error)
}

// Jira comments on issues (*jira.Client); nil when Jira is off.
type Jira interface {
	Comment(ctx context.Context, key, body string) (string, error)
}

// Service closes alerts.
type Service struct {
	Store   Store
	Tenants *tenants.Directory
	Jira    Jira
	Logger  *slog.Logger
	Now     func() time.Time
	// Wait bounds how long a close that lost the claim waits for the
	// winner's outcome (default 20s), so its analyst is told the result.
	Wait time.Duration
	// ReopenAfter is how old a close must be before its alert read as open
	// counts as reopened (default 1m): a read just after a close may lag it.
	ReopenAfter time.Duration
}

// Analyst is who closes, as Slack knows them.
type Analyst struct{ ID, Name string }

// Request is one analyst's close.
type Request struct {
	Tenant, AlertID string
	By              Analyst
	Classification  source.Classification
	Reason          string // reason code; "" for true positive
	Comment         string
}

// Outcome says what happened to a close.
type Outcome string

const (
	Closed        Outcome = "closed"         // this call closed the alert
	AlreadyClosed Outcome = "already_closed" // closed before, from Slack or in MCAS (Record.Elsewhere)
	InProgress    Outcome = "in_progress"    // another analyst is closing it right now
	Refused       Outcome = "refused"        // bad request, unknown tenant, or the store is down
	Failed        Outcome = "failed"         // MCAS said no or did not answer; nothing changed
	// LeftToAnalysts: a rule of the bot (the Jira sync) does not close an
	// alert reopened in the portal since an earlier close.
	LeftToAnalysts Outcome = "left_to_analysts"
)

// Result of Close.
type Result struct {
	Outcome Outcome
	// Record is the close as the store has it: ours, the earlier one, or
	// (InProgress) the other analyst's claim.
	Record store.CloseRecord
	// Alert is the alert as MCAS has it, when it was re-read.
	Alert *source.Alert
	// Issue is the alert's Jira issue, if it has one; Commented says the
	// close was added to it as a comment, CommentErr why not.
	Issue      *store.IssueRecord
	Commented  bool
	CommentErr error
	// Reopened is the earlier close of an alert this call found open again
	// in its tenant and reopened in the store: its message shows it open,
	// whatever became of the close.
	Reopened *store.CloseRecord
}

// ErrStoreDown is returned when the claim cannot be taken: closing
// without it could close twice, so it is refused.
var ErrStoreDown = errors.New("the state store is unreachable, so alerts cannot be closed safely right now; try again in a minute")

// clockSkew is how far MCAS's resolveTime may lag our clock and still be
// our own close (a retried call whose first answer was lost).
const clockSkew = 2 * time.Minute

// Close closes one alert at most once, however many analysts, clicks and
// replicas try.
func (s *Service) Close(ctx context.Context, req Request) (Result, error) {
	log := httpx.LoggerFrom(ctx, s.logger()).With("tenant", req.Tenant, "alert", req.AlertID)
	t, ok := s.Tenants.Tenant(req.Tenant)
	if !ok {
		return Result{Outcome: Refused}, fmt.Errorf("tenant %q is not configured here", req.Tenant)
	}
	if field, problem := formatting.CheckClose(t.Reasons, req.Classification, req.Reason, req.Comment); field != "" {
		return Result{Outcome: Refused}, fmt.Errorf("%s: %s", field, problem)
	}
	if !source.ValidID(req.AlertID) {
		return Result{Outcome: Refused}, fmt.Errorf("%q is not an alert id", req.AlertID)
	}
	mine := store.CloseRecord{Tenant: req.Tenant, AlertID: req.AlertID, By: req.By.ID, ByName: req.By.Name,
		Classification: string(req.Classification), Reason: req.Reason, Comment: req.Comment}
	var reopened *store.CloseRecord
	for attempt := 0; ; attempt++ {
		claimedAt := s.now()
		claim, err := s.Store.ClaimClose(ctx, mine)
		if err != nil {
			log.Error("close claim failed: store unreachable", "error", err)
			return Result{Outcome: Refused, Reopened: reopened}, ErrStoreDown
		}
		if claim.Won {
			mine.ClaimedAt = claimedAt
			res, err := s.closeClaimed(ctx, log, t, mine)
			res.Reopened = reopened
			return res, err
		}
		if claim.Record.State == store.CloseDone {
			if reopened != nil || mine.ByBot() {
				return Result{Outcome: AlreadyClosed, Record: claim.Record, Reopened: reopened}, nil
			}
			// The store says closed; the tenant has the last word.
			chk, err := s.recheck(ctx, log, t, claim.Record)
			switch {
			case errors.Is(err, ErrStoreDown):
				return Result{Outcome: Refused}, err
			case err != nil:
				return Result{Outcome: Failed, Record: claim.Record}, err
			case chk.Reopened == nil:
				return Result{Outcome: AlreadyClosed, Record: claim.Record, Alert: chk.Alert}, nil
			}
			reopened = chk.Reopened
			continue // reopened: claim it anew
		}
		if mine.ByBot() && claim.Record.Generation > 0 && claim.Record.State != store.ClosePending {
			return Result{Outcome: LeftToAnalysts, Record: claim.Record}, nil
		}
		// Someone else (maybe on another replica) is closing it: wait for
		// their outcome so this analyst is told the same.
		rec, ok := s.waitClosed(ctx, req.Tenant, req.AlertID)
		switch {
		case ok && rec.State == store.CloseDone:
			return Result{Outcome: AlreadyClosed, Record: rec, Reopened: reopened}, nil
		case ok && rec.State == store.CloseFailed && attempt == 0:
			continue // their close failed: try ours
		}
		return Result{Outcome: InProgress, Record: claim.Record, Reopened: reopened}, nil
	}
}

func (s *Service) closeClaimed(ctx context.Context, log *slog.Logger, t source.Tenant, mine store.CloseRecord) (Result, error) {
	kind := source.Classification(mine.Classification)
	res, err := t.Close(ctx, source.CloseRequest{IDs: []string{mine.AlertID}, Classification: kind, Reason: mine.Reason, Comment: MCASComment(mine.ByName, mine.By, mine.Comment)})
	if err != nil && !ambiguous(err) {
		return s.fail(ctx, log, mine, describeCloseError(err))
	}
	closed := err == nil && res.Closed > 0 && !slices.Contains(res.NotFound, mine.AlertID)
	if !closed {
		a, ours, rec, rerr := s.reread(ctx, t, mine, err)
		switch {
		case rerr != nil:
			return s.fail(ctx, log, mine, rerr)
		case !ours:
			if cerr := s.complete(ctx, *rec); cerr != nil {
				log.Error("alert closed elsewhere but not recorded", "error", cerr)
			}
			log.Info("alert was already closed in MCAS", "resolution", source.ResolutionName(a.Resolution), "handled_by", a.HandledBy)
			return Result{Outcome: AlreadyClosed, Record: *rec, Alert: &a}, nil
		}
		log.Info("MCAS did not confirm the close, but the alert reads as closed as asked since the claim: counted as ours")
	}
	mine.State, mine.ClosedAt = store.CloseDone, s.now()
	if err := s.complete(ctx, mine); err != nil {
		// The alert is closed in MCAS; the claim stays pending and frees
		// itself, and the next close re-reads MCAS and learns the truth.
		log.Error("alert closed but not recorded in the store", "error", err)
	}
	out := Result{Outcome: Closed, Record: mine}
	s.comment(ctx, log, &out)
	return out, nil
}

// ours reports whether a closed alert was closed by this claim's own call
// (an earlier attempt whose answer was lost).
func (s *Service) ours(a source.Alert, mine store.CloseRecord) bool {
	return source.Classification(mine.Classification).Resolution() == a.Resolution &&
		!a.ResolveTime.IsZero() && !a.ResolveTime.Before(mine.ClaimedAt.Add(-clockSkew))
}

// elsewhere is the record of an alert MCAS had closed already.
func elsewhere(a source.Alert, claim store.CloseRecord, now time.Time) store.CloseRecord {
	rec := store.CloseRecord{Tenant: claim.Tenant, AlertID: claim.AlertID, State: store.CloseDone, Elsewhere: true,
		HandledBy: formatting.Clean(a.HandledBy), Classification: source.ResolutionName(a.Resolution), ClosedAt: a.ResolveTime,
		By: claim.By, ByName: claim.ByName, ClaimedAt: claim.ClaimedAt}
	if c, ok := source.ClassificationOf(a.Resolution); ok {
		rec.Classification = string(c)
	}
	if rec.ClosedAt.IsZero() {
		rec.ClosedAt = now
	}
	return rec
}

// ambiguous is a failure after which MCAS may have closed the alert.
func ambiguous(err error) bool {
	k := httpx.KindOf(err)
	return k == httpx.KindTimeout || k == httpx.KindUnavailable || k == httpx.KindBadResponse
}

// describeCloseError says what a failed close means for the analyst. The
// tenant's client says which permission a 403 lacks.
func describeCloseError(err error) error {
	var e *httpx.Error
	if !errors.As(err, &e) {
		return fmt.Errorf("the alert was not closed: %w", err)
	}
	api := apiName(e.Service)
	switch e.Kind {
	case httpx.KindForbidden:
		return fmt.Errorf("the tenant's credentials can read alerts but not close them (HTTP 403: %s)", orDash(e.Detail))
	case httpx.KindAuth:
		return fmt.Errorf("%s refused the tenant's credentials (HTTP 401): %s", api, orDash(e.Detail))
	case httpx.KindBadRequest:
		return fmt.Errorf("%s rejected the close: %s", api, orDash(e.Detail))
	}
	return fmt.Errorf("%s did not close the alert: %s", api, httpx.Describe(e))
}

// apiName names the API of a client's service ("mcas contoso", "graph
// fabrikam") the way analysts know it.
func apiName(service string) string {
	switch kind, _, _ := strings.Cut(service, " "); kind {
	case "mcas":
		return "MCAS"
	case "graph":
		return "Microsoft Graph"
	}
	return "the tenant's API"
}

func orDash(s string) string {
	if s == "" {
		return "no details"
	}
	return s
}

func (s *Service) fail(ctx context.Context, log *slog.Logger, mine store.CloseRecord, err error) (Result, error) {
	// A fresh context: the caller's may be what ran out.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if ferr := s.Store.FailClose(fctx, mine.Tenant, mine.AlertID, err.Error()); ferr != nil {
		log.Error("could not release the close claim; it frees itself after the stale period", "error", ferr, "stale_after", store.StaleClaim)
	}
	return Result{Outcome: Failed, Record: mine}, err
}

func (s *Service) complete(ctx context.Context, rec store.CloseRecord) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return s.Store.CompleteClose(cctx, rec)
}

// comment adds the close to the alert's Jira issue, if it has one. A
// failure never undoes the close: it is logged and reported.
func (s *Service) comment(ctx context.Context, log *slog.Logger, out *Result) {
	rec := out.Record
	is, ok, err := s.Store.Issue(ctx, rec.Tenant, rec.AlertID)
	switch {
	case err != nil:
		out.CommentErr = fmt.Errorf("could not look up the alert's Jira issue: %w", err)
	case !ok || is.State != store.IssueCreated || is.Key == "":
		return
	case s.Jira == nil:
		out.Issue = &is
		out.CommentErr = errors.New("Jira is not configured here")
	default:
		out.Issue = &is
		_, err = s.Jira.Comment(ctx, is.Key, JiraComment(rec))
		out.Commented, out.CommentErr = err == nil, err
	}
	if out.CommentErr != nil {
		log.Warn("could not comment the close on the Jira issue", "issue", is.Key, "error", out.CommentErr)
	}
}

// waitClosed polls the store until another close of the alert is done
// or failed.
func (s *Service) waitClosed(ctx context.Context, tenant, alertID string) (store.CloseRecord, bool) {
	wait := s.Wait
	if wait <= 0 {
		wait = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return store.CloseRecord{}, false
		case <-t.C:
			rec, ok, err := s.Store.AlertClose(ctx, tenant, alertID)
			if err != nil || !ok {
				return store.CloseRecord{}, false
			}
			if rec.State != store.ClosePending {
				return rec, true
			}
		}
	}
}

// MCASComment is the comment MCAS records with the close.
func MCASComment(name, id, comment string) string {
	who := formatting.Clean(name)
	if who == "" {
		who = id
	}
	comment = strings.TrimSpace(comment)
	if comment == "" {
		return "Closed from Slack by " + who + "."
	}
	return "Closed from Slack by " + who + ": " + comment
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now().UTC()
}
