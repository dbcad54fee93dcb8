package abuseipdb_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/abuseipdb/abusefake"
	"github.com/soc/mcasbot/integrations/httpx"
)

// memShared stands in for the state store replicas share.
type memShared struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memShared) CacheGet(_ context.Context, key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	return v, ok, nil
}

func (s *memShared) CachePut(_ context.Context, key string, v []byte, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = v
	return nil
}

// Two replicas sharing a cache spend one check on an address, and once
// one is told the daily quota is spent, the other does not call either.
func TestReplicasShareReportsAndQuota(t *testing.T) {
	srv := abusefake.New(key, 1)
	t.Cleanup(srv.Close)
	shared := &memShared{m: map[string][]byte{}}
	replica := func() *abuseipdb.Client {
		c, err := abuseipdb.New(abuseipdb.Config{APIKey: key, URL: srv.URL, Shared: shared}, srv.Client(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := replica(), replica()
	ctx := context.Background()
	addr := netip.MustParseAddr("45.155.205.233")
	ra, err := a.Check(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.Check(ctx, addr)
	if err != nil || !rb.Cached || rb.Score != ra.Score || srv.TotalCalls() != 1 {
		t.Fatalf("second replica: %+v %v, %d calls", rb, err, srv.TotalCalls())
	}
	// The quota (1) is spent: A learns it from a 429, B from the store.
	if _, err := a.Check(ctx, netip.MustParseAddr("8.8.8.8")); httpx.KindOf(err) != httpx.KindThrottled {
		t.Fatalf("a: %v", err)
	}
	calls := srv.TotalCalls()
	if _, err := b.Check(ctx, netip.MustParseAddr("1.1.1.1")); httpx.KindOf(err) != httpx.KindThrottled {
		t.Fatalf("b: %v", err)
	}
	if srv.TotalCalls() != calls {
		t.Fatal("the second replica spent a call on a quota the first knew was exhausted")
	}
	if q := b.Quota(); !q.Known || q.Remaining != 0 {
		t.Fatalf("b's quota %+v, want the 0 remaining A was told", q)
	}
}
