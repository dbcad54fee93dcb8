package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Scheduled reports (issue #16): each period's report is sent once across
// replicas. One row per period holds who is sending it, the message once
// posted (so a retry uploads only the chart) and whether it was sent.

// ReportState is where a period's scheduled report stands.
type ReportState string

const (
	ReportSending ReportState = "sending" // claimed, or released for the next attempt
	ReportSent    ReportState = "sent"
	ReportFailed  ReportState = "failed" // given up after the last attempt
)

// ReportSend is the record of one period's scheduled report.
type ReportSend struct {
	Period   string // e.g. "2026-11-16T00:00:00Z/2026-11-23T00:00:00Z"
	State    ReportState
	Owner    string // the replica that last claimed it
	Attempts int    // claims taken so far, by any replica
	Channel  string // the message, once posted
	TS       string
	Error    string    // why the last attempt failed
	EndedAt  time.Time // when it was sent or given up
}

const reportSendColumns = `period, state, owner, attempts, channel, ts, error, sent_ms`

func (s *sqlStore) ClaimReport(ctx context.Context, period, owner string, lease time.Duration) (ReportSend, bool, error) {
	now := s.now()
	r, err := s.exec(ctx, `INSERT INTO report_sends (period, state, owner, attempts, lease_ms, updated_ms) VALUES (?, 'sending', ?, 1, ?, ?)
		ON CONFLICT (period) DO NOTHING`, period, owner, ms(now.Add(lease)), ms(now))
	if err != nil {
		return ReportSend{}, false, err
	}
	won, _ := r.RowsAffected()
	if won == 0 {
		// Released by the last attempt, or left by a replica that died.
		r, err = s.exec(ctx, `UPDATE report_sends SET owner = ?, attempts = attempts + 1, lease_ms = ?, updated_ms = ?
			WHERE period = ? AND state = 'sending' AND lease_ms < ?`, owner, ms(now.Add(lease)), ms(now), period, ms(now))
		if err != nil {
			return ReportSend{}, false, err
		}
		won, _ = r.RowsAffected()
	}
	rec, ok, err := s.ReportSend(ctx, period)
	if err == nil && !ok {
		err = errors.New("report record vanished during claim: " + period)
	}
	return rec, won == 1 && err == nil, err
}

func (s *sqlStore) ReportPosted(ctx context.Context, period, owner, channel, ts string) (bool, error) {
	r, err := s.exec(ctx, `UPDATE report_sends SET channel = ?, ts = ?, updated_ms = ? WHERE period = ? AND owner = ? AND state = 'sending'`,
		channel, ts, ms(s.now()), period, owner)
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

func (s *sqlStore) FinishReport(ctx context.Context, period, owner string, state ReportState, why string) (bool, error) {
	now := s.now()
	ended := int64(0)
	if state != ReportSending {
		ended = ms(now)
	}
	r, err := s.exec(ctx, `UPDATE report_sends SET state = ?, lease_ms = 0, error = ?, sent_ms = ?, updated_ms = ?
		WHERE period = ? AND owner = ? AND state = 'sending'`, string(state), cut(why, 500), ended, ms(now), period, owner)
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

func (s *sqlStore) ReportSend(ctx context.Context, period string) (ReportSend, bool, error) {
	var rec ReportSend
	var state string
	var ended int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT `+reportSendColumns+` FROM report_sends WHERE period = ?`), period).
		Scan(&rec.Period, &state, &rec.Owner, &rec.Attempts, &rec.Channel, &rec.TS, &rec.Error, &ended)
	if errors.Is(err, sql.ErrNoRows) {
		return ReportSend{}, false, nil
	}
	if err != nil {
		return ReportSend{}, false, wrap(err)
	}
	rec.State, rec.EndedAt = ReportState(state), fromMS(ended)
	return rec, true, nil
}
