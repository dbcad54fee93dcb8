package commands_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/tenants"
)

// Many tenants (issue #18): selections, the health /mcas tenants shows,
// and one question's bounded fan-out.

// fleetWorld is n tenants served by one fake fleet (customer-000…), the
// first withAlerts of them with alerts; groups are given by name.
type fleetWorld struct {
	fleet  *mcasfake.Fleet
	fakes  []*mcasfake.Server
	names  []string
	runner *commands.Runner
}

func newFleetWorld(t testing.TB, n, withAlerts int, groups map[string][]string) *fleetWorld {
	t.Helper()
	w := &fleetWorld{fleet: mcasfake.NewFleet()}
	t.Cleanup(w.fleet.Close)
	var ts []source.Tenant
	for i := range n {
		name := fmt.Sprintf("customer-%03d", i)
		f := w.fleet.Add(name, "token-"+name)
		if i < withAlerts {
			f.AddAlerts(mcasfake.Generate(name, 30, now, 5*24*time.Hour, uint64(i+1))...)
		}
		c, err := mcas.New(mcas.Config{Name: name, URL: f.URL, Token: "token-" + name, Timeout: 5 * time.Second, RequestsPerMinute: -1, Attempts: 1}, w.fleet.Client(), nil)
		if err != nil {
			t.Fatal(err)
		}
		w.fakes, w.names, ts = append(w.fakes, f), append(w.names, name), append(ts, c)
	}
	w.runner = &commands.Runner{Tenants: tenants.NewDirectory(ts, groups, nil), Now: func() time.Time { return now }, Timeout: 10 * time.Second}
	return w
}

func (w *fleetWorld) run(t testing.TB, text string) commands.Result {
	t.Helper()
	req, err := w.runner.Parse(text)
	if err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	return w.runner.Run(context.Background(), req)
}

func (w *fleetWorld) calls() map[string]int {
	out := map[string]int{}
	for i, f := range w.fakes {
		if n := len(f.Requests()); n > 0 {
			out[w.names[i]] = n
		}
	}
	return out
}

// A group, a list and a mix ask exactly their tenants; the answer says
// how many matched and had nothing, and keeps every row for the CSV.
func TestSelectionsAskOnlyTheirTenants(t *testing.T) {
	w := newFleetWorld(t, 20, 3, map[string][]string{"emea": {"customer-000", "customer-004", "customer-005"}, "tier1": {"customer-001"}})
	res := w.run(t, "alerts limit=5 tenant=group:emea").(commands.AlertsResult)
	if got := w.calls(); len(got) != 3 || got["customer-000"] != 1 || got["customer-004"] != 1 || got["customer-005"] != 1 {
		t.Fatalf("calls %v, want emea's three", got)
	}
	if res.Selection != "group:emea" || strings.Join(res.Tenants, ",") != "customer-000,customer-004,customer-005" {
		t.Fatalf("selection %q, tenants %v", res.Selection, res.Tenants)
	}
	if res.Matched != 1 || res.Empty != 2 || len(res.Alerts) != 5 || len(res.All) != 5 {
		t.Fatalf("matched %d, empty %d, %d alerts, %d in all", res.Matched, res.Empty, len(res.Alerts), len(res.All))
	}
	res = w.run(t, "alerts limit=5 tenant=group:tier1,customer-002,CUSTOMER-019").(commands.AlertsResult)
	if strings.Join(res.Tenants, ",") != "customer-001,customer-002,customer-019" || res.Matched != 2 || res.Empty != 1 {
		t.Fatalf("mixed: tenants %v, matched %d, empty %d", res.Tenants, res.Matched, res.Empty)
	}
	// Every tenant: the newest 5 shown, every tenant's 5 kept.
	res = w.run(t, "alerts limit=5").(commands.AlertsResult)
	if len(res.Tenants) != 20 || res.Matched != 3 || res.Empty != 17 || len(res.Alerts) != 5 || len(res.All) != 15 || !res.More {
		t.Fatalf("all: %d tenants, matched %d, empty %d, %d shown, %d in all", len(res.Tenants), res.Matched, res.Empty, len(res.Alerts), len(res.All))
	}
	for i := 1; i < len(res.All); i++ {
		if res.All[i].Time.After(res.All[i-1].Time) {
			t.Fatal("the whole answer is not newest first")
		}
	}
	// An alert lookup and an address lookup take selections too.
	before := w.calls()
	w.run(t, "alert 6660000000000000000000ff tenant=group:tier1")
	w.run(t, "ip 10.0.0.1 tenant=customer-007,customer-008")
	after := w.calls()
	for _, n := range w.names {
		if d := after[n] - before[n]; d != map[string]int{"customer-001": 1, "customer-007": 1, "customer-008": 1}[n] {
			t.Errorf("%s was called %d more times", n, d)
		}
	}
}

// A selection that no longer resolves (the tenants file was reloaded
// between parsing and running) is the answer's failure, not a silent
// empty answer.
func TestSelectionReloadedAwayIsSaid(t *testing.T) {
	w := newFleetWorld(t, 3, 3, map[string][]string{"emea": {"customer-000"}})
	req, err := w.runner.Parse("alerts tenant=group:emea")
	if err != nil {
		t.Fatal(err)
	}
	w.runner.Tenants.Replace(w.runner.Tenants.Tenants(), nil, nil)
	res := w.runner.Run(context.Background(), req).(commands.AlertsResult)
	if len(res.Failures) != 1 || res.Failures[0].Tenant != "group:emea" || !strings.Contains(res.Failures[0].Reason(), `no group "emea"`) || len(w.calls()) != 0 {
		t.Fatalf("failures %+v, calls %v", res.Failures, w.calls())
	}
}

// gated is a tenant whose alert calls wait until released, counting how
// many are in flight across every gated tenant.
type gated struct {
	source.Tenant
	in      *atomic.Int32
	most    *atomic.Int32
	entered chan<- struct{}
	release <-chan struct{}
}

func (g gated) Alerts(ctx context.Context, q source.AlertQuery) (source.AlertList, error) {
	n := g.in.Add(1)
	for {
		m := g.most.Load()
		if n <= m || g.most.CompareAndSwap(m, n) {
			break
		}
	}
	defer g.in.Add(-1)
	g.entered <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
		return source.AlertList{}, ctx.Err()
	}
	return g.Tenant.Alerts(ctx, q)
}

// One question over 30 tenants with FanOut 5 has at most 5 calls in
// flight: the other 25 wait for a slot (and are counted), then every
// tenant answers.
func TestOneQuestionsFanOutIsBounded(t *testing.T) {
	w := newFleetWorld(t, 30, 30, nil)
	var in, most atomic.Int32
	var waits atomic.Int32
	entered, release := make(chan struct{}, 30), make(chan struct{})
	var ts []source.Tenant
	for _, c := range w.runner.Tenants.Tenants() {
		ts = append(ts, gated{Tenant: c, in: &in, most: &most, entered: entered, release: release})
	}
	w.runner.Tenants = tenants.Static(ts...)
	w.runner.FanOut = 5
	w.runner.OnFanOutWait = func() { waits.Add(1) }
	req, _ := w.runner.Parse("alerts")
	ans := w.runner.Start(context.Background(), req)
	bound := time.After(10 * time.Second) // a failure bound, not a wait
	for i := 0; i < 5 || waits.Load() < 25; {
		select {
		case <-entered:
			i++
		case <-bound:
			t.Fatalf("%d calls in flight, %d waiting for a slot", in.Load(), waits.Load())
		default:
			time.Sleep(time.Millisecond) // polling the wait counter
		}
	}
	if n := in.Load(); n != 5 {
		t.Fatalf("%d calls in flight with 25 waiting, want 5", n)
	}
	close(release)
	res := ans.Wait().(commands.AlertsResult)
	if len(res.Failures) != 0 || res.Matched != 30 || most.Load() != 5 || waits.Load() != 25 {
		t.Fatalf("failures %v, %d matched, at most %d in flight, %d waited", res.Failures, res.Matched, most.Load(), waits.Load())
	}
}

// A question whose time runs out while its tenants wait for fan-out slots
// says those tenants were not asked, and no breaker counts it: with one
// slot and every tenant hanging, each asked tenant holds it for the 300 ms
// timeout, so of 10 only the first few (how many depends on the machine)
// are asked before the question's time is up.
func TestTenantsNotAskedInTimeSaySo(t *testing.T) {
	w := newFleetWorld(t, 10, 10, nil)
	w.runner.FanOut, w.runner.Timeout, w.runner.Cooldown = 1, 300*time.Millisecond, time.Minute
	for _, f := range w.fakes {
		f.SetLatency(time.Hour)
	}
	res := w.run(t, "alerts").(commands.AlertsResult)
	var timedOut, notAsked int
	for _, f := range res.Failures {
		state := w.runner.TenantState(f.Tenant)
		switch f.Short() {
		case "timed out": // its breaker hears of it when its own call's time is up
			timedOut++
		case "not asked in time":
			notAsked++
			if state != commands.TenantAnswering || w.calls()[f.Tenant] > 0 {
				t.Errorf("%s, never asked, is %s", f.Tenant, state)
			}
			if !strings.Contains(f.Reason(), "FANOUT_CONCURRENCY") {
				t.Errorf("reason %q", f.Reason())
			}
		}
	}
	if timedOut < 1 || notAsked < 1 || timedOut+notAsked != 10 || len(w.calls()) != timedOut {
		t.Fatalf("%d timed out, %d not asked, calls %v", timedOut, notAsked, w.calls())
	}
}

// /mcas tenants shows what the questions saw: the last answer, the last
// failure and why, the breaker's mark, the budget, groups. It calls
// nothing upstream.
func TestTenantsShowsTheHealthQuestionsSaw(t *testing.T) {
	w := newFleetWorld(t, 4, 4, map[string][]string{"emea": {"customer-000", "customer-002"}, "tier1": {"customer-001"}})
	clk := &testClock{t: now}
	w.runner.Now, w.runner.Timeout, w.runner.Cooldown = clk.Now, 500*time.Millisecond, time.Minute
	w.fakes[1].Fail(mcasfake.Fault{Status: 401})
	w.fakes[2].SetLatency(time.Hour)
	w.run(t, "alerts tenant=customer-000,customer-001,customer-002")
	clk.Add(12 * time.Second)
	w.run(t, "alert 6660000000000000000000ff tenant=customer-000") // a 404 is an answer
	before := w.calls()

	res := w.run(t, "tenants").(commands.TenantsResult)
	if fmt.Sprint(w.calls()) != fmt.Sprint(before) {
		t.Fatalf("/mcas tenants called upstream: %v → %v", before, w.calls())
	}
	if len(res.Tenants) != 4 || !res.Now.Equal(clk.Now()) {
		t.Fatalf("%d tenants, now %v", len(res.Tenants), res.Now)
	}
	by := map[string]commands.TenantInfo{}
	for _, ti := range res.Tenants {
		by[ti.Name] = ti
	}
	ok, failing, hung, unasked := by["customer-000"], by["customer-001"], by["customer-002"], by["customer-003"]
	if !ok.LastOK.Equal(clk.Now()) || !ok.LastFail.IsZero() || ok.Source != "mcas" || strings.Join(ok.Groups, ",") != "emea" {
		t.Errorf("answering tenant %+v", ok)
	}
	if !failing.Failing() || !failing.LastFail.Equal(now) || !strings.Contains(failing.Failure, "authentication failed (HTTP 401)") ||
		failing.State != commands.TenantAnswering {
		t.Errorf("failing tenant %+v", failing)
	}
	if hung.State != commands.TenantNotAnswering || hung.Skipped == nil || hung.Skipped.Ago != 12*time.Second || hung.Skipped.RetryIn != 48*time.Second ||
		hung.Failure != "timed out: no answer within 500ms" {
		t.Errorf("hung tenant %+v (%+v)", hung, hung.Skipped)
	}
	if !unasked.LastOK.IsZero() || !unasked.LastFail.IsZero() || len(unasked.Groups) != 0 {
		t.Errorf("unasked tenant %+v", unasked)
	}
	if len(res.Groups) != 2 || res.Groups[0].Name != "emea" || strings.Join(res.Groups[0].Tenants, ",") != "customer-000,customer-002" {
		t.Errorf("groups %+v", res.Groups)
	}
	// A selection lists its tenants and their groups only.
	res = w.run(t, "tenants group:tier1").(commands.TenantsResult)
	if len(res.Tenants) != 1 || res.Tenants[0].Name != "customer-001" || len(res.Groups) != 1 || res.Groups[0].Name != "tier1" {
		t.Errorf("selection: %+v, groups %+v", res.Tenants, res.Groups)
	}
}

// Budgets show as the analyst reads them; a budget wait that ran out of
// time says nothing about the tenant's health.
func TestTenantsShowBudgetsAndIgnoreBudgetWaits(t *testing.T) {
	w := newFleetWorld(t, 1, 1, nil)
	f := w.fakes[0]
	c, err := mcas.New(mcas.Config{Name: "customer-000", URL: f.URL, Token: "token-customer-000", RequestsPerMinute: 1, BudgetWindow: time.Hour, Attempts: 1}, w.fleet.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	w.runner.Tenants = tenants.Static(c)
	w.runner.Timeout = 300 * time.Millisecond
	w.run(t, "alerts")
	res := w.run(t, "alerts high").(commands.AlertsResult)
	if len(res.Failures) != 1 {
		t.Fatalf("the second call was not refused by the budget: %+v", res.Failures)
	}
	ti := w.run(t, "tenants").(commands.TenantsResult).Tenants[0]
	if ti.Budget != "1 per 1h0m0s" || ti.Failing() || ti.LastOK.IsZero() {
		t.Fatalf("tenant %+v", ti)
	}
}
