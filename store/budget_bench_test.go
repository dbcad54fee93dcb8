package store_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/store/storetest"
)

// BenchmarkSharedBudget is what one MCAS request pays for the shared
// budget: a reservation (advisory lock, one read, one insert) on
// PostgreSQL, alone and with two replicas reserving on one tenant at once;
// SQLite keeps budgets in memory. The PostgreSQL cases need
// TEST_DATABASE_URL.
func BenchmarkSharedBudget(b *testing.B) {
	ctx := context.Background()
	reserve := func(b *testing.B, s store.Store) {
		if _, err := s.ReserveSlot(ctx, "mcas:contoso", 25, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("sqlite-memory", func(b *testing.B) {
		s, err := store.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "s.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		for b.Loop() {
			reserve(b, s)
		}
	})
	b.Run("postgres", func(b *testing.B) {
		s, err := store.Open(ctx, storetest.PostgresURL(b))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		for b.Loop() {
			reserve(b, s)
		}
	})
	b.Run("postgres-2-replicas", func(b *testing.B) {
		dsn := storetest.PostgresURL(b)
		var handles [2]store.Store
		for i := range handles {
			s, err := store.Open(ctx, dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			handles[i] = s
		}
		var next atomic.Int32
		b.SetParallelism(2)
		b.RunParallel(func(pb *testing.PB) {
			s := handles[next.Add(1)%2]
			for pb.Next() {
				reserve(b, s)
			}
		})
	})
}
