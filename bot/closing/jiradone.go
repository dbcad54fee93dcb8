package closing

import (
	"context"
	"log/slog"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// JiraSync is who closes the alerts whose Jira issues reached done.
var JiraSync = Analyst{ID: store.JiraSyncCloser, Name: "Jira sync"}

// JiraDone closes the alerts of a Jira issue that reached the done status
// category (JIRA_DONE_CLOSES_ALERT) through the Service's group close: each
// alert under the same claim as Close… in Slack (a close made there or by
// an earlier sync is not repeated, an alert already closed in the portal
// is recorded as such), and the alerts still open in one MCAS call, so a
// group of repeats filed as one issue costs one request. It is the Jira
// sync's schedule.DoneCloser.
type JiraDone struct {
	Service        *Service
	Classification source.Classification
	Logger         *slog.Logger
	// OnOutcome, when set, counts the closes by outcome, one per alert.
	OnOutcome func(outcome string)
}

// CloseDone closes the alerts of tenant tracked under the done issue key.
// changed lists the alerts whose close record changed (closed now, or found
// closed in MCAS), so their messages are to be redrawn; err says the others
// could not be closed (failed or refused). With no error, an alert in
// neither is being closed by someone else.
func (d *JiraDone) CloseDone(ctx context.Context, tenant, key string, alertIDs []string, now store.JiraState) (changed []string, err error) {
	note := DoneNote(key, now)
	req := GroupRequest{Tenant: tenant, AlertIDs: alertIDs, By: JiraSync, Classification: d.Classification,
		Comment: note, mcasComment: "Jira " + note}
	if t, ok := d.Service.Tenants.Tenant(tenant); ok && len(t.Reasons(d.Classification)) > 0 {
		// The tenant's API wants a reason for this classification (MCAS
		// for benign and false positive, Defender XDR for all three):
		// "other", and the comment says why.
		req.Reason = source.ReasonOther
	}
	res, err := d.Service.CloseGroup(ctx, req)
	// One audit line per alert, as for a close from Slack.
	audit := func(id string, o Outcome) *slog.Logger {
		if d.OnOutcome != nil {
			d.OnOutcome(string(o))
		}
		return d.logger().With("user", JiraSync.ID, "actor", JiraSync.Name, "tenant", tenant, "alert", id, "issue", key,
			"classification", string(d.Classification), "reason", req.Reason, "outcome", string(o))
	}
	for _, rec := range res.Closed {
		audit(rec.AlertID, Closed).Info("audit: alert closed", "comment", req.mcasComment)
		changed = append(changed, rec.AlertID)
	}
	for _, rec := range res.Already {
		audit(rec.AlertID, AlreadyClosed).Info("audit: alert already closed", "closed_by", rec.By, "elsewhere", rec.Elsewhere, "handled_by", rec.HandledBy)
		changed = append(changed, rec.AlertID)
	}
	for _, f := range res.Failed {
		audit(f.AlertID, Failed).Error("audit: alert close failed", "error", f.Err)
	}
	switch {
	case len(res.Failed) > 0 && err == nil:
		// Some closed, some not: the others are for the next sync.
		return changed, groupFailure(res.Failed)
	case len(res.Failed) > 0 || len(changed) > 0:
		return changed, err
	}
	// Nothing was decided per alert: the same line for each of them.
	for _, id := range alertIDs {
		switch {
		case err != nil && res.Outcome == Refused:
			audit(id, Refused).Warn("audit: alert close refused", "error", err)
		case err != nil:
			audit(id, res.Outcome).Error("audit: alert close failed", "error", err)
		case res.Outcome == InProgress:
			audit(id, InProgress).Info("audit: alert close in progress", "closing_by", res.Holder.By)
		}
	}
	return nil, err
}

// DoneNote says why the sync closed an alert: "SEC-123 resolved: Fixed"
// (MCAS's comment is "Jira " and the note). Jira's text is cleaned of
// control and bidi characters and cut; the messages escape it.
func DoneNote(key string, now store.JiraState) string {
	key = formatting.Cut(formatting.Clean(key), 40)
	if r := formatting.Cut(formatting.Clean(now.Resolution), 100); r != "" {
		return key + " resolved: " + r
	}
	status := formatting.Cut(formatting.Clean(now.Status), 100)
	if status == "" {
		status = "Done"
	}
	return key + " moved to " + status
}

func (d *JiraDone) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}
