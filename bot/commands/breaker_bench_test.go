package commands

import (
	"context"
	"testing"
	"time"
)

// BenchmarkTenantCall is what the breaker and the call slots cost a tenant
// call on the happy path (issue #16): the state check before joining a
// call, a slot, and the breaker's Execute around the call, against none
// of it (TENANT_COOLDOWN=0 still takes a slot) and against the bare call.
func BenchmarkTenantCall(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	call := func() (bool, error) { return false, nil }
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = call()
		}
	})
	for _, c := range []struct {
		name     string
		cooldown time.Duration
	}{{"slot only (cooldown 0)", 0}, {"slot and breaker", 30 * time.Second}} {
		b.Run(c.name, func(b *testing.B) {
			r := &Runner{Cooldown: c.cooldown}
			b.ReportAllocs()
			for b.Loop() {
				if err := r.skip("contoso"); err != nil {
					b.Fatal(err)
				}
				if err := r.guarded(ctx, "contoso", call); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("slot and breaker, 8 tenants in parallel", func(b *testing.B) {
		r := &Runner{Cooldown: 30 * time.Second}
		names := []string{"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				t := names[i%len(names)]
				_ = r.skip(t)
				_ = r.guarded(ctx, t, call)
			}
		})
	})
}
