package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers "sqlite"
)

// DefaultURL is the embedded SQLite file in the working directory.
const DefaultURL = "sqlite:mcasbot.db"

// Open connects to DATABASE_URL and runs migrations. Accepted forms:
// "sqlite:path/to/file.db", "file:path.db", a bare path, or
// "postgres://…" / "postgresql://…".
func Open(ctx context.Context, databaseURL string, opts ...Option) (Store, error) {
	o := options{now: func() time.Time { return time.Now().UTC() }}
	for _, opt := range opts {
		opt(&o)
	}
	if databaseURL == "" {
		databaseURL = DefaultURL
	}
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return openPostgres(ctx, databaseURL, o)
	default:
		return openSQLite(ctx, strings.TrimPrefix(strings.TrimPrefix(databaseURL, "sqlite:"), "file:"), o)
	}
}

// Option tunes Open.
type Option func(*options)

type options struct{ now func() time.Time }

// WithClock makes the store stamp records (posted, claimed, closed, run
// and lease times) with now instead of the wall clock, so a sandbox or a
// test can run on any date.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = func() time.Time { return now().UTC() }
		}
	}
}

// Kind names the backend of a DATABASE_URL, for logs without credentials.
func Kind(databaseURL string) string {
	if strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://") {
		u, err := url.Parse(databaseURL)
		if err != nil {
			return "postgres"
		}
		return "postgres (" + u.Hostname() + u.Path + ")"
	}
	if databaseURL == "" {
		databaseURL = DefaultURL
	}
	return "sqlite (" + strings.TrimPrefix(strings.TrimPrefix(databaseURL, "sqlite:"), "file:") + ")"
}

func openSQLite(ctx context.Context, path string, o options) (Store, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite: empty path")
	}
	// WAL lets readers run beside the writer; busy_timeout makes writers
	// wait for each other instead of failing.
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	if path == ":memory:" {
		dsn = "file::memory:?_pragma=busy_timeout(10000)&_txlock=immediate"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	// One writer at a time is how SQLite works; one connection avoids
	// SQLITE_BUSY surprises and keeps :memory: a single database.
	db.SetMaxOpenConns(1)
	s := &sqlStore{db: db, d: dialect{name: "sqlite"}, now: o.now}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return s, nil
}
