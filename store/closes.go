package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Alert closes (issue #8).

const closeColumns = `tenant, alert_id, state, closed_by, closed_by_name, classification, reason, comment, elsewhere, handled_by, claimed_ms, closed_ms, error, generation, reopened_ms`

// historyColumns read an earlier close from close_history as scanClose
// reads closes.
const historyColumns = `tenant, alert_id, 'closed', closed_by, closed_by_name, classification, reason, comment, elsewhere, handled_by, claimed_ms, closed_ms, '', generation, reopened_ms`

func (s *sqlStore) ClaimClose(ctx context.Context, c CloseRecord) (CloseClaim, error) {
	now := s.now()
	r, err := s.exec(ctx, `INSERT INTO closes (tenant, alert_id, state, closed_by, closed_by_name, classification, reason, comment, claimed_ms)
		VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, alert_id) DO NOTHING`,
		c.Tenant, c.AlertID, c.By, cutRunes(c.ByName, 200), c.Classification, c.Reason, cutRunes(c.Comment, 4000), ms(now))
	if err != nil {
		return CloseClaim{}, err
	}
	if n, _ := r.RowsAffected(); n == 1 {
		return CloseClaim{Won: true}, nil
	}
	// A failed claim, a reopened alert (its close is in the history), or a
	// claim left pending by a caller that died, can be taken; by the bot's
	// rules only if the alert was never reopened.
	r, err = s.exec(ctx, `UPDATE closes SET state = 'pending', closed_by = ?, closed_by_name = ?, classification = ?, reason = ?, comment = ?,
			elsewhere = 0, handled_by = '', claimed_ms = ?, closed_ms = 0, error = ''
		WHERE tenant = ? AND alert_id = ? AND (state = 'failed' OR state = 'reopened' OR (state = 'pending' AND claimed_ms < ?))
			AND (generation = 0 OR ? = 0)`,
		c.By, cutRunes(c.ByName, 200), c.Classification, c.Reason, cutRunes(c.Comment, 4000), ms(now), c.Tenant, c.AlertID, ms(now.Add(-StaleClaim)), boolInt(c.ByBot()))
	if err != nil {
		return CloseClaim{}, err
	}
	if n, _ := r.RowsAffected(); n == 1 {
		return CloseClaim{Won: true, TookOver: true}, nil
	}
	rec, ok, err := s.AlertClose(ctx, c.Tenant, c.AlertID)
	if err != nil {
		return CloseClaim{}, err
	}
	if !ok {
		return CloseClaim{}, fmt.Errorf("close record for %s/%s vanished during claim", c.Tenant, c.AlertID)
	}
	return CloseClaim{Record: rec}, nil
}

func (s *sqlStore) CompleteClose(ctx context.Context, c CloseRecord) error {
	at := c.ClosedAt
	if at.IsZero() {
		at = s.now()
	}
	elsewhere := 0
	if c.Elsewhere {
		elsewhere = 1
	}
	r, err := s.exec(ctx, `UPDATE closes SET state = 'closed', classification = ?, reason = ?, comment = ?, elsewhere = ?, handled_by = ?, closed_ms = ?, error = ''
		WHERE tenant = ? AND alert_id = ? AND state <> 'closed'`,
		c.Classification, c.Reason, cutRunes(c.Comment, 4000), elsewhere, cutRunes(c.HandledBy, 200), ms(at), c.Tenant, c.AlertID)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		if _, ok, err := s.AlertClose(ctx, c.Tenant, c.AlertID); err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("no close claim for %s/%s", c.Tenant, c.AlertID)
			}
			return err
		}
	}
	return nil
}

func (s *sqlStore) FailClose(ctx context.Context, tenant, alertID, reason string) error {
	_, err := s.exec(ctx, `UPDATE closes SET state = 'failed', error = ? WHERE tenant = ? AND alert_id = ? AND state = 'pending'`,
		cutRunes(reason, 1000), tenant, alertID)
	return err
}

func (s *sqlStore) ReopenClose(ctx context.Context, rec CloseRecord) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, wrap(err)
	}
	defer func() { _ = tx.Rollback() }()
	// The update decides the one winner: a second caller, or one that saw
	// an older close, matches no row (PostgreSQL re-checks the WHERE once
	// the first commits).
	r, err := tx.ExecContext(ctx, s.q(`UPDATE closes SET state = 'reopened', generation = generation + 1, reopened_ms = ?
		WHERE tenant = ? AND alert_id = ? AND state = 'closed' AND generation = ?`), ms(s.now()), rec.Tenant, rec.AlertID, rec.Generation)
	if err != nil {
		return false, wrap(err)
	}
	if n, err := r.RowsAffected(); err != nil || n != 1 {
		return false, wrap(err)
	}
	// The reopened row still holds the close: keep it in the history.
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO close_history (tenant, alert_id, generation, closed_by, closed_by_name, classification, reason, comment,
			elsewhere, handled_by, claimed_ms, closed_ms, reopened_ms)
		SELECT tenant, alert_id, generation - 1, closed_by, closed_by_name, classification, reason, comment, elsewhere, handled_by, claimed_ms, closed_ms, reopened_ms
		FROM closes WHERE tenant = ? AND alert_id = ?`), rec.Tenant, rec.AlertID); err != nil {
		return false, wrap(err)
	}
	return true, wrap(tx.Commit())
}

func (s *sqlStore) CloseHistory(ctx context.Context, tenant, alertID string) ([]CloseRecord, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+historyColumns+` FROM close_history WHERE tenant = ? AND alert_id = ? ORDER BY generation`), tenant, alertID)
	if err != nil {
		return nil, wrap(err)
	}
	var out []CloseRecord
	for rows.Next() {
		rec, err := scanClose(rows)
		if err != nil {
			_ = rows.Close()
			return nil, wrap(err)
		}
		out = append(out, rec)
	}
	return out, closeRows(rows)
}

func (s *sqlStore) AlertClose(ctx context.Context, tenant, alertID string) (CloseRecord, bool, error) {
	rec, err := scanClose(s.db.QueryRowContext(ctx, s.q(`SELECT `+closeColumns+` FROM closes WHERE tenant = ? AND alert_id = ?`), tenant, alertID))
	if errors.Is(err, sql.ErrNoRows) {
		return CloseRecord{}, false, nil
	}
	if err != nil {
		return CloseRecord{}, false, wrap(err)
	}
	return rec, true, nil
}

func (s *sqlStore) Closes(ctx context.Context, since, until time.Time) ([]CloseRecord, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+closeColumns+` FROM closes WHERE state = 'closed' AND closed_ms >= ? AND closed_ms < ?
		UNION ALL SELECT `+historyColumns+` FROM close_history WHERE closed_ms >= ? AND closed_ms < ?
		ORDER BY closed_ms, tenant, alert_id, generation`), ms(since), ms(until), ms(since), ms(until))
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []CloseRecord
	for rows.Next() {
		rec, err := scanClose(rows)
		if err != nil {
			return nil, wrap(err)
		}
		out = append(out, rec)
	}
	return out, wrap(rows.Err())
}

// BotCloser prefixes CloseRecord.By when the bot closed an alert by a rule
// rather than for a Slack user; ByName then names the rule's actor.
const BotCloser = "bot:"

// JiraSyncCloser is CloseRecord.By of an alert the Jira sync closed because
// its issue was done (JIRA_DONE_CLOSES_ALERT).
const JiraSyncCloser = BotCloser + "jira-sync"

// ByBot reports whether the bot closed the alert by a rule (the Jira sync),
// not for a Slack user.
func (c CloseRecord) ByBot() bool { return strings.HasPrefix(c.By, BotCloser) }

// cutRunes keeps at most n characters and valid UTF-8 (PostgreSQL
// refuses a string cut inside a character).
func cutRunes(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

type scanner interface{ Scan(dest ...any) error }

func scanClose(row scanner) (CloseRecord, error) {
	var rec CloseRecord
	var state string
	var elsewhere int
	var claimed, closed, reopened int64
	err := row.Scan(&rec.Tenant, &rec.AlertID, &state, &rec.By, &rec.ByName, &rec.Classification, &rec.Reason, &rec.Comment,
		&elsewhere, &rec.HandledBy, &claimed, &closed, &rec.Error, &rec.Generation, &reopened)
	if err != nil {
		return CloseRecord{}, err
	}
	rec.State, rec.Elsewhere, rec.ClaimedAt, rec.ClosedAt = CloseState(state), elsewhere == 1, fromMS(claimed), fromMS(closed)
	rec.ReopenedAt = fromMS(reopened)
	return rec, nil
}

// ClosedAlert is an alert closed from Slack, and when its digest posted it
// (zero when it was never in a digest), for the report's time to close.
type ClosedAlert struct {
	CloseRecord
	PostedAt time.Time
}

// closedIn lists the closes made from Slack in [from, to), earlier closes
// of reopened alerts included: not the alerts found already closed in MCAS.
func (s *sqlStore) closedIn(ctx context.Context, from, to time.Time) ([]ClosedAlert, error) {
	cols := "c." + strings.ReplaceAll(closeColumns, ", ", ", c.")
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+cols+`, COALESCE(p.posted_ms, 0) FROM (
			SELECT `+closeColumns+` FROM closes WHERE state = 'closed' AND elsewhere = 0 AND closed_ms >= ? AND closed_ms < ?
			UNION ALL SELECT `+historyColumns+` FROM close_history WHERE elsewhere = 0 AND closed_ms >= ? AND closed_ms < ?
		) c LEFT JOIN posted_alerts p ON p.tenant = c.tenant AND p.alert_id = c.alert_id
		ORDER BY c.closed_ms, c.tenant, c.alert_id, c.generation`), ms(from), ms(to), ms(from), ms(to))
	if err != nil {
		return nil, wrap(err)
	}
	var out []ClosedAlert
	for rows.Next() {
		var c ClosedAlert
		var posted int64
		var extra scanFunc = func(dest ...any) error { return rows.Scan(append(dest, &posted)...) }
		if c.CloseRecord, err = scanClose(extra); err != nil {
			_ = rows.Close()
			return nil, wrap(err)
		}
		c.PostedAt = fromMS(posted)
		out = append(out, c)
	}
	return out, closeRows(rows)
}

// scanFunc adapts a Scan with extra destinations to scanClose.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }
