package commands_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/abuseipdb/abusefake"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/tenants"
)

var now = time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)

type world struct {
	fakes  []*mcasfake.Server
	abuse  *abusefake.Server
	runner *commands.Runner
}

func newWorld(t testing.TB, names ...string) *world {
	t.Helper()
	w := &world{runner: &commands.Runner{Tenants: tenants.Static(), Now: func() time.Time { return now }, Timeout: 5 * time.Second}}
	for i, n := range names {
		srv := mcasfake.New("token-" + n)
		t.Cleanup(srv.Close)
		srv.AddAlerts(mcasfake.Generate(n, 40, now, 6*24*time.Hour, uint64(i+1))...)
		srv.AddActivities(mcasfake.GenerateActivities(n, 60, now, 48*time.Hour, uint64(i+1))...)
		c, err := mcas.New(mcas.Config{Name: n, URL: srv.URL, Token: "token-" + n, Timeout: time.Second, RequestsPerMinute: -1, Attempts: 1}, srv.Client(), nil)
		if err != nil {
			t.Fatal(err)
		}
		w.fakes = append(w.fakes, srv)
		w.runner.Tenants.Put(c)
	}
	w.abuse = abusefake.New("abuse-key", 1000)
	t.Cleanup(w.abuse.Close)
	rep, _ := abuseipdb.New(abuseipdb.Config{APIKey: "abuse-key", URL: w.abuse.URL}, w.abuse.Client(), nil)
	w.runner.Reputation = rep
	return w
}

func (w *world) run(t testing.TB, text string) commands.Result {
	t.Helper()
	req, err := w.runner.Parse(text)
	if err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	return w.runner.Run(context.Background(), req)
}

func TestAlertsMergesTenantsNewestFirst(t *testing.T) {
	w := newWorld(t, "contoso", "fabrikam")
	res := w.run(t, "alerts limit=30").(commands.AlertsResult)
	if len(res.Alerts) != 30 || !res.More || len(res.Failures) != 0 {
		t.Fatalf("got %d alerts, more=%v, failures=%v", len(res.Alerts), res.More, res.Failures)
	}
	seen := map[string]bool{}
	for i, a := range res.Alerts {
		seen[a.Tenant] = true
		if i > 0 && a.Time.After(res.Alerts[i-1].Time) {
			t.Fatal("not newest first")
		}
	}
	if !seen["contoso"] || !seen["fabrikam"] {
		t.Fatalf("tenants in result: %v", seen)
	}
	if strings.Join(res.Tenants, ",") != "contoso,fabrikam" {
		t.Fatalf("tenants queried %v", res.Tenants)
	}
}

func TestTenantFilterQueriesOneTenant(t *testing.T) {
	w := newWorld(t, "contoso", "fabrikam")
	res := w.run(t, "alerts tenant=fabrikam").(commands.AlertsResult)
	for _, a := range res.Alerts {
		if a.Tenant != "fabrikam" {
			t.Fatalf("alert from %s", a.Tenant)
		}
	}
	if len(w.fakes[0].Requests()) != 0 {
		t.Fatal("contoso was queried")
	}
}

func TestOneTenantFailingStillAnswers(t *testing.T) {
	w := newWorld(t, "contoso", "fabrikam")
	w.fakes[1].Fail(mcasfake.Fault{Status: 401})
	res := w.run(t, "alerts").(commands.AlertsResult)
	if len(res.Alerts) == 0 {
		t.Fatal("lost the healthy tenant's alerts")
	}
	if len(res.Failures) != 1 || res.Failures[0].Tenant != "fabrikam" || !strings.Contains(res.Failures[0].Reason(), "authentication failed (HTTP 401)") {
		t.Fatalf("failures %+v", res.Failures)
	}
	if !commands.Failed(res) {
		t.Fatal("Failed() = false")
	}
}

func TestUserAlerts(t *testing.T) {
	w := newWorld(t, "contoso")
	res := w.run(t, "user alice@contoso.com").(commands.AlertsResult)
	if len(res.Alerts) == 0 {
		t.Fatal("no alerts for alice")
	}
	for _, a := range res.Alerts {
		if a.User() != "alice@contoso.com" {
			t.Fatalf("alert for %s", a.User())
		}
	}
}

func TestIPWithReputation(t *testing.T) {
	w := newWorld(t, "contoso", "fabrikam")
	res := w.run(t, "ip 185.220.101.4").(commands.IPResult)
	if res.Reputation == nil || res.Reputation.IP != "185.220.101.4" || res.RepNote != "" {
		t.Fatalf("reputation %+v note %q", res.Reputation, res.RepNote)
	}
	if len(res.Activities) == 0 {
		t.Fatal("no activities")
	}
	for _, a := range res.Activities {
		if a.IP != "185.220.101.4" {
			t.Fatalf("activity from %s", a.IP)
		}
	}
}

func TestPrivateIPIsNotSentToAbuseIPDB(t *testing.T) {
	w := newWorld(t, "contoso")
	res := w.run(t, "ip 10.20.30.40").(commands.IPResult)
	if res.Reputation != nil || !strings.Contains(res.RepNote, "not sent to AbuseIPDB") {
		t.Fatalf("reputation %+v note %q", res.Reputation, res.RepNote)
	}
	if w.abuse.TotalCalls() != 0 {
		t.Fatal("private address sent to AbuseIPDB")
	}
	if len(res.Activities) == 0 {
		t.Fatal("private address not looked up in MCAS")
	}
}

func TestReputationFailureDoesNotFailCommand(t *testing.T) {
	w := newWorld(t, "contoso")
	w.abuse.Fail(abusefake.Fault{Status: 429, RetryAfter: "3600", Body: `{"errors":[{"detail":"Daily rate limit of 1000 requests exceeded","status":429}]}`})
	res := w.run(t, "ip 185.220.101.4").(commands.IPResult)
	if res.Reputation != nil || res.RepNote != "reputation unavailable: AbuseIPDB quota exhausted" || commands.Failed(res) {
		t.Fatalf("note %q failures %v", res.RepNote, res.Failures)
	}
}

func TestNoAbuseKeySaysSo(t *testing.T) {
	w := newWorld(t, "contoso")
	w.runner.Reputation = nil
	res := w.run(t, "ip 8.8.8.8").(commands.IPResult)
	if !strings.Contains(res.RepNote, "ABUSEIPDB_API_KEY") {
		t.Fatalf("note %q", res.RepNote)
	}
}

// BenchmarkFanout3Tenants: three tenants answering in 100 ms each should
// take about as long as one, not three.
func BenchmarkFanout3Tenants(b *testing.B) {
	w := newWorld(b, "contoso", "fabrikam", "northwind")
	for _, f := range w.fakes {
		f.SetLatency(100 * time.Millisecond)
	}
	one := &commands.Runner{Tenants: tenants.Static(w.runner.Tenants.Tenants()[0]), Now: w.runner.Now}
	req, _ := w.runner.Parse("alerts limit=20")
	var oneTotal, allTotal time.Duration
	for b.Loop() {
		start := time.Now()
		one.Run(context.Background(), req)
		oneTotal += time.Since(start)
		start = time.Now()
		w.runner.Run(context.Background(), req)
		allTotal += time.Since(start)
	}
	ratio := float64(allTotal) / float64(oneTotal)
	b.ReportMetric(ratio, "x-one-tenant")
	b.ReportMetric(float64(allTotal.Milliseconds())/float64(b.N), "ms/3-tenant-op")
	if ratio > 1.2 {
		b.Errorf("3-tenant fan-out took %.2fx one tenant's time, target ≤ 1.2x", ratio)
	}
}
