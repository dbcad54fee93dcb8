package store_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/store/storetest"
)

// Two replicas (two handles on one PostgreSQL) draw on one budget.
func TestPostgresBudgetSharedByReplicas(t *testing.T) {
	_, reopen := storetest.OpenURL(postgresURL)(t)
	a, b := reopen(), reopen()
	defer a.Close()
	defer b.Close()
	const n = 5
	var now atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		s := []store.Store{a, b}[i%2]
		wg.Go(func() {
			sl, err := s.ReserveSlot(context.Background(), "mcas:contoso", n, time.Hour)
			if err != nil {
				t.Error(err)
			}
			if sl.Wait == 0 {
				now.Add(1)
			}
		})
	}
	wg.Wait()
	if now.Load() != n {
		t.Fatalf("%d of 20 slots granted at once by two replicas, want the budget's %d", now.Load(), n)
	}
}

// With the database unreachable, a budget falls back to its local share,
// says so once in the log, and goes back to the shared one when it can.
func TestBudgetFallsBackWhileStoreIsDown(t *testing.T) {
	dsn := postgresURL(t)
	u, _ := url.Parse(dsn)
	proxy := storetest.NewProxy(t, u.Host)
	ctx := context.Background()
	s, err := store.Open(ctx, proxy.Via(dsn))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var logs bytes.Buffer
	var fallbacks atomic.Int32
	b := &store.Budget{Store: s, Name: "mcas:contoso", N: 4, Per: time.Hour, Fallback: 2, RetryEvery: time.Nanosecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), OnFallback: func() { fallbacks.Add(1) }}
	wait := func() time.Duration {
		t.Helper()
		d, _, err := b.Reserve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := wait(); d != 0 {
		t.Fatalf("shared slot waits %v", d)
	}
	proxy.Down()
	if d1, d2 := wait(), wait(); d1 != 0 || d2 != 0 {
		t.Fatalf("local slots wait %v, %v", d1, d2)
	}
	if d := wait(); d < 59*time.Minute {
		t.Fatalf("the local budget (4/h over 2 replicas = 2/h) let a third call through after %v", d)
	}
	if fallbacks.Load() != 3 || strings.Count(logs.String(), "shared request budget unreachable") != 1 {
		t.Fatalf("%d fallback slots; log:\n%s", fallbacks.Load(), logs.String())
	}
	proxy.Up()
	if d := wait(); d != 0 {
		t.Fatalf("shared slot after recovery waits %v", d)
	}
	if fallbacks.Load() != 3 || !strings.Contains(logs.String(), "shared request budget reachable again") {
		t.Fatalf("did not go back to the shared budget; log:\n%s", logs.String())
	}
}
