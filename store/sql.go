package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// dialect is what differs between SQLite and PostgreSQL.
type dialect struct {
	name string
	// numbered placeholders ($1) instead of ?
	dollar bool
	// lockMigrations serializes migrations between processes.
	lockMigrations func(ctx context.Context, tx *sql.Tx) error
}

// sqlStore implements Store on database/sql for both dialects.
type sqlStore struct {
	db  *sql.DB
	d   dialect
	now func() time.Time
	// budgets are SQLite's request budgets: one process, so in memory.
	budgets memBudgets
}

func (s *sqlStore) q(query string) string {
	if !s.d.dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *sqlStore) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	r, err := s.db.ExecContext(ctx, s.q(query), args...)
	return r, wrap(err)
}

func wrap(err error) error {
	if err == nil || errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

var migrations = []string{
	// 1: the first schema.
	`CREATE TABLE IF NOT EXISTS digest_cursors (
		tenant     TEXT PRIMARY KEY,
		newest_ms  BIGINT NOT NULL,
		updated_ms BIGINT NOT NULL
	);
	CREATE TABLE IF NOT EXISTS posted_alerts (
		tenant    TEXT NOT NULL,
		alert_id  TEXT NOT NULL,
		channel   TEXT NOT NULL,
		ts        TEXT NOT NULL,
		posted_ms BIGINT NOT NULL,
		PRIMARY KEY (tenant, alert_id)
	);
	CREATE TABLE IF NOT EXISTS issues (
		tenant     TEXT NOT NULL,
		alert_id   TEXT NOT NULL,
		state      TEXT NOT NULL CHECK (state IN ('pending', 'created', 'failed')),
		issue_key  TEXT NOT NULL DEFAULT '',
		issue_url  TEXT NOT NULL DEFAULT '',
		claimed_by TEXT NOT NULL DEFAULT '',
		claimed_ms BIGINT NOT NULL DEFAULT 0,
		filed_ms   BIGINT NOT NULL DEFAULT 0,
		error      TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (tenant, alert_id)
	);
	CREATE TABLE IF NOT EXISTS runs (
		run       TEXT PRIMARY KEY,
		owner     TEXT NOT NULL,
		state     TEXT NOT NULL CHECK (state IN ('running', 'done')),
		lease_ms  BIGINT NOT NULL,
		updated_ms BIGINT NOT NULL
	);
	CREATE TABLE IF NOT EXISTS leases (
		name     TEXT PRIMARY KEY,
		owner    TEXT NOT NULL,
		until_ms BIGINT NOT NULL
	)`,
	// 2: digest messages' render input, to redraw them from state.
	`CREATE TABLE IF NOT EXISTS digest_messages (
		channel    TEXT NOT NULL,
		ts         TEXT NOT NULL,
		body       TEXT NOT NULL,
		updated_ms BIGINT NOT NULL,
		PRIMARY KEY (channel, ts)
	)`,
	// 3: shared request budgets and cache (issue #10)
	`CREATE TABLE IF NOT EXISTS budget_slots (
		id     BIGINT PRIMARY KEY,
		budget TEXT NOT NULL,
		at_ms  BIGINT NOT NULL
	);
	CREATE INDEX IF NOT EXISTS budget_slots_by_time ON budget_slots (budget, at_ms);
	CREATE TABLE IF NOT EXISTS shared_cache (
		key      TEXT PRIMARY KEY,
		value    TEXT NOT NULL,
		until_ms BIGINT NOT NULL
	)`,
	// 4: what the weekly report counts, and the Jira state the sync last saw (issue #13).
	`ALTER TABLE posted_alerts ADD COLUMN severity TEXT NOT NULL DEFAULT '';
	ALTER TABLE posted_alerts ADD COLUMN title TEXT NOT NULL DEFAULT '';
	ALTER TABLE posted_alerts ADD COLUMN policy TEXT NOT NULL DEFAULT '';
	ALTER TABLE posted_alerts ADD COLUMN account TEXT NOT NULL DEFAULT '';
	ALTER TABLE posted_alerts ADD COLUMN ips TEXT NOT NULL DEFAULT '';
	ALTER TABLE posted_alerts ADD COLUMN alert_ms BIGINT NOT NULL DEFAULT 0;
	CREATE INDEX IF NOT EXISTS posted_alerts_by_time ON posted_alerts (posted_ms);
	CREATE INDEX IF NOT EXISTS issues_by_filed ON issues (filed_ms);
	CREATE TABLE IF NOT EXISTS digest_tenant_runs (
		run_ms BIGINT NOT NULL,
		tenant TEXT NOT NULL,
		failed INTEGER NOT NULL,
		reason TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (run_ms, tenant)
	);
	CREATE TABLE IF NOT EXISTS jira_states (
		tenant         TEXT NOT NULL,
		alert_id       TEXT NOT NULL,
		issue_key      TEXT NOT NULL,
		status         TEXT NOT NULL DEFAULT '',
		category       TEXT NOT NULL DEFAULT '',
		resolution     TEXT NOT NULL DEFAULT '',
		assignee_id    TEXT NOT NULL DEFAULT '',
		assignee_name  TEXT NOT NULL DEFAULT '',
		assignee_slack TEXT NOT NULL DEFAULT '',
		gone           INTEGER NOT NULL DEFAULT 0,
		seen_ms        BIGINT NOT NULL,
		drawn          INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (tenant, alert_id)
	)`,
	// 5: alert closes (issue #8)
	`CREATE TABLE IF NOT EXISTS closes (
		tenant         TEXT NOT NULL,
		alert_id       TEXT NOT NULL,
		state          TEXT NOT NULL CHECK (state IN ('pending', 'closed', 'failed')),
		closed_by      TEXT NOT NULL DEFAULT '',
		closed_by_name TEXT NOT NULL DEFAULT '',
		classification TEXT NOT NULL DEFAULT '',
		reason         TEXT NOT NULL DEFAULT '',
		comment        TEXT NOT NULL DEFAULT '',
		elsewhere      INTEGER NOT NULL DEFAULT 0,
		handled_by     TEXT NOT NULL DEFAULT '',
		claimed_ms     BIGINT NOT NULL DEFAULT 0,
		closed_ms      BIGINT NOT NULL DEFAULT 0,
		error          TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (tenant, alert_id)
	);
	CREATE INDEX IF NOT EXISTS closes_closed_ms ON closes (state, closed_ms)`,
	// 6: facts of the alerts the digest saw, for correlation across
	// tenants, and the issues of groups of repeats (issue #11).
	`CREATE TABLE IF NOT EXISTS alert_facts (
		fact     TEXT NOT NULL,
		tenant   TEXT NOT NULL,
		alert_id TEXT NOT NULL,
		value    TEXT NOT NULL,
		severity TEXT NOT NULL,
		alert_ms BIGINT NOT NULL,
		PRIMARY KEY (fact, tenant, alert_id)
	);
	CREATE INDEX IF NOT EXISTS alert_facts_by_time ON alert_facts (alert_ms);
	CREATE TABLE IF NOT EXISTS group_issues (
		tenant    TEXT NOT NULL,
		signature TEXT NOT NULL,
		issue_key TEXT NOT NULL,
		issue_url TEXT NOT NULL DEFAULT '',
		last_ms   BIGINT NOT NULL,
		PRIMARY KEY (tenant, signature)
	)`,
	// 7: a group's issue state by its key (repeats after a done issue, #16)
	`CREATE INDEX IF NOT EXISTS jira_states_by_key ON jira_states (tenant, issue_key)`,
	// 8: each period's scheduled report, sent once across replicas (issue #16).
	`CREATE TABLE IF NOT EXISTS report_sends (
		period     TEXT PRIMARY KEY,
		state      TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
		owner      TEXT NOT NULL,
		attempts   INTEGER NOT NULL,
		lease_ms   BIGINT NOT NULL,
		channel    TEXT NOT NULL DEFAULT '',
		ts         TEXT NOT NULL DEFAULT '',
		error      TEXT NOT NULL DEFAULT '',
		sent_ms    BIGINT NOT NULL DEFAULT 0,
		updated_ms BIGINT NOT NULL
	)`,
	// 9: alerts reopened in Defender after a close (issue #16): closes gets
	// the state 'reopened' (SQLite cannot change a CHECK, so the table is
	// rebuilt, rows kept) and a generation; each earlier close is kept in
	// close_history for the report.
	`CREATE TABLE closes_v7 (
		tenant         TEXT NOT NULL,
		alert_id       TEXT NOT NULL,
		state          TEXT NOT NULL CHECK (state IN ('pending', 'closed', 'failed', 'reopened')),
		closed_by      TEXT NOT NULL DEFAULT '',
		closed_by_name TEXT NOT NULL DEFAULT '',
		classification TEXT NOT NULL DEFAULT '',
		reason         TEXT NOT NULL DEFAULT '',
		comment        TEXT NOT NULL DEFAULT '',
		elsewhere      INTEGER NOT NULL DEFAULT 0,
		handled_by     TEXT NOT NULL DEFAULT '',
		claimed_ms     BIGINT NOT NULL DEFAULT 0,
		closed_ms      BIGINT NOT NULL DEFAULT 0,
		error          TEXT NOT NULL DEFAULT '',
		generation     INTEGER NOT NULL DEFAULT 0,
		reopened_ms    BIGINT NOT NULL DEFAULT 0,
		PRIMARY KEY (tenant, alert_id)
	);
	INSERT INTO closes_v7 (tenant, alert_id, state, closed_by, closed_by_name, classification, reason, comment, elsewhere, handled_by, claimed_ms, closed_ms, error)
		SELECT tenant, alert_id, state, closed_by, closed_by_name, classification, reason, comment, elsewhere, handled_by, claimed_ms, closed_ms, error FROM closes;
	DROP TABLE closes;
	ALTER TABLE closes_v7 RENAME TO closes;
	CREATE INDEX IF NOT EXISTS closes_closed_ms ON closes (state, closed_ms);
	CREATE TABLE IF NOT EXISTS close_history (
		tenant         TEXT NOT NULL,
		alert_id       TEXT NOT NULL,
		generation     INTEGER NOT NULL,
		closed_by      TEXT NOT NULL DEFAULT '',
		closed_by_name TEXT NOT NULL DEFAULT '',
		classification TEXT NOT NULL DEFAULT '',
		reason         TEXT NOT NULL DEFAULT '',
		comment        TEXT NOT NULL DEFAULT '',
		elsewhere      INTEGER NOT NULL DEFAULT 0,
		handled_by     TEXT NOT NULL DEFAULT '',
		claimed_ms     BIGINT NOT NULL DEFAULT 0,
		closed_ms      BIGINT NOT NULL DEFAULT 0,
		reopened_ms    BIGINT NOT NULL DEFAULT 0,
		PRIMARY KEY (tenant, alert_id, generation)
	);
	CREATE INDEX IF NOT EXISTS close_history_closed_ms ON close_history (closed_ms)`,
	// 10: the API each tenant's cursor was read through, and the floor set
	// when it changed (issue #17); every cursor before was MCAS's.
	`ALTER TABLE digest_cursors ADD COLUMN source TEXT NOT NULL DEFAULT 'mcas';
	ALTER TABLE digest_cursors ADD COLUMN floor_ms BIGINT NOT NULL DEFAULT 0`,
	// 11: what pruning old state looks up (issue #19): a message's alerts;
	// the claims and the recent issues, closes and Jira states that keep
	// an alert; the oldest messages and groups.
	`CREATE INDEX IF NOT EXISTS posted_alerts_by_message ON posted_alerts (channel, ts);
	CREATE INDEX IF NOT EXISTS issues_by_state ON issues (state);
	CREATE INDEX IF NOT EXISTS issues_by_claimed ON issues (claimed_ms);
	CREATE INDEX IF NOT EXISTS closes_by_claimed ON closes (claimed_ms);
	CREATE INDEX IF NOT EXISTS closes_by_closed ON closes (closed_ms);
	CREATE INDEX IF NOT EXISTS jira_states_by_seen ON jira_states (seen_ms);
	CREATE INDEX IF NOT EXISTS digest_messages_by_time ON digest_messages (updated_ms);
	CREATE INDEX IF NOT EXISTS group_issues_by_last ON group_issues (last_ms);
	CREATE INDEX IF NOT EXISTS closes_by_reopened ON closes (reopened_ms)`,
}

// migrate brings the schema up to date; safe to run concurrently.
func (s *sqlStore) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap(err)
	}
	defer func() { _ = tx.Rollback() }()
	if s.d.lockMigrations != nil {
		if err := s.d.lockMigrations(ctx, tx); err != nil {
			return fmt.Errorf("locking migrations: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("database schema is version %d, newer than this binary knows (%d): refusing to run an older mcasbot against it", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		for _, stmt := range strings.Split(migrations[v-1], ";\n") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_ms) VALUES (?, ?)`), v, ms(s.now())); err != nil {
			return fmt.Errorf("recording migration %d: %w", v, err)
		}
	}
	return tx.Commit()
}

// SchemaVersion reports the applied schema version.
func (s *sqlStore) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, wrap(err)
}

func (s *sqlStore) Cursor(ctx context.Context, tenant string) (time.Time, bool, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT newest_ms FROM digest_cursors WHERE tenant = ?`), tenant).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, wrap(err)
	}
	return fromMS(v), true, nil
}

func (s *sqlStore) AdvanceCursor(ctx context.Context, tenant string, t time.Time) error {
	_, err := s.exec(ctx, `INSERT INTO digest_cursors (tenant, newest_ms, updated_ms) VALUES (?, ?, ?)
		ON CONFLICT (tenant) DO UPDATE SET
			newest_ms = CASE WHEN excluded.newest_ms > digest_cursors.newest_ms THEN excluded.newest_ms ELSE digest_cursors.newest_ms END,
			updated_ms = excluded.updated_ms`, tenant, ms(t), ms(s.now()))
	return err
}

func (s *sqlStore) Posted(ctx context.Context, tenant string, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	const batch = 500
	for len(ids) > 0 {
		n := min(batch, len(ids))
		chunk := ids[:n]
		ids = ids[n:]
		args := []any{tenant}
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT alert_id FROM posted_alerts WHERE tenant = ? AND alert_id IN (?`+strings.Repeat(", ?", n-1)+`)`), args...)
		if err != nil {
			return nil, wrap(err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				_ = rows.Close()
				return nil, wrap(err)
			}
			out[id] = true
		}
		if err := rows.Close(); err != nil {
			return nil, wrap(err)
		}
	}
	return out, nil
}

func (s *sqlStore) MarkPosted(ctx context.Context, ps []Posting) error {
	if len(ps) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap(err)
	}
	defer func() { _ = tx.Rollback() }()
	stmt := s.q(`INSERT INTO posted_alerts (tenant, alert_id, channel, ts, posted_ms, severity, title, policy, account, ips, alert_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant, alert_id) DO UPDATE SET channel = excluded.channel, ts = excluded.ts, posted_ms = excluded.posted_ms,
			severity = excluded.severity, title = excluded.title, policy = excluded.policy, account = excluded.account, ips = excluded.ips, alert_ms = excluded.alert_ms`)
	for _, p := range ps {
		at := p.PostedAt
		if at.IsZero() {
			at = s.now()
		}
		if _, err := tx.ExecContext(ctx, stmt, p.Tenant, p.AlertID, p.Channel, p.TS, ms(at),
			cut(p.Severity, 20), cut(p.Title, 300), cut(p.Policy, 200), cut(p.User, 200), joinIPs(p.IPs), ms(p.AlertTime)); err != nil {
			return wrap(err)
		}
	}
	return wrap(tx.Commit())
}

func (s *sqlStore) Message(ctx context.Context, tenant, alertID string) (Posting, bool, error) {
	p := Posting{Tenant: tenant, AlertID: alertID}
	var at, alertAt int64
	var ips string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT channel, ts, posted_ms, severity, title, policy, account, ips, alert_ms FROM posted_alerts WHERE tenant = ? AND alert_id = ?`),
		tenant, alertID).Scan(&p.Channel, &p.TS, &at, &p.Severity, &p.Title, &p.Policy, &p.User, &ips, &alertAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Posting{}, false, nil
	}
	if err != nil {
		return Posting{}, false, wrap(err)
	}
	p.PostedAt, p.AlertTime, p.IPs = fromMS(at), fromMS(alertAt), splitIPs(ips)
	return p, true, nil
}

func (s *sqlStore) ClaimIssue(ctx context.Context, tenant, alertID, user string) (Claim, error) {
	now := s.now()
	r, err := s.exec(ctx, `INSERT INTO issues (tenant, alert_id, state, claimed_by, claimed_ms) VALUES (?, ?, 'pending', ?, ?)
		ON CONFLICT (tenant, alert_id) DO NOTHING`, tenant, alertID, user, ms(now))
	if err != nil {
		return Claim{}, err
	}
	if n, _ := r.RowsAffected(); n == 1 {
		return Claim{Won: true}, nil
	}
	// A failed claim, or one left pending by a caller that died, can be taken.
	r, err = s.exec(ctx, `UPDATE issues SET state = 'pending', claimed_by = ?, claimed_ms = ?, error = ''
		WHERE tenant = ? AND alert_id = ? AND (state = 'failed' OR (state = 'pending' AND claimed_ms < ?))`,
		user, ms(now), tenant, alertID, ms(now.Add(-StaleClaim)))
	if err != nil {
		return Claim{}, err
	}
	if n, _ := r.RowsAffected(); n == 1 {
		return Claim{Won: true, TookOver: true}, nil
	}
	rec, ok, err := s.Issue(ctx, tenant, alertID)
	if err != nil {
		return Claim{}, err
	}
	if !ok {
		return Claim{}, fmt.Errorf("issue record for %s/%s vanished during claim", tenant, alertID)
	}
	return Claim{Record: rec}, nil
}

func (s *sqlStore) CompleteIssue(ctx context.Context, tenant, alertID, key, url string) error {
	r, err := s.exec(ctx, `UPDATE issues SET state = 'created', issue_key = ?, issue_url = ?, filed_ms = ?, error = ''
		WHERE tenant = ? AND alert_id = ? AND state <> 'created'`, key, url, ms(s.now()), tenant, alertID)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		rec, ok, err := s.Issue(ctx, tenant, alertID)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("no claim for %s/%s", tenant, alertID)
		}
		if rec.Key != key {
			return fmt.Errorf("alert %s/%s is already recorded as %s, not %s", tenant, alertID, rec.Key, key)
		}
	}
	return nil
}

func (s *sqlStore) FailIssue(ctx context.Context, tenant, alertID, reason string) error {
	_, err := s.exec(ctx, `UPDATE issues SET state = 'failed', error = ? WHERE tenant = ? AND alert_id = ? AND state = 'pending'`,
		truncate(reason, 1000), tenant, alertID)
	return err
}

func (s *sqlStore) NoteIssue(ctx context.Context, tenant, alertID, note string) error {
	_, err := s.exec(ctx, `UPDATE issues SET error = ? WHERE tenant = ? AND alert_id = ? AND state = 'pending'`,
		truncate(note, 1000), tenant, alertID)
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func (s *sqlStore) Issue(ctx context.Context, tenant, alertID string) (IssueRecord, bool, error) {
	rec := IssueRecord{Tenant: tenant, AlertID: alertID}
	var state string
	var claimed, filed int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT state, issue_key, issue_url, claimed_by, claimed_ms, filed_ms, error FROM issues WHERE tenant = ? AND alert_id = ?`),
		tenant, alertID).Scan(&state, &rec.Key, &rec.URL, &rec.By, &claimed, &filed, &rec.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return IssueRecord{}, false, nil
	}
	if err != nil {
		return IssueRecord{}, false, wrap(err)
	}
	rec.State, rec.ClaimedAt, rec.FiledAt = IssueState(state), fromMS(claimed), fromMS(filed)
	return rec, true, nil
}

func (s *sqlStore) TryRun(ctx context.Context, run, owner string, lease time.Duration) (bool, error) {
	now := s.now()
	r, err := s.exec(ctx, `INSERT INTO runs (run, owner, state, lease_ms, updated_ms) VALUES (?, ?, 'running', ?, ?)
		ON CONFLICT (run) DO NOTHING`, run, owner, ms(now.Add(lease)), ms(now))
	if err != nil {
		return false, err
	}
	if n, _ := r.RowsAffected(); n == 1 {
		return true, nil
	}
	// A run whose owner died (lease expired, never finished) is taken over.
	r, err = s.exec(ctx, `UPDATE runs SET owner = ?, lease_ms = ?, updated_ms = ? WHERE run = ? AND state = 'running' AND lease_ms < ?`,
		owner, ms(now.Add(lease)), ms(now), run, ms(now))
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

func (s *sqlStore) FinishRun(ctx context.Context, run, owner string) error {
	_, err := s.exec(ctx, `UPDATE runs SET state = 'done', updated_ms = ? WHERE run = ? AND owner = ?`, ms(s.now()), run, owner)
	return err
}

func (s *sqlStore) Lock(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	now := s.now()
	r, err := s.exec(ctx, `INSERT INTO leases (name, owner, until_ms) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until_ms = excluded.until_ms
		WHERE leases.owner = excluded.owner OR leases.until_ms < ?`, name, owner, ms(now.Add(ttl)), ms(now))
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

func (s *sqlStore) Unlock(ctx context.Context, name, owner string) error {
	_, err := s.exec(ctx, `DELETE FROM leases WHERE name = ? AND owner = ?`, name, owner)
	return err
}

func (s *sqlStore) Ping(ctx context.Context) error { return wrap(s.db.PingContext(ctx)) }

func (s *sqlStore) Close() error { return s.db.Close() }
