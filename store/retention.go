package store

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Bounded state (issue #19): Prune removes what no feature needs any more,
// in small batches, so SQLite's one writer and PostgreSQL's row locks are
// only ever held for one batch.
//
// History goes once it is older than the cutoff: the earlier of before
// (now - STATE_RETENTION) and the start of what the report reads (its
// period and the one before). Table by table:
//
//	table               goes when                                   stays while
//	posted_alerts       posted before the cutoff, a digest message  any alert of the same message has a
//	 + issues, closes,  at a time, taking its alerts' issue, close  newer record (a reopen too), a pending
//	   close_history,   (and its history) and Jira state along; an  claim (issue or close), or an issue
//	   jira_states      alert never posted goes once each of its    the Jira sync still follows (filed
//	                    records is old                              since TrackSince)
//	digest_messages     drawn before the cutoff, none of its        any of its alerts stays
//	                    alerts staying
//	digest_tenant_runs  run before the cutoff
//	report_sends        last touched before the cutoff
//	alert_facts         alert before the cutoff and before the      (the digest also forgets them after
//	                    correlation window                          the window)
//	group_issues        newest alert before the cutoff and before
//	                    the correlation window
//	runs                lease ended and untouched for 7 days        (operational, not history:
//	leases              expired for an hour                          pruned whatever the retention)
//	budget_slots        started a day ago
//	shared_cache        expired
//	digest_cursors      never (one row per tenant)
//
// An alert's records go together, and a message's alerts go together: a
// message that is redrawn (its issue moved to Done, someone closed one of
// its alerts) shows every alert as it was, never an old alert whose issue
// or close record is gone. Dropping an old issue record is safe: a click
// that needs one again (a Create Jira on a message older than the
// retention) searches Jira by the alert's label before filing, so no
// duplicate is filed.

// KeepRules are what other features still read, kept whatever the
// retention says. A zero time is no rule.
type KeepRules struct {
	// ReportSince is where the report's lookback starts (the period before
	// the last one): nothing it reads from here on goes.
	ReportSince time.Time
	// TrackSince is the Jira sync's window (JIRA_SYNC_DAYS): issues filed
	// from here on stay with everything their message draws, done or not,
	// so the sync can still redraw it. Zero when the sync is off.
	TrackSince time.Time
	// CorrelationSince is where correlation and grouped repeats look back
	// to (CORRELATION_WINDOW): facts and groups' issues from here on stay.
	CorrelationSince time.Time
}

// PruneOptions say how Prune works.
type PruneOptions struct {
	// Batch is how many rows one statement (and transaction) deletes
	// (default 1000).
	Batch int
	// Pause is waited between batches, to let other writers in. Within
	// one process none is needed; another process's writer on the same
	// SQLite file polls for the lock up to every 100 ms, so pause at least
	// that long when one may be writing (bot prune beside a running bot).
	Pause time.Duration
	// DryRun counts what would go and deletes nothing.
	DryRun bool
}

// PruneReport is what Prune did (or, in a dry run, would do).
type PruneReport struct {
	// Cutoff is where history was cut: rows older went. Zero when history
	// is kept (before was zero).
	Cutoff time.Time
	Pruned map[string]int64 // rows by table
	// Batches is how many batches ran, Longest the longest of them (one
	// transaction: the longest any lock was held).
	Batches int
	Longest time.Duration
	Took    time.Duration
}

// Total is every row pruned.
func (r PruneReport) Total() int64 {
	var n int64
	for _, v := range r.Pruned {
		n += v
	}
	return n
}

// StoreSize is how big the store is.
type StoreSize struct {
	Rows map[string]int64 // by table (Tables)
	// Bytes is what the database takes on disk (SQLite: the main file;
	// PostgreSQL: the tables with their indexes and TOAST); 0 when unknown.
	Bytes int64
}

// Total is every row.
func (s StoreSize) Total() int64 {
	var n int64
	for _, v := range s.Rows {
		n += v
	}
	return n
}

// Tables are the tables Size counts, in the order they are shown.
var Tables = []string{"posted_alerts", "digest_messages", "issues", "jira_states", "closes", "close_history", "digest_tenant_runs",
	"report_sends", "alert_facts", "group_issues", "digest_cursors", "runs", "leases", "budget_slots", "shared_cache"}

// Operational rows are pruned whatever the retention.
const (
	runsGrace   = 7 * 24 * time.Hour
	leasesGrace = time.Hour
	slotsGrace  = 24 * time.Hour
)

// DefaultPruneBatch is PruneOptions.Batch's default.
const DefaultPruneBatch = 1000

// maxIn bounds the values of one IN list (both databases take far more).
const maxIn = 500

type pruner struct {
	s   *sqlStore
	o   PruneOptions
	rep *PruneReport
	// Cutoffs in ms: history, issues (the earlier of the history cutoff
	// and the Jira sync's window), facts and groups.
	cut, issueCut, corrCut int64
	// found is set when a batch found rows: the next one pauses first.
	found bool
}

func (s *sqlStore) Prune(ctx context.Context, before time.Time, keep KeepRules, o PruneOptions) (PruneReport, error) {
	start := time.Now()
	if o.Batch <= 0 {
		o.Batch = DefaultPruneBatch
	}
	rep := PruneReport{Pruned: map[string]int64{}}
	p := &pruner{s: s, o: o, rep: &rep}
	steps := []func(context.Context) error{}
	if !before.IsZero() {
		cut := earliest(before, keep.ReportSince)
		rep.Cutoff = cut.UTC()
		p.cut, p.issueCut, p.corrCut = ms(cut), ms(earliest(cut, keep.TrackSince)), ms(earliest(cut, keep.CorrelationSince))
		steps = append(steps, p.postedAlerts,
			p.unposted("issues", "claimed_ms", `r.state <> 'pending' AND r.claimed_ms < %[2]d AND r.filed_ms < %[2]d`, ""),
			p.unposted("closes", "claimed_ms", `r.state <> 'pending' AND r.claimed_ms < %[1]d AND r.closed_ms < %[1]d AND r.reopened_ms < %[1]d`,
				`NOT EXISTS (SELECT 1 FROM issues x WHERE x.tenant = r.tenant AND x.alert_id = r.alert_id)`),
			p.unposted("jira_states", "seen_ms", `r.seen_ms < %[1]d`,
				`NOT EXISTS (SELECT 1 FROM issues x WHERE x.tenant = r.tenant AND x.alert_id = r.alert_id)
				AND NOT EXISTS (SELECT 1 FROM closes x WHERE x.tenant = r.tenant AND x.alert_id = r.alert_id)`),
			p.messages,
			p.simple("digest_tenant_runs", "run_ms", fmt.Sprintf("run_ms < %d", p.cut)),
			p.simple("report_sends", "updated_ms", fmt.Sprintf("updated_ms < %d", p.cut)),
			p.simple("alert_facts", "alert_ms", fmt.Sprintf("alert_ms < %d", p.corrCut)),
			p.simple("group_issues", "last_ms", fmt.Sprintf("last_ms < %d", p.corrCut)))
	}
	now := s.now()
	old := func(d time.Duration) int64 { return ms(now.Add(-d)) }
	steps = append(steps,
		p.simple("runs", "updated_ms", fmt.Sprintf("lease_ms < %[1]d AND updated_ms < %[1]d", old(runsGrace))),
		p.simple("leases", "until_ms", fmt.Sprintf("until_ms < %d", old(leasesGrace))),
		p.simple("budget_slots", "at_ms", fmt.Sprintf("at_ms < %d", old(slotsGrace))),
		p.simple("shared_cache", "until_ms", fmt.Sprintf("until_ms < %d", ms(now))))
	for _, step := range steps {
		if err := step(ctx); err != nil {
			rep.Took = time.Since(start)
			return rep, err
		}
	}
	rep.Took = time.Since(start)
	return rep, nil
}

// earliest is the earlier of a and b; a zero b is no bound.
func earliest(a, b time.Time) time.Time {
	if !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

// batch runs one batch in its own transaction, timing it; it pauses first
// when the batch before found rows.
func (p *pruner) batch(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if p.found && p.o.Pause > 0 {
		p.found = false
		select {
		case <-ctx.Done():
			return wrap(ctx.Err())
		case <-time.After(p.o.Pause):
		}
	}
	if err := ctx.Err(); err != nil {
		return wrap(err)
	}
	start := time.Now()
	tx, err := p.s.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap(err)
	}
	defer func() { _ = tx.Rollback() }()
	if p.s.d.dollar {
		// Compiling these short statements costs more than running them.
		if _, err := tx.ExecContext(ctx, `SET LOCAL jit = off`); err != nil {
			return wrap(err)
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return wrap(err)
	}
	p.rep.Batches++
	p.rep.Longest = max(p.rep.Longest, time.Since(start))
	return nil
}

// holds are what keeps an alert: a pending claim, or an issue, close or
// Jira state newer than the cutoffs. Each is a table and how it joins the
// alert (columns tenant and alert_id of alias a). They are kept apart, a
// (NOT) EXISTS or a UNION each, so PostgreSQL looks each up by primary
// key rather than scanning a table for every statement.
func (p *pruner) holds(a string) [][2]string {
	return [][2]string{
		{"issues hi", fmt.Sprintf(`hi.tenant = %[1]s.tenant AND hi.alert_id = %[1]s.alert_id
			AND (hi.state = 'pending' OR hi.claimed_ms >= %[2]d OR hi.filed_ms >= %[2]d)`, a, p.issueCut)},
		{"closes hc", fmt.Sprintf(`hc.tenant = %[1]s.tenant AND hc.alert_id = %[1]s.alert_id
			AND (hc.state = 'pending' OR hc.claimed_ms >= %[2]d OR hc.closed_ms >= %[2]d OR hc.reopened_ms >= %[2]d)`, a, p.cut)},
		{"jira_states hj", fmt.Sprintf(`hj.tenant = %[1]s.tenant AND hj.alert_id = %[1]s.alert_id AND hj.seen_ms >= %[2]d`, a, p.cut)},
	}
}

// notHeld is true of an alert (alias r) that nothing holds.
func (p *pruner) notHeld(r string) string {
	var and []string
	for _, h := range p.holds(r) {
		and = append(and, `NOT EXISTS (SELECT 1 FROM `+h[0]+` WHERE `+h[1]+`)`)
	}
	return strings.Join(and, " AND ")
}

// heldBy are the queries of a message's alerts (alias q, posted in
// channel ? with ts in list) that hold it: posted after the cutoff, or
// held.
func (p *pruner) heldBy(list string) []string {
	where := ` WHERE q.channel = ? AND q.ts IN (` + list + `)`
	out := []string{`SELECT q.ts FROM posted_alerts q` + where + fmt.Sprintf(` AND q.posted_ms >= %d`, p.cut)}
	for _, h := range p.holds("q") {
		out = append(out, `SELECT q.ts FROM posted_alerts q JOIN `+h[0]+` ON `+h[1]+where)
	}
	return out
}

type alertKey struct{ tenant, id string }

// testBeforeDrop, set by a test, runs between choosing alerts and
// deleting them: where a click can come in on PostgreSQL.
var testBeforeDrop func()

// keyset walks a table oldest first by a time column (indexed) and two
// key columns, each batch carrying on after the last row of the one
// before: rows a batch kept are not read again, and a prune that finds
// little reads little.
type keyset struct {
	col, k1, k2 string // qualified column names
	started     bool
	at          int64
	v1, v2      string
}

// after is the condition for the rows after the last batch's, with its
// arguments, and the order to read them in.
func (k *keyset) after() (string, []any) {
	order := fmt.Sprintf(` ORDER BY %s, %s, %s`, k.col, k.k1, k.k2)
	if !k.started {
		return order, nil
	}
	return fmt.Sprintf(` AND %[1]s >= ? AND (%[1]s > ? OR %[2]s > ? OR (%[2]s = ? AND %[3]s > ?))`, k.col, k.k1, k.k2) + order,
		[]any{k.at, k.at, k.v1, k.v1, k.v2}
}

// keyRow is a row read by a keyset: its two key columns and its time.
type keyRow struct {
	k1, k2 string
	at     int64
}

// read runs q (which selects k1, k2, col and then extra columns into
// dest) after the last batch, and moves past the rows it returns.
func (k *keyset) read(ctx context.Context, tx *sql.Tx, p *pruner, q string, dest func() []any) ([]keyRow, error) {
	after, args := k.after()
	rows, err := tx.QueryContext(ctx, p.s.q(q+after+fmt.Sprintf(` LIMIT %d`, p.o.Batch)), args...)
	if err != nil {
		return nil, wrap(err)
	}
	var out []keyRow
	for rows.Next() {
		var r keyRow
		d := []any{&r.k1, &r.k2, &r.at}
		if dest != nil {
			d = append(d, dest()...)
		}
		if err := rows.Scan(d...); err != nil {
			_ = rows.Close()
			return nil, wrap(err)
		}
		out = append(out, r)
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	if n := len(out); n > 0 {
		k.started, k.at, k.v1, k.v2 = true, out[n-1].at, out[n-1].k1, out[n-1].k2
	}
	return out, nil
}

// postedAlerts prunes the alerts posted before the cutoff, oldest first,
// with their issue, close and Jira state, unless their message is held.
func (p *pruner) postedAlerts(ctx context.Context) error {
	k := &keyset{col: "posted_ms", k1: "tenant", k2: "alert_id"}
	for {
		n := 0
		err := p.batch(ctx, func(tx *sql.Tx) error {
			var msgs [][2]string
			rows, err := k.read(ctx, tx, p, fmt.Sprintf(`SELECT tenant, alert_id, posted_ms, channel, ts FROM posted_alerts WHERE posted_ms < %d`, p.cut),
				func() []any {
					msgs = append(msgs, [2]string{})
					m := &msgs[len(msgs)-1]
					return []any{&m[0], &m[1]}
				})
			if n = len(rows); err != nil || n == 0 {
				return err
			}
			byChannel := map[string][]string{}
			for _, m := range msgs {
				byChannel[m[0]] = append(byChannel[m[0]], m[1])
			}
			held, err := p.heldMessages(ctx, tx, byChannel)
			if err != nil {
				return err
			}
			var keys []alertKey
			for i, r := range rows {
				if !held[msgs[i]] {
					keys = append(keys, alertKey{r.k1, r.k2})
				}
			}
			return p.dropAlerts(ctx, tx, keys)
		})
		if err != nil || n < p.o.Batch {
			return err
		}
	}
}

// heldMessages returns which of the messages (timestamps by channel) are
// held.
func (p *pruner) heldMessages(ctx context.Context, tx *sql.Tx, byChannel map[string][]string) (map[[2]string]bool, error) {
	held := map[[2]string]bool{}
	for _, ch := range slices.Sorted(maps.Keys(byChannel)) {
		for chunk := range slices.Chunk(unique(byChannel[ch]), maxIn) {
			args := []any{ch}
			for _, ts := range chunk {
				args = append(args, ts)
			}
			arms := p.heldBy(marks(len(chunk)))
			var all []any
			for range arms {
				all = append(all, args...)
			}
			rows, err := tx.QueryContext(ctx, p.s.q(strings.Join(arms, " UNION ")), all...)
			if err != nil {
				return nil, wrap(err)
			}
			for rows.Next() {
				var ts string
				if err := rows.Scan(&ts); err != nil {
					_ = rows.Close()
					return nil, wrap(err)
				}
				held[[2]string{ch, ts}] = true
			}
			if err := closeRows(rows); err != nil {
				return nil, err
			}
		}
	}
	return held, nil
}

// dropAlerts deletes (or, in a dry run, counts) the rows of alerts in
// every alert table. Each row is checked again against its own cutoff: one
// a click made recent in the meantime, or a pending claim, stays.
func (p *pruner) dropAlerts(ctx context.Context, tx *sql.Tx, keys []alertKey) error {
	if len(keys) == 0 {
		return nil
	}
	if testBeforeDrop != nil {
		testBeforeDrop()
	}
	guards := []struct{ table, guard string }{
		{"posted_alerts", fmt.Sprintf("posted_ms < %d", p.cut)},
		{"issues", fmt.Sprintf("state <> 'pending' AND claimed_ms < %[1]d AND filed_ms < %[1]d", p.issueCut)},
		{"closes", fmt.Sprintf("state <> 'pending' AND claimed_ms < %[1]d AND closed_ms < %[1]d AND reopened_ms < %[1]d", p.cut)},
		{"close_history", fmt.Sprintf("closed_ms < %[1]d AND reopened_ms < %[1]d", p.cut)},
		{"jira_states", fmt.Sprintf("seen_ms < %d", p.cut)},
	}
	byTenant := map[string][]string{}
	for _, k := range keys {
		byTenant[k.tenant] = append(byTenant[k.tenant], k.id)
	}
	for _, g := range guards {
		for _, tenant := range slices.Sorted(maps.Keys(byTenant)) {
			for chunk := range slices.Chunk(byTenant[tenant], maxIn) {
				args := []any{tenant}
				for _, id := range chunk {
					args = append(args, id)
				}
				where := ` WHERE tenant = ? AND alert_id IN (` + marks(len(chunk)) + `) AND ` + g.guard
				if err := p.apply(ctx, tx, g.table, `DELETE FROM `+g.table+where, `SELECT count(*) FROM `+g.table+where, args...); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// apply runs del (or, in a dry run, count) and adds the rows to table's.
func (p *pruner) apply(ctx context.Context, tx *sql.Tx, table, del, count string, args ...any) error {
	var n int64
	if p.o.DryRun {
		if err := tx.QueryRowContext(ctx, p.s.q(count), args...).Scan(&n); err != nil {
			return wrap(err)
		}
	} else {
		r, err := tx.ExecContext(ctx, p.s.q(del), args...)
		if err != nil {
			return wrap(err)
		}
		n, _ = r.RowsAffected()
	}
	if n > 0 {
		p.rep.Pruned[table] += n
		p.found = true
	}
	return nil
}

// unposted prunes the alerts never posted (or whose posted rows are
// gone) found in table, oldest by col first: those whose row is old by
// guard (cutoffs %[1]d history, %[2]d issues) and, with extra, that the
// tables before it did not take.
func (p *pruner) unposted(table, col, guard, extra string) func(context.Context) error {
	return func(ctx context.Context) error {
		where := fmt.Sprintf(guard, p.cut, p.issueCut) + `
			AND NOT EXISTS (SELECT 1 FROM posted_alerts x WHERE x.tenant = r.tenant AND x.alert_id = r.alert_id)
			AND ` + p.notHeld("r")
		if extra != "" {
			where += " AND " + extra
		}
		k := &keyset{col: "r." + col, k1: "r.tenant", k2: "r.alert_id"}
		for {
			n := 0
			err := p.batch(ctx, func(tx *sql.Tx) error {
				rows, err := k.read(ctx, tx, p, `SELECT r.tenant, r.alert_id, r.`+col+` FROM `+table+` r WHERE `+where, nil)
				if n = len(rows); err != nil || n == 0 {
					return err
				}
				keys := make([]alertKey, n)
				for i, r := range rows {
					keys[i] = alertKey{r.k1, r.k2}
				}
				return p.dropAlerts(ctx, tx, keys)
			})
			if err != nil || n < p.o.Batch {
				return err
			}
		}
	}
}

// messages prunes the digest messages drawn before the cutoff none of
// whose alerts stays.
func (p *pruner) messages(ctx context.Context) error {
	where := fmt.Sprintf(`SELECT m.channel, m.ts, m.updated_ms FROM digest_messages m WHERE m.updated_ms < %d`, p.cut)
	for _, h := range p.heldBy("m.ts") {
		where += ` AND NOT EXISTS (` + strings.Replace(h, "q.channel = ?", "q.channel = m.channel", 1) + `)`
	}
	k := &keyset{col: "m.updated_ms", k1: "m.channel", k2: "m.ts"}
	for {
		n := 0
		err := p.batch(ctx, func(tx *sql.Tx) error {
			rows, err := k.read(ctx, tx, p, where, nil)
			if n = len(rows); err != nil || n == 0 {
				return err
			}
			byChannel := map[string][]string{}
			for _, r := range rows {
				byChannel[r.k1] = append(byChannel[r.k1], r.k2)
			}
			for _, ch := range slices.Sorted(maps.Keys(byChannel)) {
				for chunk := range slices.Chunk(byChannel[ch], maxIn) {
					args := []any{ch}
					for _, ts := range chunk {
						args = append(args, ts)
					}
					w := fmt.Sprintf(` WHERE channel = ? AND ts IN (%s) AND updated_ms < %d`, marks(len(chunk)), p.cut)
					if err := p.apply(ctx, tx, "digest_messages", `DELETE FROM digest_messages`+w, `SELECT count(*) FROM digest_messages`+w, args...); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil || n < p.o.Batch {
			return err
		}
	}
}

// simple prunes the rows of table matching where, oldest by column col
// first, a batch at a time. Rows are picked by their place in the table
// (SQLite's rowid, PostgreSQL's ctid): the delete then goes straight to
// them, where a join on the key would scan the table on PostgreSQL.
func (p *pruner) simple(table, col, where string) func(context.Context) error {
	return func(ctx context.Context) error {
		if p.o.DryRun {
			return p.batch(ctx, func(tx *sql.Tx) error {
				return p.apply(ctx, tx, table, "", `SELECT count(*) FROM `+table+` WHERE `+where)
			})
		}
		pick := `rowid IN (%s)`
		ref := "rowid"
		if p.s.d.dollar {
			pick, ref = `ctid = ANY(ARRAY(%s))`, "ctid"
		}
		from := "" // from the last batch's newest row on
		for {
			sub := fmt.Sprintf(`SELECT %s FROM %s WHERE %s%s ORDER BY %s LIMIT %d`, ref, table, from, where, col, p.o.Batch)
			newest := int64(math.MinInt64)
			// The outer condition checks each row again: one made new
			// since the inner select read it stays.
			del := `DELETE FROM ` + table + ` WHERE ` + fmt.Sprintf(pick, sub) + ` AND ` + where + ` RETURNING ` + col
			n := 0
			err := p.batch(ctx, func(tx *sql.Tx) error {
				rows, err := tx.QueryContext(ctx, del)
				if err != nil {
					return wrap(err)
				}
				for rows.Next() {
					var at int64
					if err := rows.Scan(&at); err != nil {
						_ = rows.Close()
						return wrap(err)
					}
					n++
					newest = max(newest, at)
				}
				if err := closeRows(rows); err != nil {
					return err
				}
				if n > 0 {
					p.found = true
					p.rep.Pruned[table] += int64(n)
					from = fmt.Sprintf("%s >= %d AND ", col, newest)
				}
				return nil
			})
			if err != nil || n < p.o.Batch {
				return err
			}
		}
	}
}

func marks(n int) string { return "?" + strings.Repeat(", ?", n-1) }

func (s *sqlStore) Size(ctx context.Context) (StoreSize, error) {
	size := StoreSize{Rows: map[string]int64{}}
	for _, t := range Tables {
		var n int64
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM `+t).Scan(&n); err != nil {
			return size, wrap(err)
		}
		size.Rows[t] = n
	}
	q := `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`
	if s.d.dollar {
		q = `SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind = 'r'`
	}
	if err := s.db.QueryRowContext(ctx, q).Scan(&size.Bytes); err != nil {
		return size, wrap(err)
	}
	return size, nil
}
