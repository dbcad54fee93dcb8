package abuseipdb_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/abuseipdb/abusefake"
	"github.com/soc/mcasbot/integrations/httpx"
)

const key = "abuse-KEY-0123456789"

func setup(t *testing.T, quota int) (*abusefake.Server, *abuseipdb.Client) {
	t.Helper()
	srv := abusefake.New(key, quota)
	t.Cleanup(srv.Close)
	c, err := abuseipdb.New(abuseipdb.Config{APIKey: key, URL: srv.URL, Timeout: 300 * time.Millisecond}, srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Caller().Sleep = func(ctx context.Context, d time.Duration) error { return nil }
	return srv, c
}

func TestCheckDecodesReport(t *testing.T) {
	srv, c := setup(t, 100)
	country, last := "NL", "2026-11-20T10:00:00+00:00"
	srv.Set(abusefake.Report{IPAddress: "185.220.101.4", IsPublic: true, AbuseConfidenceScore: 100, CountryCode: &country,
		UsageType: "Data Center/Web Hosting/Transit", ISP: "Zwiebelfreunde e.V.", IsTor: true, TotalReports: 3120, NumDistinctUsers: 410, LastReportedAt: &last})
	r, err := c.Check(context.Background(), netip.MustParseAddr("185.220.101.4"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Score != 100 || !r.Tor || r.Reports != 3120 || r.Country != "NL" || r.ISP != "Zwiebelfreunde e.V." || r.LastReported.IsZero() || r.Cached {
		t.Fatalf("report %+v", r)
	}
	if q := c.Quota(); !q.Known || q.Limit != 100 || q.Remaining != 99 {
		t.Fatalf("quota %+v", q)
	}
}

func TestNullFieldsDecode(t *testing.T) {
	srv, c := setup(t, 10)
	srv.Set(abusefake.Report{IPAddress: "8.8.4.4", IsPublic: true}) // nil country, domain, lastReportedAt, whitelisted
	r, err := c.Check(context.Background(), netip.MustParseAddr("8.8.4.4"))
	if err != nil || r.Country != "" || !r.LastReported.IsZero() {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestCacheAndCollapse(t *testing.T) {
	srv, c := setup(t, 1000)
	srv.SetLatency(50 * time.Millisecond)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Go(func() {
			if _, err := c.Check(context.Background(), netip.MustParseAddr("45.155.205.233")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	r, _ := c.Check(context.Background(), netip.MustParseAddr("45.155.205.233"))
	if n := srv.Calls("45.155.205.233"); n != 1 {
		t.Fatalf("20 concurrent + 1 later lookups made %d calls, want 1", n)
	}
	if !r.Cached {
		t.Fatal("later lookup not marked cached")
	}
	// IPv4-mapped IPv6 is the same address.
	if _, err := c.Check(context.Background(), netip.MustParseAddr("::ffff:45.155.205.233")); err != nil || srv.TotalCalls() != 1 {
		t.Fatalf("mapped address: %v, calls %d", err, srv.TotalCalls())
	}
}

func TestNonPublicAddressesNeverLeave(t *testing.T) {
	srv, c := setup(t, 1000)
	for _, ip := range []string{"10.1.2.3", "192.168.0.1", "127.0.0.1", "::1", "fe80::1", "100.64.1.1", "203.0.113.9", "198.51.100.7", "192.0.2.1", "0.0.0.0", "224.0.0.1", "fd00::1", "2001:db8::1", "::ffff:10.0.0.1", "169.254.1.1"} {
		if _, err := c.Check(context.Background(), netip.MustParseAddr(ip)); !errors.Is(err, abuseipdb.ErrNotPublic) {
			t.Errorf("%s: err = %v, want ErrNotPublic", ip, err)
		}
	}
	if srv.TotalCalls() != 0 {
		t.Fatalf("%d calls for private addresses", srv.TotalCalls())
	}
	for _, ip := range []string{"8.8.8.8", "2606:4700:4700::1111"} {
		if !abuseipdb.Public(netip.MustParseAddr(ip)) {
			t.Errorf("%s should be public", ip)
		}
	}
}

func TestQuotaExhaustionDegradesAndPauses(t *testing.T) {
	srv, c := setup(t, 1)
	if _, err := c.Check(context.Background(), netip.MustParseAddr("8.8.8.8")); err != nil {
		t.Fatal(err)
	}
	_, err := c.Check(context.Background(), netip.MustParseAddr("1.1.1.1"))
	var e *httpx.Error
	if !errors.As(err, &e) || e.Kind != httpx.KindThrottled || e.RetryAfter < time.Minute {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "Daily rate limit") {
		t.Errorf("error does not carry AbuseIPDB's message: %v", err)
	}
	calls := srv.TotalCalls()
	// Further lookups do not hit the API until the quota resets.
	if _, err := c.Check(context.Background(), netip.MustParseAddr("9.9.9.9")); httpx.KindOf(err) != httpx.KindThrottled {
		t.Fatalf("err = %v", err)
	}
	if srv.TotalCalls() != calls {
		t.Fatal("called the API after the quota was spent")
	}
	if q := c.Quota(); q.Remaining != 0 {
		t.Fatalf("quota %+v", q)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name  string
		fault abusefake.Fault
		kind  httpx.Kind
	}{
		{"bad key", abusefake.Fault{Status: 401, Body: `{"errors":[{"detail":"Authentication failed.","status":401}]}`}, httpx.KindAuth},
		{"server error twice", abusefake.Fault{Status: 500}, httpx.KindUnavailable},
		{"truncated body", abusefake.Fault{Status: 200, Body: `{"data":{"ipAddress":"8.8`}, httpx.KindBadResponse},
		{"no data", abusefake.Fault{Status: 200, Body: `{}`}, httpx.KindBadResponse},
		{"timeout", abusefake.Fault{Delay: time.Second}, httpx.KindTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, c := setup(t, 10)
			srv.Fail(tc.fault, tc.fault)
			_, err := c.Check(context.Background(), netip.MustParseAddr("8.8.8.8"))
			if httpx.KindOf(err) != tc.kind {
				t.Fatalf("err = %v, want %s", err, tc.kind)
			}
			if strings.Contains(err.Error(), key) {
				t.Fatalf("error leaks the key: %v", err)
			}
		})
	}
}

func TestWrongKey(t *testing.T) {
	srv := abusefake.New(key, 10)
	defer srv.Close()
	c, _ := abuseipdb.New(abuseipdb.Config{APIKey: "wrong-key-xyz", URL: srv.URL}, srv.Client(), nil)
	_, err := c.Check(context.Background(), netip.MustParseAddr("8.8.8.8"))
	if httpx.KindOf(err) != httpx.KindAuth || !strings.Contains(err.Error(), "API key") || strings.Contains(err.Error(), "wrong-key-xyz") {
		t.Fatalf("err = %v", err)
	}
}
