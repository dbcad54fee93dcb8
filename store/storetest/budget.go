package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/store"
)

// Shared request budgets and cache (issue #10).

func testBudgetSlots(t *testing.T, open Opener) {
	s, _ := open(t)
	reserve := func(budget string) store.Slot {
		t.Helper()
		sl, err := s.ReserveSlot(ctx, budget, 2, time.Hour)
		must(t, err)
		return sl
	}
	for i := range 2 {
		if sl := reserve("mcas:contoso"); sl.Wait != 0 {
			t.Fatalf("slot %d waits %v within the budget", i, sl.Wait)
		}
	}
	third := reserve("mcas:contoso")
	if third.Wait < 59*time.Minute || third.Wait > time.Hour {
		t.Fatalf("third slot of 2/h waits %v, want about an hour", third.Wait)
	}
	// A queued slot given back is taken by the next caller.
	must(t, s.ReleaseSlot(ctx, third))
	if again := reserve("mcas:contoso"); again.Wait < 59*time.Minute || again.Wait > time.Hour {
		t.Fatalf("after a release the next slot waits %v, want about an hour", again.Wait)
	}
	if next := reserve("mcas:contoso"); next.Wait < 59*time.Minute || next.Wait > time.Hour {
		t.Fatalf("fourth slot of 2/h waits %v, want about an hour", next.Wait)
	}
	if fifth := reserve("mcas:contoso"); fifth.Wait < 119*time.Minute {
		t.Fatalf("fifth slot of 2/h waits %v, want about two hours", fifth.Wait)
	}
	if other := reserve("mcas:fabrikam"); other.Wait != 0 {
		t.Fatalf("budgets leak across tenants: %v", other.Wait)
	}
}

func testBudgetConcurrent(t *testing.T, open Opener) {
	s, _ := open(t)
	const n, callers = 5, 20
	var mu sync.Mutex
	var now, later int
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			sl, err := s.ReserveSlot(ctx, "mcas:race", n, time.Hour)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if sl.Wait == 0 {
				now++
			} else if sl.Wait >= 59*time.Minute {
				later++
			}
		})
	}
	wg.Wait()
	if now != n || later != callers-n {
		t.Fatalf("%d slots now and %d an hour later, want %d and %d", now, later, n, callers-n)
	}
}

func testSharedCache(t *testing.T, open Opener) {
	s, _ := open(t)
	if _, ok, err := s.CacheGet(ctx, "abuseipdb:report:8.8.8.8"); ok || err != nil {
		t.Fatalf("empty cache: %v %v", ok, err)
	}
	must(t, s.CachePut(ctx, "abuseipdb:report:8.8.8.8", []byte(`{"score":1}`), time.Hour))
	must(t, s.CachePut(ctx, "abuseipdb:report:8.8.8.8", []byte(`{"score":2}`), time.Hour)) // overwrite
	v, ok, err := s.CacheGet(ctx, "abuseipdb:report:8.8.8.8")
	if err != nil || !ok || string(v) != `{"score":2}` {
		t.Fatalf("get %q %v %v", v, ok, err)
	}
	must(t, s.CachePut(ctx, "short", []byte("x"), time.Millisecond))
	time.Sleep(20 * time.Millisecond)
	if _, ok, _ := s.CacheGet(ctx, "short"); ok {
		t.Fatal("an expired entry was served")
	}
}
