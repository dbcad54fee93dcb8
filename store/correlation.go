package store

import (
	"context"
	"strings"
	"time"
)

// Correlation and grouped repeats (issue #11).

// factBatch rows go into one INSERT (6 parameters each: well under both
// databases' limits).
const factBatch = 100

func (s *sqlStore) RememberFacts(ctx context.Context, fs []AlertFact) error {
	if len(fs) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap(err)
	}
	defer func() { _ = tx.Rollback() }()
	for len(fs) > 0 {
		n := min(factBatch, len(fs))
		// One statement must not name a row twice (PostgreSQL refuses
		// "ON CONFLICT DO UPDATE command cannot affect row a second time").
		seen := map[[3]string]bool{}
		var args []any
		rows := 0
		for _, f := range fs[:n] {
			k := [3]string{f.Key, f.Tenant, f.AlertID}
			if seen[k] {
				continue
			}
			seen[k] = true
			args = append(args, f.Key, f.Tenant, f.AlertID, truncate(f.Value, 300), truncate(f.Severity, 20), ms(f.AlertTime))
			rows++
		}
		fs = fs[n:]
		q := `INSERT INTO alert_facts (fact, tenant, alert_id, value, severity, alert_ms) VALUES (?, ?, ?, ?, ?, ?)` +
			strings.Repeat(", (?, ?, ?, ?, ?, ?)", rows-1) +
			` ON CONFLICT (fact, tenant, alert_id) DO UPDATE SET value = excluded.value, severity = excluded.severity, alert_ms = excluded.alert_ms`
		if _, err := tx.ExecContext(ctx, s.q(q), args...); err != nil {
			return wrap(err)
		}
	}
	return wrap(tx.Commit())
}

func (s *sqlStore) FactsFor(ctx context.Context, keys []string, since time.Time) ([]AlertFact, error) {
	var out []AlertFact
	keys = unique(keys)
	const batch = 500
	for len(keys) > 0 {
		n := min(batch, len(keys))
		args := []any{ms(since)}
		for _, k := range keys[:n] {
			args = append(args, k)
		}
		keys = keys[n:]
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT fact, tenant, alert_id, value, severity, alert_ms FROM alert_facts
			WHERE alert_ms >= ? AND fact IN (?`+strings.Repeat(", ?", n-1)+`)`), args...)
		if err != nil {
			return nil, wrap(err)
		}
		for rows.Next() {
			var f AlertFact
			var at int64
			if err := rows.Scan(&f.Key, &f.Tenant, &f.AlertID, &f.Value, &f.Severity, &at); err != nil {
				_ = rows.Close()
				return nil, wrap(err)
			}
			f.AlertTime = fromMS(at)
			out = append(out, f)
		}
		if err := rows.Close(); err != nil {
			return nil, wrap(err)
		}
	}
	return out, nil
}

func (s *sqlStore) ForgetFacts(ctx context.Context, before time.Time) (int64, error) {
	r, err := s.exec(ctx, `DELETE FROM alert_facts WHERE alert_ms < ?`, ms(before))
	if err != nil {
		return 0, err
	}
	n, _ := r.RowsAffected()
	return n, nil
}

func (s *sqlStore) GroupIssues(ctx context.Context, tenant string, signatures []string, since time.Time) (map[string]GroupIssue, error) {
	out := map[string]GroupIssue{}
	signatures = unique(signatures)
	const batch = 500
	for len(signatures) > 0 {
		n := min(batch, len(signatures))
		args := []any{tenant, ms(since)}
		for _, sig := range signatures[:n] {
			args = append(args, sig)
		}
		signatures = signatures[n:]
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT signature, issue_key, issue_url, last_ms FROM group_issues
			WHERE tenant = ? AND last_ms >= ? AND signature IN (?`+strings.Repeat(", ?", n-1)+`)`), args...)
		if err != nil {
			return nil, wrap(err)
		}
		for rows.Next() {
			g := GroupIssue{Tenant: tenant}
			var at int64
			if err := rows.Scan(&g.Signature, &g.Key, &g.URL, &at); err != nil {
				_ = rows.Close()
				return nil, wrap(err)
			}
			g.Last = fromMS(at)
			out[g.Signature] = g
		}
		if err := rows.Close(); err != nil {
			return nil, wrap(err)
		}
	}
	return out, s.groupIssueStates(ctx, tenant, out)
}

// groupIssueStates adds what the Jira sync last saw of each group's issue:
// the state of an alert filed under it, the newest seen.
func (s *sqlStore) groupIssueStates(ctx context.Context, tenant string, gs map[string]GroupIssue) error {
	var keys []string
	for _, g := range gs {
		keys = append(keys, g.Key)
	}
	keys = unique(keys)
	if len(keys) == 0 {
		return nil
	}
	args := []any{tenant}
	for _, k := range keys {
		args = append(args, k)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT issue_key, status, category, resolution FROM jira_states
		WHERE tenant = ? AND gone = 0 AND issue_key IN (?`+strings.Repeat(", ?", len(keys)-1)+`) ORDER BY seen_ms`), args...)
	if err != nil {
		return wrap(err)
	}
	defer rows.Close()
	states := map[string][3]string{}
	for rows.Next() {
		var key string
		var st [3]string
		if err := rows.Scan(&key, &st[0], &st[1], &st[2]); err != nil {
			return wrap(err)
		}
		states[key] = st // the newest seen wins
	}
	if err := rows.Err(); err != nil {
		return wrap(err)
	}
	for sig, g := range gs {
		if st, ok := states[g.Key]; ok {
			g.Status, g.Category, g.Resolution = st[0], st[1], st[2]
			gs[sig] = g
		}
	}
	return nil
}

func (s *sqlStore) SaveGroupIssue(ctx context.Context, g GroupIssue) error {
	// The same issue only moves forward; another issue (the group was filed
	// anew after its window) replaces it.
	_, err := s.exec(ctx, `INSERT INTO group_issues (tenant, signature, issue_key, issue_url, last_ms) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant, signature) DO UPDATE SET issue_key = excluded.issue_key, issue_url = excluded.issue_url,
			last_ms = CASE WHEN group_issues.issue_key = excluded.issue_key AND group_issues.last_ms > excluded.last_ms
				THEN group_issues.last_ms ELSE excluded.last_ms END`,
		g.Tenant, g.Signature, g.Key, g.URL, ms(g.Last))
	return err
}

func unique(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
