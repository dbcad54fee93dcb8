package store

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Slot is one reserved request of a budget.
type Slot struct {
	Budget string
	ID     int64
	Wait   time.Duration // until the slot starts; 0 = now
}

// budgetLockSpace namespaces the per-budget advisory locks ("budg").
const budgetLockSpace = 0x62756467

func (s *sqlStore) ReserveSlot(ctx context.Context, budget string, n int, per time.Duration) (Slot, error) {
	if n <= 0 {
		return Slot{Budget: budget}, nil
	}
	if !s.d.dollar {
		wait, id := s.budgets.reserve(budget, time.Now(), n, per)
		return Slot{Budget: budget, ID: id, Wait: wait}, nil
	}
	// PostgreSQL: one transaction under the budget's advisory lock, on the
	// database's clock so replicas with skewed clocks agree.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Slot{}, wrap(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, budgetLockSpace, budget); err != nil {
		return Slot{}, wrap(err)
	}
	var now int64
	var nth sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
		(SELECT at_ms FROM budget_slots WHERE budget = $1 ORDER BY at_ms DESC OFFSET $2 LIMIT 1)`, budget, n-1).Scan(&now, &nth)
	if err != nil {
		return Slot{}, wrap(err)
	}
	at := now
	if nth.Valid && nth.Int64+per.Milliseconds() > at {
		at = nth.Int64 + per.Milliseconds()
	}
	id := rand.Int64()
	if _, err := tx.ExecContext(ctx, `WITH old AS (DELETE FROM budget_slots WHERE budget = $1 AND at_ms < $2)
		INSERT INTO budget_slots (id, budget, at_ms) VALUES ($3, $1, $4)`, budget, now-per.Milliseconds(), id, at); err != nil {
		return Slot{}, wrap(err)
	}
	if err := tx.Commit(); err != nil {
		return Slot{}, wrap(err)
	}
	return Slot{Budget: budget, ID: id, Wait: time.Duration(at-now) * time.Millisecond}, nil
}

func (s *sqlStore) ReleaseSlot(ctx context.Context, slot Slot) error {
	if !s.d.dollar {
		s.budgets.release(slot.Budget, slot.ID)
		return nil
	}
	_, err := s.exec(ctx, `DELETE FROM budget_slots WHERE id = ?`, slot.ID)
	return err
}

func (s *sqlStore) CacheGet(ctx context.Context, key string) ([]byte, bool, error) {
	var v string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM shared_cache WHERE key = ? AND until_ms > ?`), key, ms(s.now())).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, wrap(err)
	}
	return []byte(v), true, nil
}

func (s *sqlStore) CachePut(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	now := s.now()
	if _, err := s.exec(ctx, `INSERT INTO shared_cache (key, value, until_ms) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, until_ms = excluded.until_ms`, key, string(value), ms(now.Add(ttl))); err != nil {
		return err
	}
	_, err := s.exec(ctx, `DELETE FROM shared_cache WHERE until_ms < ?`, ms(now))
	return err
}

// memBudgets are sliding-window logs of reserved slots, by budget name.
type memBudgets struct {
	mu   sync.Mutex
	logs map[string][]memSlot
	seq  int64
}

type memSlot struct {
	id int64
	at time.Time
}

// reserve takes the next slot: no earlier than the slot n places before it
// plus per, so any period holds at most n starts.
func (m *memBudgets) reserve(budget string, now time.Time, n int, per time.Duration) (time.Duration, int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.logs == nil {
		m.logs = map[string][]memSlot{}
	}
	log := m.logs[budget]
	cut := 0
	for cut < len(log) && now.Sub(log[cut].at) >= per {
		cut++
	}
	log = log[cut:]
	at := now
	if len(log) >= n {
		if t := log[len(log)-n].at.Add(per); t.After(at) {
			at = t
		}
	}
	m.seq++
	m.logs[budget] = append(log, memSlot{id: m.seq, at: at})
	return at.Sub(now), m.seq
}

func (m *memBudgets) release(budget string, id int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	log := m.logs[budget]
	for i, sl := range log {
		if sl.id == id {
			m.logs[budget] = append(log[:i], log[i+1:]...)
			return
		}
	}
}

// Budget is one request budget (N in any Per) drawn from the store, so
// replicas on one PostgreSQL share it; it is an httpx.Limiter. While the
// store cannot be reached it falls back to a local budget of Fallback per
// Per (the budget divided by the expected replicas): commands keep working,
// a log line and OnFallback say so.
type Budget struct {
	Store    Store
	Name     string // e.g. "mcas:contoso"
	N        int
	Per      time.Duration
	Fallback int
	Logger   *slog.Logger
	// OnFallback, when set, is told of every slot taken from the local budget.
	OnFallback func()
	// RetryEvery is how long the local budget is used before the store is
	// tried again (default 10s).
	RetryEvery time.Duration

	mu      sync.Mutex
	down    bool
	retryAt time.Time
	local   memBudgets
}

// storeWait bounds one reservation in the store: past it, a slow database
// costs the command less than the local budget does.
const storeWait = 2 * time.Second

// Reserve takes the next slot and says how long until it starts.
func (b *Budget) Reserve(ctx context.Context) (time.Duration, func(), error) {
	if b.N <= 0 {
		return 0, func() {}, nil
	}
	if b.tryStore() {
		sctx, cancel := context.WithTimeout(ctx, storeWait)
		slot, err := b.Store.ReserveSlot(sctx, b.Name, b.N, b.Per)
		cancel()
		if err == nil {
			b.reachable()
			return slot.Wait, func() {
				rctx, cancel := context.WithTimeout(context.Background(), storeWait)
				defer cancel()
				_ = b.Store.ReleaseSlot(rctx, slot)
			}, nil
		}
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		b.unreachable(err)
	}
	if b.OnFallback != nil {
		b.OnFallback()
	}
	wait, id := b.local.reserve(b.Name, time.Now(), max(1, b.Fallback), b.Per)
	return wait, func() { b.local.release(b.Name, id) }, nil
}

func (b *Budget) tryStore() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.down || !time.Now().Before(b.retryAt)
}

func (b *Budget) reachable() {
	b.mu.Lock()
	was := b.down
	b.down = false
	b.mu.Unlock()
	if was {
		b.logger().Info("shared request budget reachable again", "budget", b.Name)
	}
}

func (b *Budget) unreachable(err error) {
	every := b.RetryEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	b.mu.Lock()
	was := b.down
	b.down, b.retryAt = true, time.Now().Add(every)
	b.mu.Unlock()
	if !was {
		b.logger().Warn("shared request budget unreachable; using a local budget", "budget", b.Name,
			"local_budget", max(1, b.Fallback), "per", b.Per, "error", err)
	}
}

func (b *Budget) logger() *slog.Logger {
	if b.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return b.Logger
}
