package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// JiraState is an issue's state in Jira as the sync last saw it.
type JiraState struct {
	Key        string
	Status     string // "In Progress"
	Category   string // new, indeterminate, done
	Resolution string // "" while unresolved
	// The assignee: Jira's account id (or username), display name, and the
	// Slack user found by the assignee's e-mail ("" when none).
	AssigneeID, AssigneeName, AssigneeSlack string
	Gone                                    bool // deleted in Jira, or no longer visible
	SeenAt                                  time.Time
	Drawn                                   bool // the Slack message shows this state
}

// Same reports whether two states would draw the same message.
func (s JiraState) Same(o JiraState) bool {
	return s.Key == o.Key && s.Status == o.Status && s.Category == o.Category && s.Resolution == o.Resolution &&
		s.AssigneeID == o.AssigneeID && s.AssigneeName == o.AssigneeName && s.Gone == o.Gone
}

// TrackedIssue is a filed issue and its last seen Jira state.
type TrackedIssue struct {
	IssueRecord
	Jira JiraState // zero when never seen
	// The alert's close claim, for JIRA_DONE_CLOSES_ALERT: its state ("" when
	// never claimed) and when it was last claimed.
	CloseState     CloseState
	CloseClaimedAt time.Time
}

func (s *sqlStore) TrackedIssues(ctx context.Context, since time.Time) ([]TrackedIssue, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT i.tenant, i.alert_id, i.issue_key, i.issue_url, i.claimed_by, i.claimed_ms, i.filed_ms,
			COALESCE(j.issue_key, ''), COALESCE(j.status, ''), COALESCE(j.category, ''), COALESCE(j.resolution, ''),
			COALESCE(j.assignee_id, ''), COALESCE(j.assignee_name, ''), COALESCE(j.assignee_slack, ''),
			COALESCE(j.gone, 0), COALESCE(j.seen_ms, 0), COALESCE(j.drawn, 0), COALESCE(c.state, ''), COALESCE(c.claimed_ms, 0)
		FROM issues i LEFT JOIN jira_states j ON j.tenant = i.tenant AND j.alert_id = i.alert_id
			LEFT JOIN closes c ON c.tenant = i.tenant AND c.alert_id = i.alert_id
		WHERE i.state = 'created' AND i.filed_ms >= ?
		ORDER BY i.filed_ms, i.tenant, i.alert_id`), ms(since))
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []TrackedIssue
	for rows.Next() {
		var t TrackedIssue
		var claimed, filed, seen, closeClaimed int64
		var gone, drawn int
		var closeState string
		if err := rows.Scan(&t.Tenant, &t.AlertID, &t.Key, &t.URL, &t.By, &claimed, &filed,
			&t.Jira.Key, &t.Jira.Status, &t.Jira.Category, &t.Jira.Resolution,
			&t.Jira.AssigneeID, &t.Jira.AssigneeName, &t.Jira.AssigneeSlack, &gone, &seen, &drawn, &closeState, &closeClaimed); err != nil {
			return nil, wrap(err)
		}
		t.Jira.Gone, t.Jira.Drawn, t.Jira.SeenAt = gone != 0, drawn != 0, fromMS(seen)
		t.CloseState, t.CloseClaimedAt = CloseState(closeState), fromMS(closeClaimed)
		t.State, t.ClaimedAt, t.FiledAt = IssueCreated, fromMS(claimed), fromMS(filed)
		out = append(out, t)
	}
	return out, wrap(rows.Err())
}

func (s *sqlStore) SaveJiraState(ctx context.Context, tenant, alertID string, st JiraState) error {
	if st.SeenAt.IsZero() {
		st.SeenAt = s.now()
	}
	_, err := s.exec(ctx, `INSERT INTO jira_states (tenant, alert_id, issue_key, status, category, resolution, assignee_id, assignee_name, assignee_slack, gone, seen_ms, drawn)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant, alert_id) DO UPDATE SET issue_key = excluded.issue_key, status = excluded.status, category = excluded.category,
			resolution = excluded.resolution, assignee_id = excluded.assignee_id, assignee_name = excluded.assignee_name,
			assignee_slack = excluded.assignee_slack, gone = excluded.gone, seen_ms = excluded.seen_ms, drawn = excluded.drawn`,
		tenant, alertID, cut(st.Key, 255), cut(st.Status, 255), cut(st.Category, 40), cut(st.Resolution, 255), cut(st.AssigneeID, 255),
		cut(st.AssigneeName, 255), cut(st.AssigneeSlack, 40), boolInt(st.Gone), ms(st.SeenAt), boolInt(st.Drawn))
	return err
}

func (s *sqlStore) MarkJiraDrawn(ctx context.Context, tenant, alertID string, seen time.Time) error {
	_, err := s.exec(ctx, `UPDATE jira_states SET drawn = 1 WHERE tenant = ? AND alert_id = ? AND seen_ms = ?`, tenant, alertID, ms(seen))
	return err
}

func (s *sqlStore) JiraState(ctx context.Context, tenant, alertID string) (JiraState, bool, error) {
	var st JiraState
	var gone, drawn int
	var seen int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT issue_key, status, category, resolution, assignee_id, assignee_name, assignee_slack, gone, seen_ms, drawn
		FROM jira_states WHERE tenant = ? AND alert_id = ?`), tenant, alertID).Scan(&st.Key, &st.Status, &st.Category, &st.Resolution,
		&st.AssigneeID, &st.AssigneeName, &st.AssigneeSlack, &gone, &seen, &drawn)
	if errors.Is(err, sql.ErrNoRows) {
		return JiraState{}, false, nil
	}
	if err != nil {
		return JiraState{}, false, wrap(err)
	}
	st.Gone, st.Drawn, st.SeenAt = gone != 0, drawn != 0, fromMS(seen)
	return st, true, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cut shortens s to at most n runes (upstream text has no length limit).
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
