package store_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/store/storetest"
)

func TestPostgresOutageAndRecovery(t *testing.T) {
	dsn := postgresURL(t)
	u, _ := url.Parse(dsn)
	proxy := storetest.NewProxy(t, u.Host)
	ctx := context.Background()
	s, err := store.Open(ctx, proxy.Via(dsn))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var changes []bool
	m := &store.Monitor{Store: s, OnChange: func(up bool) { changes = append(changes, up) }}
	if !m.Check(ctx) || !m.Healthy() {
		t.Fatal("healthy store reported down")
	}
	proxy.Down()
	if m.Check(ctx) || m.Healthy() {
		t.Fatal("unreachable store reported up")
	}
	if _, err := s.ClaimIssue(ctx, "contoso", "a1", "U1"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("claim during outage: %v", err)
	}
	proxy.Up()
	if !m.Check(ctx) {
		t.Fatal("did not recover by itself")
	}
	if c, err := s.ClaimIssue(ctx, "contoso", "a1", "U1"); err != nil || !c.Won {
		t.Fatalf("claim after recovery: %+v %v", c, err)
	}
	if len(changes) != 3 || !changes[0] || changes[1] || !changes[2] {
		t.Fatalf("changes %v, want up, down, up", changes)
	}
}
