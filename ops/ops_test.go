package ops_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/ops"
)

func TestReadinessNamesWhatIsDown(t *testing.T) {
	var socket, store atomic.Bool
	socket.Store(true)
	store.Store(true)
	m := ops.NewMetrics()
	m.Watch(socket.Load, store.Load, nil)
	srv := httptest.NewServer(ops.Handler(m, ops.Check{Name: "slack_socket_mode", OK: socket.Load}, ops.Check{Name: "state_store", OK: store.Load}))
	defer srv.Close()
	get := func(path string) (int, map[string]any) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code, body := get("/readyz"); code != 200 || body["status"] != "ready" {
		t.Fatalf("readyz %d %v", code, body)
	}
	store.Store(false)
	code, body := get("/readyz")
	if code != 503 || body["status"] != "not ready" || !strings.Contains(toJSON(body["down"]), "state_store") || strings.Contains(toJSON(body["down"]), "slack") {
		t.Fatalf("store down: %d %v", code, body)
	}
	socket.Store(false)
	if _, body := get("/readyz"); !strings.Contains(toJSON(body["down"]), "slack_socket_mode") {
		t.Fatalf("socket down: %v", body)
	}
	store.Store(true)
	socket.Store(true)
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("recovered: %d", code)
	}
	resp, _ := http.Get(srv.URL + "/metrics")
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "mcasbot_store_up 1") || !strings.Contains(string(b), "mcasbot_socketmode_connected 1") {
		t.Fatalf("gauges missing:\n%s", b)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestCallerAndBudgetWaitsAreCounted(t *testing.T) {
	m := ops.NewMetrics()
	c := &httpx.Caller{Service: "mcas contoso"}
	m.ObserveCaller(c)
	c.Observe("list alerts", 429, 10*time.Millisecond)
	c.Observe("list alerts", 200, 20*time.Millisecond)
	c.OnRetry("list alerts", time.Second)
	c.OnLimit(2 * time.Second)
	srv := httptest.NewServer(ops.Handler(m))
	defer srv.Close()
	resp, _ := http.Get(srv.URL + "/metrics")
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`mcasbot_upstream_requests_total{integration="mcas",status="429"} 1`,
		`mcasbot_upstream_requests_total{integration="mcas",status="200"} 1`,
		`mcasbot_upstream_retries_total{integration="mcas"} 1`,
		`mcasbot_rate_limit_waits_total{integration="mcas"} 1`,
		`mcasbot_rate_limit_wait_seconds_total{integration="mcas"} 2`,
		`mcasbot_upstream_request_seconds_count{integration="mcas"} 2`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestTenantStatesAndSkipsAreExported(t *testing.T) {
	m := ops.NewMetrics()
	var contoso atomic.Int32
	contoso.Store(2)
	var served atomic.Pointer[[]string]
	served.Store(&[]string{"contoso", "fabrikam"})
	m.WatchTenants(func() []string { return *served.Load() }, func(t string) int {
		if t == "contoso" {
			return int(contoso.Load())
		}
		return 0
	})
	m.TenantSkipped.WithLabelValues("contoso").Add(3)
	srv := httptest.NewServer(ops.Handler(m))
	defer srv.Close()
	scrape := func() string {
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	s := scrape()
	for _, want := range []string{
		`mcasbot_tenant_state{tenant="contoso"} 2`,
		`mcasbot_tenant_state{tenant="fabrikam"} 0`,
		`mcasbot_tenant_skipped_total{tenant="contoso"} 3`,
		`mcasbot_tenants 2`,
		`mcasbot_tenants_reloads_total{outcome="failed"} 0`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	contoso.Store(1) // read at scrape time
	if s := scrape(); !strings.Contains(s, `mcasbot_tenant_state{tenant="contoso"} 1`) {
		t.Errorf("the state is not read at scrape time:\n%s", s)
	}
	// A reload changes the tenants: so do the metrics.
	served.Store(&[]string{"fabrikam", "northwind", "tailspin"})
	s = scrape()
	if strings.Contains(s, `mcasbot_tenant_state{tenant="contoso"}`) || !strings.Contains(s, `mcasbot_tenant_state{tenant="northwind"} 0`) || !strings.Contains(s, "mcasbot_tenants 3") {
		t.Errorf("the tenants are not read at scrape time:\n%s", s)
	}
}

// A detail shows in /readyz's body whether its check is up or down.
func TestReadinessShowsDetails(t *testing.T) {
	var up atomic.Bool
	up.Store(true)
	detail := map[string]any{"last_reload": map[string]any{"ok": false, "problems": []string{"tenants.yaml:3: unknown key \"sourse\""}}}
	srv := httptest.NewServer(ops.Handler(ops.NewMetrics(), ops.Check{Name: "slack_socket_mode", OK: up.Load},
		ops.Check{Name: "tenants", OK: func() bool { return true }, Detail: func() any { return detail }}))
	defer srv.Close()
	for _, want := range []int{200, 503} {
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Status  string
			Checks  map[string]string
			Details map[string]json.RawMessage
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != want || body.Checks["tenants"] != "up" || !strings.Contains(string(body.Details["tenants"]), `unknown key \"sourse\"`) {
			t.Fatalf("readyz %d %+v", resp.StatusCode, body)
		}
		up.Store(false)
	}
}

func TestStoreSizeAndPrunedRows(t *testing.T) {
	m := ops.NewMetrics()
	m.SetStoreSize(map[string]int64{"posted_alerts": 1200, "alert_facts": 0}, 4096)
	m.Pruned.WithLabelValues("posted_alerts").Add(300)
	m.PruneRuns.WithLabelValues("ok").Inc()
	m.SetStoreSize(map[string]int64{"posted_alerts": 900}, 0) // bytes unknown: kept
	srv := httptest.NewServer(ops.Handler(m))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	for _, want := range []string{`mcasbot_store_rows{table="posted_alerts"} 900`, `mcasbot_store_rows{table="alert_facts"} 0`,
		"mcasbot_store_bytes 4096", `mcasbot_store_pruned_rows_total{table="posted_alerts"} 300`, `mcasbot_prune_runs_total{outcome="ok"} 1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
