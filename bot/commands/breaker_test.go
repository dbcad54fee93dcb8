package commands_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/tenants"
)

// A hung tenant (issue #16): a tenant whose call timed out is skipped for
// the cooldown, then one question at a time checks whether it is back.

// testClock is the runner's clock, moved by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// hungWorld is contoso and fabrikam with contoso marked for cooldown after a
// timeout; its logs and skipped questions are kept.
func hungWorld(t *testing.T, timeout, cooldown time.Duration) (*world, *testClock, *lockedBuffer, *atomic.Int32) {
	w := newWorld(t, "contoso", "fabrikam")
	clk := &testClock{t: now}
	logs := &lockedBuffer{}
	var skipped atomic.Int32
	w.runner.Now, w.runner.Timeout, w.runner.Cooldown = clk.Now, timeout, cooldown
	w.runner.Logger = slog.New(slog.NewTextHandler(logs, nil))
	w.runner.OnSkipped = func(tenant string) {
		if tenant == "contoso" {
			skipped.Add(1)
		}
	}
	return w, clk, logs, &skipped
}

func failureOf(res commands.Result, tenant string) error {
	var fs []commands.Failure
	switch r := res.(type) {
	case commands.AlertsResult:
		fs = r.Failures
	case commands.IPResult:
		fs = r.Failures
	case commands.AlertResult:
		fs = r.Failures
	}
	for _, f := range fs {
		if f.Tenant == tenant {
			return f.Err
		}
	}
	return nil
}

// After contoso times out, questions skip it at once and say since when,
// and when it is asked again; answers it gave before are still reused, "as
// of" when they were fetched. Every kind of question is covered: alerts,
// user, ip and alert.
func TestTimedOutTenantIsSkippedForTheCooldown(t *testing.T) {
	w, clk, logs, skipped := hungWorld(t, 300*time.Millisecond, time.Minute)
	w.runner.CacheTTL = time.Hour
	contoso := w.fakes[0]
	fetched := clk.Now()
	if res := w.run(t, "alerts tenant=contoso").(commands.AlertsResult); len(res.Failures) != 0 || len(res.Alerts) == 0 {
		t.Fatalf("first answer: %+v", res.Failures)
	}
	contoso.SetLatency(time.Hour)
	clk.Add(3 * time.Second)
	res := w.run(t, "alerts high").(commands.AlertsResult)
	if err := failureOf(res, "contoso"); httpx.KindOf(err) != httpx.KindTimeout || len(res.Alerts) == 0 {
		t.Fatalf("contoso's failure %v, %d alerts from fabrikam", err, len(res.Alerts))
	}
	// Marked by the time the timeout is reported: the next question skips it.
	if s := w.runner.TenantState("contoso"); s != commands.TenantNotAnswering {
		t.Fatalf("contoso is %s after timing out", s)
	}
	if s := w.runner.TenantState("fabrikam"); s != commands.TenantAnswering {
		t.Fatalf("fabrikam is %s", s)
	}
	if !strings.Contains(logs.String(), `msg="tenant not answering: questions skip it" tenant=contoso cooldown=1m0s`) {
		t.Fatalf("no log line for the trip:\n%s", logs.String())
	}

	clk.Add(12 * time.Second)
	calls := len(contoso.Requests())
	for _, text := range []string{"alerts medium", "user alice@contoso.com", "ip 185.220.101.4", "alert 6660000000000000000000ff", "alerts medium tenant=contoso"} {
		res := w.run(t, text)
		na, ok := errors.AsType[*commands.NotAnswering](failureOf(res, "contoso"))
		if !ok || na.Ago != 12*time.Second || na.RetryIn != 48*time.Second {
			t.Fatalf("%s: contoso's failure %v (%+v)", text, failureOf(res, "contoso"), na)
		}
		if text == "alerts medium" && len(res.(commands.AlertsResult).Alerts) == 0 {
			t.Fatal("fabrikam's alerts are missing")
		}
	}
	if n := len(contoso.Requests()); n != calls {
		t.Fatalf("%d calls reached contoso while it was skipped", n-calls)
	}
	if skipped.Load() != 5 {
		t.Fatalf("%d skipped questions counted, want 5", skipped.Load())
	}

	// Reused while skipped, and says when it was fetched.
	res = w.run(t, "alerts 5 tenant=contoso").(commands.AlertsResult)
	if len(res.Failures) != 0 || len(res.Alerts) != 5 || !res.AsOf.Equal(fetched) {
		t.Fatalf("cached answer: %d alerts, as of %v (want %v), failures %v", len(res.Alerts), res.AsOf, fetched, res.Failures)
	}
}

// Once the cooldown is over, one question checks contoso; another meanwhile
// is answered at once without it. A probe that times out marks it again; one
// that is answered ends the mark, and every question asks contoso again.
func TestOneProbeAtATimeChecksWhetherTheTenantIsBack(t *testing.T) {
	const cooldown = 200 * time.Millisecond
	w, _, logs, skipped := hungWorld(t, 2*time.Second, cooldown)
	contoso := w.fakes[0]
	contoso.SetLatency(time.Hour)
	if err := failureOf(w.run(t, "alerts tenant=contoso"), "contoso"); httpx.KindOf(err) != httpx.KindTimeout {
		t.Fatalf("first question: %v", err)
	}
	waitFor(t, func() bool { return strings.Contains(logs.String(), "tenant not answering") }, "contoso to be marked")
	time.Sleep(cooldown) // the cooldown passes (on the wall clock, as in production)
	if s := w.runner.TenantState("contoso"); s != commands.TenantChecking {
		t.Fatalf("contoso is %s after the cooldown", s)
	}

	probe := w.start(t, context.Background(), "user alice@contoso.com tenant=contoso")
	waitFor(t, func() bool { return len(contoso.Requests()) == 2 }, "the probe to reach contoso")
	meanwhile := w.run(t, "alerts high")
	na, ok := errors.AsType[*commands.NotAnswering](failureOf(meanwhile, "contoso"))
	if !ok || na.RetryIn != 0 {
		t.Fatalf("a question during the probe: %v", failureOf(meanwhile, "contoso"))
	}
	if n := len(contoso.Requests()); n != 2 || skipped.Load() != 1 {
		t.Fatalf("%d calls to contoso, %d skipped, want 2 and 1", n, skipped.Load())
	}
	if err := failureOf(probe.Wait(), "contoso"); httpx.KindOf(err) != httpx.KindTimeout {
		t.Fatalf("the probe: %v", err)
	}
	waitFor(t, func() bool { return w.runner.TenantState("contoso") == commands.TenantNotAnswering }, "contoso to be marked again")
	if !strings.Contains(logs.String(), `msg="tenant still not answering: questions skip it" tenant=contoso`) {
		t.Fatalf("no log line for the failed probe:\n%s", logs.String())
	}

	contoso.SetLatency(0) // contoso is back
	time.Sleep(cooldown)
	if err := failureOf(w.run(t, "user bob@contoso.com tenant=contoso"), "contoso"); err != nil {
		t.Fatalf("the second probe: %v", err)
	}
	if s := w.runner.TenantState("contoso"); s != commands.TenantAnswering || !strings.Contains(logs.String(), `msg="tenant answering again" tenant=contoso`) {
		t.Fatalf("after an answered probe contoso is %s; logs:\n%s", s, logs.String())
	}
	var wg sync.WaitGroup
	for _, text := range []string{"alerts low", "alerts medium", "ip 10.0.0.1"} {
		wg.Go(func() {
			if err := failureOf(w.run(t, text), "contoso"); err != nil {
				t.Errorf("%s: %v", text, err)
			}
		})
	}
	wg.Wait()
	if n := len(contoso.Requests()); n != 6 {
		t.Fatalf("%d calls to contoso, want 6", n)
	}
}

// Only not answering in time marks a tenant: an error it answers with,
// 5xx included, is an answer. A gateway's 504 is a timeout.
func TestOnlyTimeoutsMarkATenant(t *testing.T) {
	for status, marks := range map[int]bool{400: false, 401: false, 403: false, 429: false, 500: false, 503: false, 504: true} {
		w, _, _, _ := hungWorld(t, time.Second, time.Minute)
		w.fakes[0].Fail(mcasfake.Fault{Status: status})
		err := failureOf(w.run(t, "alerts tenant=contoso"), "contoso")
		if err == nil {
			t.Fatalf("%d: no failure", status)
		}
		if got := w.runner.TenantState("contoso") == commands.TenantNotAnswering; got != marks {
			t.Errorf("HTTP %d (%v): marked %v, want %v", status, err, got, marks)
		}
		if err := failureOf(w.run(t, "alerts high tenant=contoso"), "contoso"); !marks && err != nil {
			t.Errorf("HTTP %d: the next question failed: %v", status, err)
		}
	}
}

// A call whose time ran out while part of it was spent queued for the
// tenant's request budget says nothing about the tenant; the same hang
// without the wait marks it.
func TestTimeoutAfterABudgetWaitDoesNotMarkTheTenant(t *testing.T) {
	w, _, logs, _ := hungWorld(t, time.Second, time.Minute)
	f := w.fakes[0]
	c, err := mcas.New(mcas.Config{Name: "contoso", URL: f.URL, Token: "token-contoso", Attempts: 1, Timeout: 5 * time.Second,
		RequestsPerMinute: 1, BudgetWindow: 500 * time.Millisecond}, f.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	w.runner.Tenants = tenants.Static(c)
	if err := failureOf(w.run(t, "alerts"), "contoso"); err != nil {
		t.Fatal(err)
	}
	f.SetLatency(time.Hour)
	first := w.runner.Start(context.Background(), mustParse(t, w, "alerts high"))
	for queued := false; !queued; {
		changed := first.Changed()
		r := first.Result().(commands.AlertsResult)
		queued = len(r.Pending) == 1 && r.Pending[0].Queued > 0
		if !queued {
			select {
			case <-changed:
			case <-first.Done():
				t.Fatal("the call never queued for the budget")
			}
		}
	}
	// Once the queued call is sent, the same question joins it: started
	// half a second later, it gets the call's own outcome, after the breaker
	// was told, rather than running out of time itself.
	waitFor(t, func() bool { return len(f.Requests()) == 2 }, "the queued call to be sent")
	if err := failureOf(w.run(t, "alerts high"), "contoso"); httpx.KindOf(err) != httpx.KindTimeout {
		t.Fatalf("the queued call: %v", err)
	}
	if s := w.runner.TenantState("contoso"); s != commands.TenantAnswering {
		t.Fatalf("a call queued for the budget marked contoso %s", s)
	}
	first.Wait()
	if err := failureOf(w.run(t, "alerts medium"), "contoso"); httpx.KindOf(err) != httpx.KindTimeout {
		t.Fatalf("unqueued hang: %v", err)
	}
	waitFor(t, func() bool { return w.runner.TenantState("contoso") == commands.TenantNotAnswering }, "the unqueued hang to mark contoso")
	if n := strings.Count(logs.String(), "tenant not answering"); n != 1 {
		t.Fatalf("contoso marked %d times", n)
	}
}

// TENANT_COOLDOWN=0: every question asks every tenant, as before.
func TestNoCooldownAsksEveryTime(t *testing.T) {
	w, _, logs, _ := hungWorld(t, 200*time.Millisecond, 0)
	w.fakes[0].SetLatency(time.Hour)
	for i, text := range []string{"alerts", "alerts high"} {
		if err := failureOf(w.run(t, text), "contoso"); httpx.KindOf(err) != httpx.KindTimeout {
			t.Fatalf("%s: %v", text, err)
		}
		if n := len(w.fakes[0].Requests()); n != i+1 {
			t.Fatalf("%d calls to contoso after %d questions", n, i+1)
		}
	}
	if s := w.runner.TenantState("contoso"); s != commands.TenantAnswering || logs.String() != "" {
		t.Fatalf("contoso %s, logs %s", s, logs.String())
	}
}

func mustParse(t *testing.T, w *world, text string) commands.Request {
	t.Helper()
	req, err := w.runner.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// waitFor polls cond (a failure bound, not a sleep for sync).
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// counting is a tenant that counts its list calls in flight.
type counting struct {
	source.Tenant
	mu       sync.Mutex
	in, most int
}

func (c *counting) Alerts(ctx context.Context, q source.AlertQuery) (source.AlertList, error) {
	c.mu.Lock()
	c.in++
	c.most = max(c.most, c.in)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.in--
		c.mu.Unlock()
	}()
	return c.Tenant.Alerts(ctx, q)
}

// Lookups wait for their tenants outside the bot's worker pool, so the
// calls in flight to one tenant are bounded instead: a burst of different
// questions takes turns, and every one is answered.
func TestCallsInFlightToATenantAreBounded(t *testing.T) {
	w := newWorld(t, "contoso")
	w.runner.MaxCalls = 3
	c := &counting{Tenant: w.runner.Tenants.Tenants()[0]}
	w.runner.Tenants = tenants.Static(c)
	w.fakes[0].SetLatency(100 * time.Millisecond)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if err := failureOf(w.run(t, fmt.Sprintf("alerts since=%dh", i+1)), "contoso"); err != nil {
				t.Errorf("question %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if n := len(w.fakes[0].Requests()); n != 10 || c.most != 3 {
		t.Fatalf("%d calls, at most %d at once; want 10, 3", n, c.most)
	}
}
