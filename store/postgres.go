package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
)

// migrationLockKey is the advisory lock that serializes migrations when
// several replicas start at once.
const migrationLockKey = 0x6d636173 // "mcas"

func openPostgres(ctx context.Context, databaseURL string, o options) (Store, error) {
	cfg, err := pgxConfig(databaseURL)
	if err != nil {
		return nil, err
	}
	// Check every reused connection: after an outage the pool holds dead
	// ones, and the default (ping only after 1s idle) would hand them to the
	// next click. Store calls are rare, so the round trip is cheap.
	db := stdlib.OpenDB(*cfg, stdlib.OptionShouldPing(func(context.Context, stdlib.ShouldPingParams) bool { return true }))
	db.SetMaxOpenConns(10)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &sqlStore{db: db, now: o.now, d: dialect{
		name:   "postgres",
		dollar: true,
		lockMigrations: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey)
			return err
		},
	}}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}
