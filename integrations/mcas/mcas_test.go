package mcas_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
)

const token = "tok-SECRET-123456"

var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func setup(t *testing.T) (*mcasfake.Server, *mcas.Client, *[]time.Duration) {
	t.Helper()
	srv := mcasfake.New(token)
	t.Cleanup(srv.Close)
	c, err := mcas.New(mcas.Config{Name: "contoso", URL: srv.URL, Token: token, Timeout: 300 * time.Millisecond, RequestsPerMinute: -1}, srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var slept []time.Duration
	c.Caller().Sleep = func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	return srv, c, &slept
}

func TestAlertsSendsFiltersAndDecodes(t *testing.T) {
	srv, c, _ := setup(t)
	srv.AddAlerts(mcasfake.Generate("contoso", 30, now, 48*time.Hour, 1)...)
	res, err := c.Alerts(context.Background(), source.AlertQuery{
		Limit: 5, Severities: []source.Severity{source.SeverityHigh}, Status: source.StatusOpen,
		Since: now.Add(-24 * time.Hour), User: "alice@contoso.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	req := srv.Requests()[0]
	if req.Path != "/api/v1/alerts/" || req.Auth != "Token "+token {
		t.Fatalf("request %+v", req)
	}
	want := map[string]string{
		"severity":         `{"eq":[2]}`,
		"resolutionStatus": `{"eq":[0]}`,
		"date":             `{"gte":` + jsonInt(now.Add(-24*time.Hour).UnixMilli()) + `}`,
		"entity.user":      `{"eq":"alice@contoso.com"}`,
	}
	for field, w := range want {
		got, _ := json.Marshal(req.Body.Filters[field])
		if string(got) != w {
			t.Errorf("filter %s = %s, want %s", field, got, w)
		}
	}
	if req.Body.SortField != "date" || req.Body.SortDirection != "desc" || req.Body.Limit != 5 {
		t.Errorf("paging %+v", req.Body)
	}
	for _, a := range res.Alerts {
		if a.Severity != source.SeverityHigh || a.User() != "alice@contoso.com" || a.Time.Before(now.Add(-24*time.Hour)) || a.Time.Location() != time.UTC {
			t.Errorf("alert does not match filters: %+v", a)
		}
		if a.Tenant != "contoso" || a.ID == "" || a.URL == "" {
			t.Errorf("alert missing fields: %+v", a)
		}
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestPagingStopsAtLimit(t *testing.T) {
	srv, c, _ := setup(t)
	srv.AddAlerts(mcasfake.Generate("contoso", 450, now, 48*time.Hour, 2)...)
	res, err := c.Alerts(context.Background(), source.AlertQuery{Limit: 250})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Alerts) != 250 || !res.More {
		t.Fatalf("got %d alerts, more=%v", len(res.Alerts), res.More)
	}
	reqs := srv.Requests()
	if len(reqs) != 3 || reqs[2].Body.Skip != 200 || reqs[2].Body.Limit != 50 {
		t.Fatalf("want 3 pages (100,100,50), got %d: %+v", len(reqs), reqs)
	}
	for i := 1; i < len(res.Alerts); i++ {
		if res.Alerts[i].Time.After(res.Alerts[i-1].Time) {
			t.Fatal("alerts not newest first")
		}
	}
	// A small tenant is done in one call even with a large limit.
	srv.SetAlerts(mcasfake.Generate("contoso", 7, now, time.Hour, 3))
	srv.ResetRequests()
	res, _ = c.Alerts(context.Background(), source.AlertQuery{Limit: 100})
	if len(res.Alerts) != 7 || res.More || len(srv.Requests()) != 1 {
		t.Fatalf("got %d alerts in %d calls", len(res.Alerts), len(srv.Requests()))
	}
}

func TestIDsAndEntitiesDecodeLoosely(t *testing.T) {
	srv, c, _ := setup(t)
	srv.Fail(mcasfake.Fault{Status: 200, Body: `{"data":[{"_id":12345,"timestamp":1763640000000,"title":"t","severityValue":2,
		"entities":[{"type":"service","id":11161,"label":"Office 365"},{"type":"user","id":"bob@x.com"},{"type":"ip","id":"1.2.3.4"}]}],"hasNext":false}`})
	res, err := c.Alerts(context.Background(), source.AlertQuery{})
	if err != nil {
		t.Fatal(err)
	}
	a := res.Alerts[0]
	if a.ID != "12345" || a.User() != "bob@x.com" || a.IPs()[0] != "1.2.3.4" || a.Services()[0] != "Office 365" {
		t.Fatalf("decoded %+v", a)
	}
	if !a.Time.Equal(time.UnixMilli(1763640000000)) || a.Time.Location() != time.UTC {
		t.Fatalf("time %v", a.Time)
	}
}

func TestUpstreamErrors(t *testing.T) {
	cases := []struct {
		name      string
		faults    []mcasfake.Fault
		kind      httpx.Kind
		retryable bool
		slept     int
	}{
		{"unauthorized", []mcasfake.Fault{{Status: 401}}, httpx.KindAuth, false, 0},
		{"forbidden", []mcasfake.Fault{{Status: 403, Body: `{"detail":"You do not have permission"}`}}, httpx.KindForbidden, false, 0},
		{"throttled with Retry-After, then ok", []mcasfake.Fault{{Status: 429, RetryAfter: "2"}}, "", false, 1},
		{"throttled without Retry-After, then ok", []mcasfake.Fault{{Status: 429}}, "", false, 1},
		{"throttled every time", []mcasfake.Fault{{Status: 429}, {Status: 429}, {Status: 429}}, httpx.KindThrottled, true, 2},
		{"server error then ok", []mcasfake.Fault{{Status: 500}}, "", false, 1},
		{"server error every time", []mcasfake.Fault{{Status: 502}, {Status: 503}, {Status: 500}}, httpx.KindUnavailable, true, 2},
		{"malformed body", []mcasfake.Fault{{Status: 200, Body: `{"data":[{"_id":"a"`}}, httpx.KindBadResponse, false, 0},
		{"html instead of json", []mcasfake.Fault{{Status: 200, Body: `<html>login</html>`}}, httpx.KindBadResponse, false, 0},
		{"timeout", []mcasfake.Fault{{Delay: time.Second}, {Delay: time.Second}, {Delay: time.Second}}, httpx.KindTimeout, true, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, c, slept := setup(t)
			srv.AddAlerts(mcasfake.Generate("contoso", 3, now, time.Hour, 4)...)
			srv.Fail(tc.faults...)
			res, err := c.Alerts(context.Background(), source.AlertQuery{Limit: 10})
			if len(*slept) != tc.slept {
				t.Errorf("retried %d times, want %d", len(*slept), tc.slept)
			}
			if tc.kind == "" {
				if err != nil || len(res.Alerts) != 3 {
					t.Fatalf("want recovery, got %v (%d alerts)", err, len(res.Alerts))
				}
				if tc.faults[0].RetryAfter == "2" && (*slept)[0] != 2*time.Second {
					t.Errorf("waited %v, want Retry-After's 2s", (*slept)[0])
				}
				return
			}
			var e *httpx.Error
			if !errors.As(err, &e) || e.Kind != tc.kind || e.Retryable() != tc.retryable {
				t.Fatalf("err = %v, want kind %q retryable %v", err, tc.kind, tc.retryable)
			}
			if !strings.Contains(err.Error(), "contoso") {
				t.Errorf("error %q does not name the tenant", err)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error leaks the token: %q", err)
			}
		})
	}
}

func TestForbiddenShowsUpstreamDetail(t *testing.T) {
	srv, c, _ := setup(t)
	srv.Fail(mcasfake.Fault{Status: http.StatusForbidden, Body: `{"detail":"Token lacks Investigation.Read"}`})
	_, err := c.Alerts(context.Background(), source.AlertQuery{})
	if err == nil || !strings.Contains(err.Error(), "Token lacks Investigation.Read") {
		t.Fatalf("err = %v", err)
	}
}

func TestWrongTokenIsAuthError(t *testing.T) {
	srv := mcasfake.New(token)
	defer srv.Close()
	c, _ := mcas.New(mcas.Config{URL: srv.URL, Token: "wrong-token-value"}, srv.Client(), nil)
	_, err := c.Alerts(context.Background(), source.AlertQuery{})
	if httpx.KindOf(err) != httpx.KindAuth || strings.Contains(err.Error(), "wrong-token-value") {
		t.Fatalf("err = %v", err)
	}
}

func TestActivitiesByIP(t *testing.T) {
	srv, c, _ := setup(t)
	srv.AddActivities(mcasfake.GenerateActivities("contoso", 200, now, 72*time.Hour, 5)...)
	res, err := c.Activities(context.Background(), source.ActivityQuery{IP: "185.220.101.4", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Activities) == 0 {
		t.Fatal("no activities")
	}
	for _, a := range res.Activities {
		if a.IP != "185.220.101.4" || a.User == "" || a.App == "" || a.Time.Location() != time.UTC {
			t.Fatalf("activity %+v", a)
		}
	}
	got, _ := json.Marshal(srv.Requests()[0].Body.Filters["ip.address"])
	if string(got) != `{"eq":["185.220.101.4"]}` {
		t.Fatalf("ip filter %s", got)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []mcas.Config{{URL: "ftp://x", Token: "t"}, {URL: "https://x.example"}, {URL: "::", Token: "t"}} {
		if _, err := mcas.New(cfg, nil, nil); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	c, err := mcas.New(mcas.Config{URL: "https://contoso.eu2.portal.cloudappsecurity.com", Token: "t"}, nil, nil)
	if err != nil || c.Name() != "contoso" {
		t.Fatalf("default name: %v %v", c, err)
	}
}
