package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/store/storetest"
)

// PostgresURL returns a URL to a fresh, empty schema of TEST_DATABASE_URL.
// Without it the test skips on a developer machine and fails in CI.
func postgresURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TEST_DATABASE_URL is not set in CI: .ci/run must start PostgreSQL")
		}
		t.Skip("PostgreSQL tests skipped: set TEST_DATABASE_URL=postgres://user:pass@127.0.0.1:5432/db (see README, Development)")
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	schema := fmt.Sprintf("t_%d", time.Now().UnixNano())
	if _, err := db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("creating test schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err == nil {
			_, _ = db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
			_ = db.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestPostgresConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, func() store.Store) {
		dsn := postgresURL(t)
		open := func() store.Store {
			s, err := store.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		s := open()
		t.Cleanup(func() { _ = s.Close() })
		return s, open
	})
}

// Two replicas starting at once both migrate; the advisory lock makes one
// wait for the other.
func TestPostgresConcurrentMigrations(t *testing.T) {
	dsn := postgresURL(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := store.Open(context.Background(), dsn)
			if err != nil {
				errs <- err
				return
			}
			_ = s.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestPostgresBadURLHidesPassword(t *testing.T) {
	_, err := store.Open(context.Background(), "postgres://u:hunter2@[bad")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v", err)
	}
}
