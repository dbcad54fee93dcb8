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
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// Grouped repeats (issue #11): a group's Close… closes every alert of the
// group that is still open with one MCAS call, or one per MaxIDsPerCall
// alerts for a larger group (issue #16). Exactly once holds per alert, as
// for Close: each alert is claimed in the store before the calls.

// MaxIDsPerCall is how many alerts one close request names at most: MCAS
// documents no limit, and a page of alerts is 100.
const MaxIDsPerCall = formatting.CloseBatch

// GroupRequest is one analyst's close of a group of alerts of one tenant.
type GroupRequest struct {
	Tenant         string
	AlertIDs       []string
	By             Analyst
	Classification source.Classification
	Reason         string // reason code; "" for true positive
	Comment        string

	// mcasComment, when set, is sent to MCAS as it is (a close the bot
	// makes by a rule, not "Closed from Slack by …").
	mcasComment string
}

// GroupResult says what became of each alert of a group close.
type GroupResult struct {
	// Outcome: Closed when this call closed at least one alert;
	// AlreadyClosed when none was left to close; InProgress when another
	// close holds some of them (Holder); Refused or Failed with the error;
	// LeftToAnalysts when a rule's close found only reopened alerts (Left).
	Outcome Outcome
	// Closed are the alerts this call closed, in Requests close requests
	// of at most MaxIDsPerCall alerts each.
	Closed   []store.CloseRecord
	Requests int
	// Already are the alerts closed before: from Slack (left out of the
	// call), or found closed in MCAS (alertsNotFound, re-read).
	Already []store.CloseRecord
	// Failed are alerts this call could not close (MCAS refused the call,
	// or they are gone, or still open, or their request was not sent after
	// an earlier one failed); their claims are released.
	Failed []AlertFailure
	// Left are alerts a rule of the bot (the Jira sync) does not close:
	// reopened in the portal since an earlier close.
	Left []store.CloseRecord
	// Holder is the claim of the close in progress (InProgress).
	Holder store.CloseRecord
	// Issues are the Jira issues of the closed alerts, each commented once
	// (not for a close the bot made by a rule); Commented lists the keys
	// commented, CommentErr what failed.
	Issues     []store.IssueRecord
	Commented  []string
	CommentErr error
}

// AlertFailure is an alert a group close could not close, and why.
type AlertFailure struct {
	AlertID string
	Err     error
}

// CloseGroup closes every open alert of a group with one MCAS call per
// MaxIDsPerCall alerts, at most once per alert however many analysts,
// clicks and replicas try. Alerts closed already are left out and
// reported. Should a request fail, the alerts of the requests before it
// stay closed and those of it and after it are released, each with why.
func (s *Service) CloseGroup(ctx context.Context, req GroupRequest) (GroupResult, error) {
	log := httpx.LoggerFrom(ctx, s.logger()).With("tenant", req.Tenant, "alerts", len(req.AlertIDs))
	t, ok := s.Tenants.Tenant(req.Tenant)
	if !ok {
		return GroupResult{Outcome: Refused}, fmt.Errorf("tenant %q is not configured here", req.Tenant)
	}
	if field, problem := formatting.CheckClose(t.Reasons, req.Classification, req.Reason, req.Comment); field != "" {
		return GroupResult{Outcome: Refused}, fmt.Errorf("%s: %s", field, problem)
	}
	if len(req.AlertIDs) == 0 {
		return GroupResult{Outcome: Refused}, errors.New("the group has no alerts")
	}
	for _, id := range req.AlertIDs {
		if !source.ValidID(id) {
			return GroupResult{Outcome: Refused}, fmt.Errorf("%q is not an alert id", id)
		}
	}
	// Claims in id order: two closes of one group meet at its first alert,
	// so neither takes half of it.
	ids := slices.Clone(req.AlertIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	mine := store.CloseRecord{Tenant: req.Tenant, By: req.By.ID, ByName: req.By.Name,
		Classification: string(req.Classification), Reason: req.Reason, Comment: req.Comment}
	// A wait for another close's outcome is followed by another round of
	// claims, a few times; a close that keeps losing is told who holds it.
	for round := 0; ; round++ {
		claimedAt := s.now()
		won, already, left, holder, err := s.claimGroup(ctx, log, mine, ids)
		if err != nil {
			return GroupResult{Outcome: Refused}, err
		}
		if holder == nil {
			for _, rec := range left {
				log.Debug("a reopened alert is left to analysts", "alert", rec.AlertID, "closed_by", rec.By, "reopened_at", rec.ReopenedAt)
			}
			switch {
			case len(won) == 0 && len(left) > 0 && len(already) == 0:
				return GroupResult{Outcome: LeftToAnalysts, Left: left}, nil
			case len(won) == 0:
				return GroupResult{Outcome: AlreadyClosed, Already: already, Left: left}, nil
			}
			mine.ClaimedAt = claimedAt
			comment := req.mcasComment
			if comment == "" {
				comment = MCASComment(mine.ByName, mine.By, mine.Comment)
			}
			res, err := s.closeGroupClaimed(ctx, log, t, mine, comment, won, already)
			res.Left = left
			return res, err
		}
		// Someone else is closing one of them: wait for their outcome, so
		// this analyst is told the same, then claim again.
		if _, ok := s.waitClosed(ctx, req.Tenant, holder.AlertID); !ok || round == maxGroupRounds {
			return GroupResult{Outcome: InProgress, Holder: *holder}, nil
		}
	}
}

// maxGroupRounds bounds the rounds of claims of one group close.
const maxGroupRounds = 3

// claimGroup claims each alert in order. It returns the alerts won, those
// closed already, those a rule leaves to analysts (reopened), or (having
// released what it won) the claim of another close that holds one of them.
func (s *Service) claimGroup(ctx context.Context, log *slog.Logger, mine store.CloseRecord, ids []string) (won []string, already, left []store.CloseRecord, holder *store.CloseRecord, err error) {
	release := func(reason string) {
		for _, id := range won {
			s.release(ctx, log, mine.Tenant, id, reason)
		}
	}
	for _, id := range ids {
		rec := mine
		rec.AlertID = id
		claim, cerr := s.Store.ClaimClose(ctx, rec)
		switch {
		case cerr != nil:
			release("the state store failed during the claim")
			log.Error("close claim failed: store unreachable", "alert", id, "error", cerr)
			return nil, nil, nil, nil, ErrStoreDown
		case claim.Won:
			won = append(won, id)
		case claim.Record.State == store.CloseDone:
			already = append(already, claim.Record)
		case mine.ByBot() && claim.Record.Generation > 0 && claim.Record.State != store.ClosePending:
			left = append(left, claim.Record)
		default:
			release("another close holds part of this group")
			return nil, nil, nil, &claim.Record, nil
		}
	}
	return won, already, left, nil, nil
}

func (s *Service) release(ctx context.Context, log *slog.Logger, tenant, id, reason string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.Store.FailClose(rctx, tenant, id, reason); err != nil {
		log.Error("could not release the close claim; it frees itself after the stale period", "alert", id, "error", err, "stale_after", store.StaleClaim)
	}
}

// closeGroupClaimed closes the alerts won, MaxIDsPerCall at a time, and
// finds out, never guesses, what became of each alert MCAS did not
// confirm. After a request that failed, the rest are not sent: their
// claims are released and they are reported as not closed.
func (s *Service) closeGroupClaimed(ctx context.Context, log *slog.Logger, t source.Tenant, mine store.CloseRecord, comment string, won []string, already []store.CloseRecord) (GroupResult, error) {
	out := GroupResult{Already: already}
	calls := (len(won) + MaxIDsPerCall - 1) / MaxIDsPerCall
	var stop error
	for i := 0; i < len(won); i += MaxIDsPerCall {
		chunk := won[i:min(i+MaxIDsPerCall, len(won))]
		if stop != nil {
			for _, id := range chunk {
				s.release(ctx, log, mine.Tenant, id, stop.Error())
				out.Failed = append(out.Failed, AlertFailure{AlertID: id, Err: stop})
			}
			continue
		}
		out.Requests++
		if failed := s.closeChunk(ctx, log, t, mine, comment, chunk, &out); failed {
			stop = fmt.Errorf("not sent, as request %d of %d failed", out.Requests, calls)
		}
	}
	switch {
	case len(out.Closed) > 0:
		out.Outcome = Closed
		if !mine.ByBot() {
			// A close made by a rule (Jira's own done) is not told back to Jira.
			s.commentGroup(ctx, log, &out)
		}
	case len(out.Failed) > 0:
		out.Outcome = Failed
		return out, groupFailure(out.Failed)
	default:
		out.Outcome = AlreadyClosed
	}
	return out, nil
}

// closeChunk makes one close request for ids and records what became of
// each in out. It reports whether the request itself failed and left
// alerts of it not closed, so the requests after it are not sent.
func (s *Service) closeChunk(ctx context.Context, log *slog.Logger, t source.Tenant, mine store.CloseRecord, comment string, ids []string, out *GroupResult) bool {
	kind := source.Classification(mine.Classification)
	res, err := t.Close(ctx, source.CloseRequest{IDs: ids, Classification: kind, Reason: mine.Reason, Comment: comment})
	if err != nil && !ambiguous(err) {
		cause := describeCloseError(err)
		for _, id := range ids {
			s.release(ctx, log, mine.Tenant, id, cause.Error())
			out.Failed = append(out.Failed, AlertFailure{AlertID: id, Err: cause})
		}
		return true
	}
	notFound := map[string]bool{}
	for _, id := range res.NotFound {
		notFound[id] = true
	}
	missing := 0
	for _, id := range ids {
		if notFound[id] {
			missing++
		}
	}
	// MCAS confirmed the rest only if its count agrees.
	confirmed := err == nil && res.Closed == len(ids)-missing
	failed := len(out.Failed)
	var closed []string
	for _, id := range ids {
		if confirmed && !notFound[id] {
			closed = append(closed, id)
			continue
		}
		rec := mine
		rec.AlertID = id
		switch _, ok, found, ferr := s.reread(ctx, t, rec, err); {
		case ferr != nil:
			s.release(ctx, log, mine.Tenant, id, ferr.Error())
			out.Failed = append(out.Failed, AlertFailure{AlertID: id, Err: ferr})
		case found != nil:
			if cerr := s.complete(ctx, *found); cerr != nil {
				log.Error("alert closed elsewhere but not recorded", "alert", id, "error", cerr)
			}
			out.Already = append(out.Already, *found)
		case ok:
			log.Info("MCAS did not confirm the close, but the alert reads as closed as asked since the claim: counted as ours", "alert", id)
			closed = append(closed, id)
		}
	}
	now := s.now()
	for _, id := range closed {
		rec := mine
		rec.AlertID, rec.State, rec.ClosedAt = id, store.CloseDone, now
		if cerr := s.complete(ctx, rec); cerr != nil {
			// Closed in MCAS; the claim frees itself and the next close
			// re-reads MCAS and learns the truth.
			log.Error("alert closed but not recorded in the store", "alert", id, "error", cerr)
		}
		out.Closed = append(out.Closed, rec)
	}
	// A lost answer whose alerts all read as closed is no reason to stop.
	return err != nil && len(out.Failed) > failed
}

// reread reads an alert MCAS did not confirm closing (already closed,
// gone, or the answer was lost), never guessing: ours is set when it reads
// as closed as asked since the claim; elsewhereRec when someone else closed
// it; err when it is open, gone or could not be read (callErr is the close
// call's own failure, if any).
func (s *Service) reread(ctx context.Context, t source.Tenant, mine store.CloseRecord, callErr error) (a source.Alert, ours bool, elsewhereRec *store.CloseRecord, err error) {
	a, rerr := t.Alert(ctx, mine.AlertID)
	switch {
	case rerr != nil && httpx.KindOf(rerr) == httpx.KindNotFound:
		return a, false, nil, fmt.Errorf("MCAS has no alert %s in %s any more (deleted, or never existed)", mine.AlertID, mine.Tenant)
	case rerr != nil && callErr != nil:
		return a, false, nil, fmt.Errorf("%w; re-reading the alert failed too (%s), so it may or may not be closed: press Close… again to find out",
			describeCloseError(callErr), httpx.Describe(rerr))
	case rerr != nil:
		return a, false, nil, fmt.Errorf("MCAS did not close the alert and re-reading it failed: %s", httpx.Describe(rerr))
	case a.Open() && callErr != nil:
		return a, false, nil, describeCloseError(callErr)
	case a.Open():
		return a, false, nil, errors.New("MCAS did not close the alert and still shows it open; try again")
	case !s.ours(a, mine):
		rec := elsewhere(a, mine, s.now())
		return a, false, &rec, nil
	}
	return a, true, nil, nil
}

// groupFailure says why no alert of a group could be closed.
func groupFailure(fs []AlertFailure) error {
	first := fs[0].Err
	same := true
	for _, f := range fs[1:] {
		if f.Err.Error() != first.Error() {
			same = false
		}
	}
	if len(fs) == 1 || same {
		return first
	}
	return fmt.Errorf("%w (alert %s), and %d more alerts failed", first, fs[0].AlertID, len(fs)-1)
}

// commentGroup adds the close to the Jira issue of the closed alerts, once
// per issue (a group's alerts share one). A failure never undoes the close.
func (s *Service) commentGroup(ctx context.Context, log *slog.Logger, out *GroupResult) {
	byKey := map[string][]store.CloseRecord{}
	var errs []error
	for _, rec := range out.Closed {
		is, ok, err := s.Store.Issue(ctx, rec.Tenant, rec.AlertID)
		if err != nil {
			errs = append(errs, fmt.Errorf("could not look up the Jira issue of alert %s: %w", rec.AlertID, err))
			continue
		}
		if !ok || is.State != store.IssueCreated || is.Key == "" {
			continue
		}
		if _, seen := byKey[is.Key]; !seen {
			out.Issues = append(out.Issues, is)
		}
		byKey[is.Key] = append(byKey[is.Key], rec)
	}
	for _, is := range out.Issues {
		if s.Jira == nil {
			errs = append(errs, errors.New("Jira is not configured here"))
			break
		}
		if _, err := s.Jira.Comment(ctx, is.Key, GroupJiraComment(byKey[is.Key])); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", is.Key, err))
			continue
		}
		out.Commented = append(out.Commented, is.Key)
	}
	out.CommentErr = errors.Join(errs...)
	if out.CommentErr != nil {
		log.Warn("could not comment the group's close on Jira", "error", out.CommentErr)
	}
}

// GroupJiraComment is the comment a group close adds to the group's Jira
// issue, in wiki markup, every value escaped with jira.Escape.
func GroupJiraComment(recs []store.CloseRecord) string {
	if len(recs) == 1 {
		return JiraComment(recs[0])
	}
	rec := recs[0]
	kind := source.Classification(rec.Classification)
	name := formatting.Clean(rec.ByName)
	if name == "" {
		name = rec.By
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.AlertID
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d alerts closed in Defender for Cloud Apps from Slack by %s (%s) on %s UTC.\n",
		len(recs), jira.Escape(name), jira.Escape(rec.By), rec.ClosedAt.UTC().Format("2006-01-02 15:04"))
	fmt.Fprintf(&b, "* Classification: %s\n", jira.Escape(kind.Label()))
	if label := source.ReasonLabel(kind, rec.Reason); label != "" {
		fmt.Fprintf(&b, "* Reason: %s\n", jira.Escape(label))
	}
	fmt.Fprintf(&b, "* Alerts: %s\n", jira.Escape(strings.Join(ids, ", ")))
	if c := strings.TrimSpace(rec.Comment); c != "" {
		b.WriteString("* Comment:\n\n")
		b.WriteString(jira.Escape(c))
	}
	return strings.TrimRight(b.String(), "\n")
}
