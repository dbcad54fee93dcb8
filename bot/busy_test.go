package bot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot"
	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/abuseipdb/abusefake"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/store/storetest"
	"github.com/soc/mcasbot/tenants"
)

// A busy SOC (issue #10): identical questions share one answer, an answer
// comes by the deadline and is completed later, one budget per tenant for
// every replica.

// rendered is a post as Slack would read it (no JSON HTML escaping).
func rendered(p slackfake.Post) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(p.Raw)
	return b.String()
}

// tableTenants are the tenant cells of a reply's table.
func tableTenants(t *testing.T, p slackfake.Post) []string {
	t.Helper()
	m := decode(t, p.Raw)
	var out []string
	for _, a := range m.Attachments {
		for _, b := range a.Blocks {
			if b.Type != "table" {
				continue // the Details for… menu under it
			}
			for _, row := range b.Rows[1:] {
				var cell struct{ Text string }
				_ = json.Unmarshal(row[1], &cell)
				out = append(out, cell.Text)
			}
		}
	}
	return out
}

// queryKey is a tenant query as the fake saw it: endpoint, filters other
// than the date (a relative since moves with the clock) and limit.
func queryKey(r mcasfake.Request) string {
	keys := make([]string, 0, len(r.Body.Filters))
	for k, v := range r.Body.Filters {
		if k != "date" {
			b, _ := json.Marshal(v)
			keys = append(keys, k+"="+string(b))
		}
	}
	sort.Strings(keys)
	return fmt.Sprintf("%s %v limit=%d", r.Path, keys, r.Body.Limit)
}

var burstTexts = []string{"alerts", "alerts high", "ip 185.220.101.4", "user alice@contoso.com", "alerts tenant=contoso"}

// The incident burst: 100 commands, 5 texts, 8 distinct tenant queries.
// Time is scaled down (100 commands in half a second, MCAS answering in
// 200 ms); what is asserted is the targets: at most 2 MCAS calls
// per distinct tenant query, at least 95 full answers within 20 s.
func TestBurstOfCommandsSharesAnswers(t *testing.T) {
	// The queue holds the whole burst so that only sharing is measured
	// here, however slow the test machine is.
	h := startWith(t, bot.Config{Queue: 128}, nil, func(h *harness) { h.runner.CacheTTL = time.Minute })
	for _, f := range h.tenants {
		f.SetLatency(200 * time.Millisecond)
	}
	const n = 100
	ids := make([]string, n)
	sent := make([]time.Time, n)
	for i := range n {
		sent[i] = time.Now()
		id, err := h.slack.SlashCommand(analyst, socChannel, burstTexts[i%len(burstTexts)])
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
		time.Sleep(5 * time.Millisecond) // pacing the burst, not waiting for anything
	}
	full := 0
	for i, id := range ids {
		posts, err := h.slack.Responses(id, 1, 20*time.Second)
		if err != nil {
			t.Fatalf("command %d (%q): %v", i, burstTexts[i%len(burstTexts)], err)
		}
		s := rendered(posts[0])
		if posts[0].At.Sub(sent[i]) <= 20*time.Second && !strings.Contains(s, "Partial results") && !strings.Contains(s, "not answered") &&
			!strings.Contains(s, "busy") && len(decode(t, posts[0].Raw).Blocks) > 1 {
			full++
		}
	}
	if full < 95 {
		t.Errorf("%d of %d commands got a full answer within 20 s, want at least 95", full, n)
	}
	calls := map[string]int{}
	for _, f := range h.tenants {
		for _, r := range f.Requests() {
			calls[f.URL+" "+queryKey(r)]++
		}
	}
	if len(calls) != 8 {
		t.Errorf("%d distinct tenant queries reached MCAS, want 8: %v", len(calls), calls)
	}
	for q, c := range calls {
		if c > 2 {
			t.Errorf("%d MCAS calls for one tenant query, want at most 2: %s", c, q)
		}
	}
	if c := h.abuse.TotalCalls(); c != 1 {
		t.Errorf("%d AbuseIPDB calls for one address", c)
	}
}

// A tenant that never answers: by the deadline the reply shows the other
// tenant's rows and says who is missing; when the command's time is up the
// same message is replaced by the tenant's failure. A query of that tenant
// alone says it is still trying. Both share the one hung call.
func TestHungTenantIsAnsweredByTheDeadlineThenReplaced(t *testing.T) {
	h := startWith(t, bot.Config{ReplyDeadline: 600 * time.Millisecond}, nil, func(h *harness) { h.runner.Timeout = 1500 * time.Millisecond })
	h.tenants[0].Fail(mcasfake.Fault{Delay: time.Hour}) // contoso hangs
	all, _ := h.command(t, "alerts limit=5")
	one, _ := h.command(t, "alerts tenant=contoso")

	posts, err := h.slack.Responses(all, 2, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	interim, final := rendered(posts[0]), rendered(posts[1])
	if !strings.Contains(interim, ":hourglass_flowing_sand: *contoso* has not answered yet — this message will update") {
		t.Fatalf("interim reply does not name the missing tenant:\n%s", interim)
	}
	rows := tableTenants(t, posts[0])
	if len(rows) != 5 || slices.Contains(rows, "contoso") {
		t.Fatalf("interim table rows from %v, want fabrikam's 5", rows)
	}
	if posts[0].At.Sub(posts[1].At) > 0 || !decode(t, posts[1].Raw).ReplaceOriginal {
		t.Fatal("the complete answer does not replace the interim one")
	}
	if !strings.Contains(final, "*contoso*: timed out: no answer within 1.5s") || strings.Contains(final, "not answered") {
		t.Fatalf("final reply:\n%s", final)
	}
	if rows := tableTenants(t, posts[1]); len(rows) != 5 {
		t.Fatalf("final table rows %v", rows)
	}

	posts, err = h.slack.Responses(one, 2, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if s := rendered(posts[0]); !strings.Contains(s, "*contoso* has not answered after 1 s; still trying") {
		t.Fatalf("single-tenant interim reply:\n%s", s)
	}
	if s := rendered(posts[1]); !strings.Contains(s, "No tenant answered") || !strings.Contains(s, "timed out") {
		t.Fatalf("single-tenant verdict:\n%s", s)
	}
	if n := len(h.tenants[0].Requests()); n != 1 {
		t.Fatalf("%d calls to the hung tenant, want the one both commands shared", n)
	}
	if n := len(h.slackResponses(all)) + len(h.slackResponses(one)); n != 4 {
		t.Fatalf("%d response_url posts, want 2 per command", n)
	}
}

// A reused answer says when it was fetched, and is not reused after the TTL.
func TestCachedAnswerSaysAsOfAndExpires(t *testing.T) {
	const ttl = 800 * time.Millisecond
	h := startWith(t, bot.Config{}, nil, func(h *harness) { h.runner.CacheTTL = ttl })
	calls := func() int { return len(h.tenants[0].Requests()) + len(h.tenants[1].Requests()) }
	reply := func(text string) string {
		t.Helper()
		id, _ := h.command(t, text)
		posts, err := h.slack.Responses(id, 1, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return rendered(posts[0])
	}
	before := time.Now().UTC()
	if s := reply("alerts limit=3"); strings.Contains(s, "as of") {
		t.Fatalf("a fresh answer says as of: %s", s)
	}
	after := time.Now().UTC()
	s := reply("alerts 2")
	if calls() != 2 {
		t.Fatalf("the cached answer was fetched again (%d calls)", calls())
	}
	if !strings.Contains(s, "· _as of "+before.Format("15:04:05")+" UTC_") && !strings.Contains(s, "· _as of "+after.Format("15:04:05")+" UTC_") {
		t.Fatalf("reused answer does not say when it was fetched (%s): %s", before.Format("15:04:05"), s)
	}
	time.Sleep(ttl + 100*time.Millisecond) // the TTL passes
	if s := reply("alerts 2"); strings.Contains(s, "as of") || calls() != 4 {
		t.Fatalf("after the TTL: %d calls, reply %s", calls(), s)
	}
}

// Two replicas on one PostgreSQL, bursting against one tenant, draw on one
// budget: the tenant (which refuses more than 30 in a window, like MCAS)
// never sees more than that and throttles nothing, although the replicas'
// local budgets together would allow 50. The window is 1 s instead of a
// minute. The AbuseIPDB cache is shared the same way.
func TestTwoReplicasShareOneTenantBudget(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	// The shared budget leaves room under the fake's limit, as 25 of 30 does
	// in production, so a loaded machine's scheduling jitter cannot push one
	// window over; separate budgets (2 × 20) would still overshoot it.
	const budget, limit, window = 20, 30, time.Second
	tenant := mcasfake.New(mcasToken)
	t.Cleanup(tenant.Close)
	tenant.AddActivities(mcasfake.GenerateActivities("contoso", 50, now, 48*time.Hour, 1)...)
	tenant.Throttle(limit, window)
	abuse := abusefake.New(abuseToken, 1000)
	t.Cleanup(abuse.Close)

	replica := func(fake *slackfake.Server) *harness {
		return startWith(t, bot.Config{}, fake, func(h *harness) {
			st, err := store.Open(context.Background(), dbURL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			lim := &store.Budget{Store: st, Name: "mcas:contoso", N: budget, Per: window, Fallback: budget / 2, Logger: h.logger}
			c, err := mcas.New(mcas.Config{Name: "contoso", URL: tenant.URL, Token: mcasToken, Attempts: 1,
				RequestsPerMinute: budget, BudgetWindow: window, Limiter: lim}, tenant.Client(), h.logger)
			if err != nil {
				t.Fatal(err)
			}
			rep, _ := abuseipdb.New(abuseipdb.Config{APIKey: abuseToken, URL: abuse.URL, Shared: st}, abuse.Client(), h.logger)
			h.runner.Tenants, h.runner.Reputation = tenants.Static(c), rep
		}, "contoso")
	}
	a := replica(nil)
	b := replica(a.slack)
	if err := a.slack.WaitConnections(2, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// 40 distinct questions (nothing to share): more than one window's budget.
	var ids []string
	for i := range 40 {
		id, err := a.slack.SlashCommand(analyst, socChannel, fmt.Sprintf("ip 10.1.0.%d", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		posts, err := a.slack.Responses(id, 1, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if s := rendered(posts[len(posts)-1]); strings.Contains(s, "Partial results") || strings.Contains(s, "No tenant answered") {
			t.Fatalf("a command failed: %s", s)
		}
	}
	if got := len(tenant.Requests()); got != 40 {
		t.Fatalf("%d MCAS calls, want 40", got)
	}
	if most, throttled := tenant.MostInWindow(window), tenant.Throttled(); most > limit || throttled > 0 {
		t.Fatalf("the tenant saw %d requests in one window (limit %d) and throttled %d", most, limit, throttled)
	}
	if !strings.Contains(a.logs.String(), "command answered") || !strings.Contains(b.logs.String(), "command answered") {
		t.Fatal("the burst was not spread over both replicas")
	}
	// One address looked up on each replica in turn costs one AbuseIPDB check.
	for range 2 {
		id, _ := a.command(t, "ip 185.220.101.4")
		if _, err := a.slack.Responses(id, 1, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if n := abuse.Calls(netip.MustParseAddr("185.220.101.4").String()); n != 1 {
		t.Fatalf("two replicas spent %d AbuseIPDB checks on one address", n)
	}
}

// A lookup that must queue for its tenant's request budget says so at once
// (here after 100 ms instead of 2 s, with a budget of 1 per 1.5 s), then
// the answer replaces it.
func TestQueuedLookupSaysSoThenAnswers(t *testing.T) {
	h := startWith(t, bot.Config{}, nil, func(h *harness) {
		c, err := mcas.New(mcas.Config{Name: "contoso", URL: h.tenants[0].URL, Token: mcasToken, RequestsPerMinute: 1, BudgetWindow: 1500 * time.Millisecond},
			h.tenants[0].Client(), h.logger)
		if err != nil {
			t.Fatal(err)
		}
		h.runner.Tenants, h.runner.QueueNotice = tenants.Static(c), 100*time.Millisecond
	}, "contoso")
	first, _ := h.command(t, "alerts")
	if _, err := h.slack.Responses(first, 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	id, _ := h.command(t, "alerts high")
	posts, err := h.slack.Responses(id, 2, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if s := rendered(posts[0]); !strings.Contains(s, "*contoso*'s API budget (1 per 1.5s) is in use: queued, about ") {
		t.Fatalf("interim reply:\n%s", s)
	}
	if s := rendered(posts[1]); strings.Contains(s, "queued") || len(tableTenants(t, posts[1])) == 0 {
		t.Fatalf("answer:\n%s", s)
	}
}
