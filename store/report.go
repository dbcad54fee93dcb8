package store

import (
	"context"
	"strings"
	"time"
)

// TenantRun is whether one digest run could read one tenant.
type TenantRun struct {
	At     time.Time
	Tenant string
	Failed bool
	Reason string // why it failed
}

// PostedAlert is an alert posted by a digest and its issue, if one was
// filed (at any time).
type PostedAlert struct {
	Posting
	IssueKey string
	FiledAt  time.Time
}

// Activity is what the store recorded in a period.
type Activity struct {
	Posted []PostedAlert // alerts posted in the period
	Filed  []IssueRecord // issues filed in the period (alerts posted at any time)
	Runs   []TenantRun   // digest runs in the period, one row per tenant
}

func (s *sqlStore) RecordDigestRun(ctx context.Context, runs []TenantRun) error {
	if len(runs) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap(err)
	}
	defer func() { _ = tx.Rollback() }()
	stmt := s.q(`INSERT INTO digest_tenant_runs (run_ms, tenant, failed, reason) VALUES (?, ?, ?, ?)
		ON CONFLICT (run_ms, tenant) DO UPDATE SET failed = excluded.failed, reason = excluded.reason`)
	for _, r := range runs {
		at := r.At
		if at.IsZero() {
			at = s.now()
		}
		if _, err := tx.ExecContext(ctx, stmt, ms(at), r.Tenant, boolInt(r.Failed), cut(r.Reason, 500)); err != nil {
			return wrap(err)
		}
	}
	return wrap(tx.Commit())
}

func (s *sqlStore) Activity(ctx context.Context, from, to time.Time) (Activity, error) {
	var a Activity
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT p.tenant, p.alert_id, p.channel, p.ts, p.posted_ms, p.severity, p.title, p.policy, p.account, p.ips, p.alert_ms,
			COALESCE(i.issue_key, ''), COALESCE(i.filed_ms, 0)
		FROM posted_alerts p LEFT JOIN issues i ON i.tenant = p.tenant AND i.alert_id = p.alert_id AND i.state = 'created'
		WHERE p.posted_ms >= ? AND p.posted_ms < ?
		ORDER BY p.posted_ms, p.tenant, p.alert_id`), ms(from), ms(to))
	if err != nil {
		return a, wrap(err)
	}
	for rows.Next() {
		var p PostedAlert
		var posted, alertAt, filed int64
		var ips string
		if err := rows.Scan(&p.Tenant, &p.AlertID, &p.Channel, &p.TS, &posted, &p.Severity, &p.Title, &p.Policy, &p.User, &ips, &alertAt,
			&p.IssueKey, &filed); err != nil {
			_ = rows.Close()
			return a, wrap(err)
		}
		p.PostedAt, p.AlertTime, p.FiledAt, p.IPs = fromMS(posted), fromMS(alertAt), fromMS(filed), splitIPs(ips)
		a.Posted = append(a.Posted, p)
	}
	if err := closeRows(rows); err != nil {
		return a, err
	}

	rows, err = s.db.QueryContext(ctx, s.q(`SELECT tenant, alert_id, issue_key, issue_url, claimed_by, claimed_ms, filed_ms FROM issues
		WHERE state = 'created' AND filed_ms >= ? AND filed_ms < ? ORDER BY filed_ms, tenant, alert_id`), ms(from), ms(to))
	if err != nil {
		return a, wrap(err)
	}
	for rows.Next() {
		r := IssueRecord{State: IssueCreated}
		var claimed, filed int64
		if err := rows.Scan(&r.Tenant, &r.AlertID, &r.Key, &r.URL, &r.By, &claimed, &filed); err != nil {
			_ = rows.Close()
			return a, wrap(err)
		}
		r.ClaimedAt, r.FiledAt = fromMS(claimed), fromMS(filed)
		a.Filed = append(a.Filed, r)
	}
	if err := closeRows(rows); err != nil {
		return a, err
	}

	rows, err = s.db.QueryContext(ctx, s.q(`SELECT run_ms, tenant, failed, reason FROM digest_tenant_runs
		WHERE run_ms >= ? AND run_ms < ? ORDER BY run_ms, tenant`), ms(from), ms(to))
	if err != nil {
		return a, wrap(err)
	}
	for rows.Next() {
		var r TenantRun
		var at int64
		var failed int
		if err := rows.Scan(&at, &r.Tenant, &failed, &r.Reason); err != nil {
			_ = rows.Close()
			return a, wrap(err)
		}
		r.At, r.Failed = fromMS(at), failed != 0
		a.Runs = append(a.Runs, r)
	}
	return a, closeRows(rows)
}

type rowsCloser interface {
	Err() error
	Close() error
}

func closeRows(rows rowsCloser) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return wrap(err)
}

func joinIPs(ips []string) string {
	if len(ips) > 10 {
		ips = ips[:10]
	}
	return cut(strings.Join(ips, ","), 1000)
}

func splitIPs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
