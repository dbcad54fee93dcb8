package closing

import (
	"context"
	"log/slog"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/store"
)

// JiraSync is who closes the alerts whose Jira issues reached done.
var JiraSync = Analyst{ID: store.JiraSyncCloser, Name: "Jira sync"}

// JiraDone closes the alert of a Jira issue that reached the done status
// category (JIRA_DONE_CLOSES_ALERT) through the Service, so it takes the
// same claim as Close… in Slack: a close made there or by an earlier sync
// is not repeated, and an alert already closed in the portal is recorded
// as such. It is the Jira sync's schedule.DoneCloser.
type JiraDone struct {
	Service        *Service
	Classification mcas.Classification
	Logger         *slog.Logger
	// OnOutcome, when set, counts the closes by outcome.
	OnOutcome func(outcome string)
}

// CloseDone closes the alert of a done issue. changed says the alert's
// close record changed (closed now, or found closed in MCAS), so its
// message is to be redrawn; err says the close failed or was refused.
func (d *JiraDone) CloseDone(ctx context.Context, issue store.TrackedIssue, now store.JiraState) (bool, error) {
	note := DoneNote(issue.Key, now)
	req := Request{Tenant: issue.Tenant, AlertID: issue.AlertID, By: JiraSync, Classification: d.Classification,
		Comment: note, mcasComment: "Jira " + note}
	if d.Classification != mcas.TruePositive {
		req.Reason = mcas.ReasonOther // reasonId 4: the comment says why
	}
	log := d.logger().With("user", JiraSync.ID, "actor", JiraSync.Name, "tenant", issue.Tenant, "alert", issue.AlertID,
		"issue", issue.Key, "classification", string(d.Classification), "reason", req.Reason)
	res, err := d.Service.Close(ctx, req)
	log = log.With("outcome", string(res.Outcome))
	if d.OnOutcome != nil {
		d.OnOutcome(string(res.Outcome))
	}
	switch {
	case err != nil && res.Outcome == Refused:
		log.Warn("audit: alert close refused", "error", err)
		return false, err
	case err != nil:
		log.Error("audit: alert close failed", "error", err)
		return false, err
	case res.Outcome == Closed:
		log.Info("audit: alert closed", "comment", "Jira "+note)
		return true, nil
	case res.Outcome == AlreadyClosed:
		log.Info("audit: alert already closed", "closed_by", res.Record.By, "elsewhere", res.Record.Elsewhere, "handled_by", res.Record.HandledBy)
		return true, nil
	}
	log.Info("audit: alert close in progress", "closing_by", res.Record.By)
	return false, nil
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
