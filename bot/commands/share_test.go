package commands_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/tenants"
)

func (w *world) calls() int {
	n := 0
	for _, f := range w.fakes {
		n += len(f.Requests())
	}
	return n
}

func (w *world) start(t testing.TB, ctx context.Context, text string) *commands.Answer {
	t.Helper()
	req, err := w.runner.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return w.runner.Start(ctx, req)
}

// Identical questions in flight make one call per tenant, whatever their
// limit up to the default, and joiners are counted.
func TestIdenticalQueriesInFlightShareOneCall(t *testing.T) {
	w := newWorld(t, "contoso", "fabrikam")
	var joined atomic.Int32
	w.runner.OnCoalesced = func() { joined.Add(1) }
	for _, f := range w.fakes {
		f.SetLatency(150 * time.Millisecond)
	}
	var wg sync.WaitGroup
	results := make([]commands.AlertsResult, 10)
	for i := range results {
		text := "alerts"
		if i%2 == 1 {
			text = "alerts 5 since=1w" // the same query: 1w = 7d, 5 fits in the default 20
		}
		wg.Go(func() { results[i] = w.run(t, text).(commands.AlertsResult) })
	}
	wg.Wait()
	if n := w.calls(); n != 2 {
		t.Fatalf("10 identical commands over 2 tenants made %d MCAS calls, want 2", n)
	}
	if joined.Load() != 18 {
		t.Fatalf("%d tenant queries joined a call in flight, want 18", joined.Load())
	}
	for i, r := range results {
		want := 20
		if i%2 == 1 {
			want = 5
		}
		if len(r.Alerts) != want || !r.AsOf.IsZero() || len(r.Failures) != 0 {
			t.Fatalf("result %d: %d alerts, as of %v, failures %v", i, len(r.Alerts), r.AsOf, r.Failures)
		}
	}
}

// A reused answer says when it was fetched; a smaller limit is served from
// a larger one, a single tenant from a fan-out, a larger limit is asked.
func TestCachedAnswersAreReusedWithTheirTime(t *testing.T) {
	w := newWorld(t, "contoso", "fabrikam")
	w.runner.CacheTTL = time.Hour
	var hits, misses atomic.Int32
	w.runner.OnCache = func(hit bool) {
		if hit {
			hits.Add(1)
		} else {
			misses.Add(1)
		}
	}
	// The runner's clock says when an answer was fetched.
	fetched := now
	var clock atomic.Int64
	clock.Store(fetched.UnixNano())
	w.runner.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	first := w.run(t, "alerts").(commands.AlertsResult)
	if !first.AsOf.IsZero() {
		t.Fatal("a fresh answer has an as-of time")
	}
	clock.Add(int64(time.Minute))
	small := w.run(t, "alerts limit=5").(commands.AlertsResult)
	one := w.run(t, "alerts tenant=contoso").(commands.AlertsResult)
	if n := w.calls(); n != 2 {
		t.Fatalf("reuse made %d calls, want the first 2", n)
	}
	if small.AsOf.IsZero() || !small.AsOf.Equal(fetched) || !one.AsOf.Equal(fetched) {
		t.Fatalf("as of %v / %v, want the first call's time", small.AsOf, one.AsOf)
	}
	if len(small.Alerts) != 5 || small.Alerts[0].ID != first.Alerts[0].ID || !small.More {
		t.Fatalf("limit 5 from the cached 20: %d alerts, more=%v", len(small.Alerts), small.More)
	}
	for _, a := range one.Alerts {
		if a.Tenant != "contoso" {
			t.Fatalf("tenant=contoso got a %s alert", a.Tenant)
		}
	}
	if big := w.run(t, "alerts limit=30").(commands.AlertsResult); !big.AsOf.IsZero() || w.calls() != 4 {
		t.Fatalf("limit 30 was served from a 20 (as of %v, %d calls)", big.AsOf, w.calls())
	}
	if w.run(t, "alerts high"); w.calls() != 6 {
		t.Fatal("other filters were served from the cache")
	}
	if hits.Load() != 3 || misses.Load() != 6 {
		t.Fatalf("%d hits, %d misses; want 3 and 6", hits.Load(), misses.Load())
	}
}

func TestFailuresAreNotReused(t *testing.T) {
	w := newWorld(t, "contoso")
	w.runner.CacheTTL = time.Hour
	w.fakes[0].Fail(mcasfake.Fault{Status: 503})
	if r := w.run(t, "alerts").(commands.AlertsResult); len(r.Failures) != 1 {
		t.Fatalf("failures %v", r.Failures)
	}
	r := w.run(t, "alerts").(commands.AlertsResult)
	if len(r.Failures) != 0 || len(r.Alerts) == 0 || !r.AsOf.IsZero() || w.calls() != 2 {
		t.Fatalf("after a failure: %d alerts, failures %v, %d calls", len(r.Alerts), r.Failures, w.calls())
	}
}

func TestAnswersAreNotReusedAfterTheTTL(t *testing.T) {
	w := newWorld(t, "contoso")
	w.runner.CacheTTL = 50 * time.Millisecond
	w.run(t, "ip 185.220.101.4")
	if r := w.run(t, "ip 185.220.101.4").(commands.IPResult); r.AsOf.IsZero() || w.calls() != 1 {
		t.Fatalf("within the TTL: as of %v, %d calls", r.AsOf, w.calls())
	}
	time.Sleep(80 * time.Millisecond) // let the entry expire
	if r := w.run(t, "ip 185.220.101.4").(commands.IPResult); !r.AsOf.IsZero() || w.calls() != 2 {
		t.Fatalf("after the TTL: as of %v, %d calls", r.AsOf, w.calls())
	}
	// TTL 0: calls are shared in flight only.
	w.runner = &commands.Runner{Tenants: w.runner.Tenants, Now: w.runner.Now, Timeout: time.Second}
	w.run(t, "alerts")
	w.run(t, "alerts")
	if w.calls() != 4 {
		t.Fatalf("with the cache off, two commands made %d calls, want 2 more", w.calls()-2)
	}
}

// A command that gives up does not fail the others waiting for the same call.
func TestGivingUpDoesNotFailTheOthers(t *testing.T) {
	w := newWorld(t, "contoso")
	w.fakes[0].SetLatency(200 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	first := w.start(t, ctx, "alerts")
	second := w.start(t, context.Background(), "alerts")
	cancel()
	r1 := first.Wait().(commands.AlertsResult)
	r2 := second.Wait().(commands.AlertsResult)
	if len(r1.Failures) != 1 || len(r2.Failures) != 0 || len(r2.Alerts) == 0 || w.calls() != 1 {
		t.Fatalf("first failures %v; second %d alerts, failures %v; %d calls", r1.Failures, len(r2.Alerts), r2.Failures, w.calls())
	}
}

// By the deadline the answer shows the tenants that answered and names the
// one that did not; when the command's time is up, that tenant has failed.
func TestAwaitShowsTheOthersByTheDeadline(t *testing.T) {
	w := newWorld(t, "contoso", "fabrikam")
	w.runner.Timeout = 600 * time.Millisecond
	w.fakes[0].Fail(mcasfake.Fault{Delay: time.Hour}) // contoso hangs
	ans := w.start(t, context.Background(), "alerts")
	for len(ans.Result().(commands.AlertsResult).Pending) > 1 {
		<-ans.Changed() // until fabrikam answers
	}
	var shown []commands.Result
	var why []commands.Interim
	final := ans.Await(time.Now(), func(r commands.Result, i commands.Interim) {
		shown, why = append(shown, r), append(why, i)
	})
	if len(shown) != 1 || why[0] != commands.InterimDeadline {
		t.Fatalf("interim replies %v", why)
	}
	part := shown[0].(commands.AlertsResult)
	if len(part.Pending) != 1 || part.Pending[0].Tenant != "contoso" || len(part.Alerts) == 0 || len(part.Failures) != 0 {
		t.Fatalf("interim: pending %+v, %d alerts, failures %v", part.Pending, len(part.Alerts), part.Failures)
	}
	for _, a := range part.Alerts {
		if a.Tenant != "fabrikam" {
			t.Fatal("interim holds a contoso alert")
		}
	}
	r := final.(commands.AlertsResult)
	if len(r.Pending) != 0 || len(r.Failures) != 1 || !strings.Contains(r.Failures[0].Reason(), "timed out") {
		t.Fatalf("final: pending %v, failures %v", r.Pending, r.Failures)
	}
}

// A call waiting for its tenant's request budget longer than QueueNotice
// is shown at once, with the wait and the budget.
func TestAwaitSaysWhenATenantIsQueued(t *testing.T) {
	srv := mcasfake.New("tok")
	t.Cleanup(srv.Close)
	srv.AddAlerts(mcasfake.Generate("contoso", 10, now, 24*time.Hour, 1)...)
	c, err := mcas.New(mcas.Config{Name: "contoso", URL: srv.URL, Token: "tok", RequestsPerMinute: 1, BudgetWindow: 1500 * time.Millisecond}, srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &commands.Runner{Tenants: tenants.Static(c), Now: func() time.Time { return now }, Timeout: 5 * time.Second, QueueNotice: 100 * time.Millisecond}
	req, _ := r.Parse("alerts")
	r.Run(context.Background(), req) // spends the budget
	req, _ = r.Parse("alerts high")
	var shown []commands.Result
	var why []commands.Interim
	final := r.Start(context.Background(), req).Await(time.Now().Add(time.Hour), func(res commands.Result, i commands.Interim) {
		shown, why = append(shown, res), append(why, i)
	})
	if len(shown) != 1 || why[0] != commands.InterimQueued {
		t.Fatalf("interim replies %v", why)
	}
	p := shown[0].(commands.AlertsResult).Pending
	if len(p) != 1 || p[0].Queued < time.Second || p[0].Budget != "1 per 1.5s" {
		t.Fatalf("pending %+v", p)
	}
	if res := final.(commands.AlertsResult); len(res.Failures) != 0 || len(res.Pending) != 0 {
		t.Fatalf("final %+v", res)
	}
}

// After a close, the tenant's alert lists are read again: an answer kept
// from a minute ago would still show the closed alert open.
func TestForgetAlertsAfterAClose(t *testing.T) {
	w := newWorld(t, "contoso", "fabrikam")
	w.runner.CacheTTL = time.Hour
	w.run(t, "alerts")
	w.run(t, "ip 185.220.101.4")
	if n := w.calls(); n != 4 {
		t.Fatalf("%d calls, want 4", n)
	}
	w.runner.ForgetAlerts("contoso")
	if r := w.run(t, "alerts").(commands.AlertsResult); w.calls() != 5 {
		t.Fatalf("contoso's alerts were reused after a close (%d calls, as of %v)", w.calls(), r.AsOf)
	}
	if w.run(t, "ip 185.220.101.4"); w.calls() != 5 {
		t.Fatal("activities were forgotten too")
	}
}

// A tenant whose settings a reload changed answers nothing from before:
// alert lists and activities are read again, the other tenant's are kept.
func TestForgetDropsEveryAnswerOfATenant(t *testing.T) {
	w := newWorld(t, "contoso", "fabrikam")
	w.runner.CacheTTL = time.Hour
	w.run(t, "alerts")
	w.run(t, "ip 185.220.101.4")
	w.runner.Forget("contoso")
	w.run(t, "alerts")
	w.run(t, "ip 185.220.101.4")
	if n := w.calls(); n != 6 {
		t.Fatalf("%d calls, want 6: contoso's alerts and activities read again, fabrikam's reused", n)
	}
}
