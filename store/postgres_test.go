package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/store/storetest"
)

func postgresURL(t *testing.T) string { return storetest.PostgresURL(t) }

func TestPostgresConformance(t *testing.T) {
	storetest.Run(t, storetest.OpenURL(postgresURL))
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
