package bot_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot"
	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/bot/slackfake"
)

// A hung tenant (issue #16).

// manualClock is the runner's clock, moved by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// 20 different questions to a tenant that never answers hold no worker: a
// question to the healthy tenant sent after them is answered at once (the
// pool has 8 workers). Each of the 20 gets its reply by the deadline and its
// verdict when its time is up. From then on the tenant is skipped: a
// question to it alone, or to every tenant, is answered at once, saying
// since when it is not answering and, asked alone, when it is asked again.
func TestHungTenantLeavesThePoolFree(t *testing.T) {
	const deadline, timeout = 2 * time.Second, 2500 * time.Millisecond
	clk := &manualClock{t: now}
	h := startWith(t, bot.Config{Workers: 8, ReplyDeadline: deadline}, nil, func(h *harness) {
		h.runner.Timeout, h.runner.Cooldown, h.runner.Now, h.runner.Logger = timeout, time.Minute, clk.Now, h.logger
	})
	contoso := h.tenants[0]
	contoso.SetLatency(time.Hour)
	var hung []string
	for i := range 20 {
		id, err := h.slack.SlashCommand(analyst, socChannel, fmt.Sprintf("user analyst%02d@contoso.com tenant=contoso", i))
		if err != nil {
			t.Fatal(err)
		}
		hung = append(hung, id)
	}

	// prompt sends text and returns its first reply, which must come well
	// within the deadline (a failure bound: it normally takes milliseconds).
	prompt := func(text string) slackfake.Post {
		t.Helper()
		sent := time.Now()
		id, err := h.slack.SlashCommand(analyst, socChannel, text)
		if err != nil {
			t.Fatal(err)
		}
		posts, err := h.slack.Responses(id, 1, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if took := posts[0].At.Sub(sent); took > deadline/2 {
			t.Fatalf("%q was answered after %v, want well within the %v deadline", text, took, deadline)
		}
		return posts[0]
	}
	healthy := prompt("alerts tenant=fabrikam")
	if rows := tableTenants(t, healthy); len(rows) == 0 || slices.ContainsFunc(rows, func(r string) bool { return r != "fabrikam" }) {
		t.Fatalf("the healthy tenant's answer has rows from %v:\n%s", rows, rendered(healthy))
	}

	// Each of the 20 says by the deadline that contoso has not answered,
	// then gives its verdict. 8 calls reach contoso (its call slots); the
	// others wait for a slot until their time is up, or get one just after
	// contoso is marked, and say so.
	timedOut := 0
	for i, id := range hung {
		posts, err := h.slack.Responses(id, 2, 10*time.Second)
		if err != nil {
			t.Fatalf("question %d: %v", i, err)
		}
		if s := rendered(posts[0]); !strings.Contains(s, "*contoso* has not answered after 2 s; still trying") {
			t.Fatalf("question %d, by the deadline:\n%s", i, s)
		}
		s := rendered(posts[1])
		switch {
		case !strings.Contains(s, "No tenant answered"):
			t.Fatalf("question %d, its verdict:\n%s", i, s)
		case strings.Contains(s, "*contoso*: timed out: no answer within 2.5s"):
			timedOut++
		case !strings.Contains(s, "*contoso* is not answering (timed out just now)"):
			t.Fatalf("question %d, its verdict:\n%s", i, s)
		}
	}
	if timedOut < 8 {
		t.Fatalf("%d questions timed out, want at least the 8 that reached contoso", timedOut)
	}
	// Each shared call's time ends just after its command's.
	waitUntil(t, func() bool { return h.runner.TenantState("contoso") == commands.TenantNotAnswering }, "contoso to be marked")
	if n := strings.Count(h.logs.String(), `"msg":"tenant not answering: questions skip it","tenant":"contoso","cooldown":60000000000`); n != 1 {
		t.Fatalf("%d log lines for contoso's mark, want 1:\n%s", n, h.logs.String())
	}
	calls := len(contoso.Requests())
	if calls < 8 {
		t.Fatalf("%d calls reached contoso, want its 8 slots' worth", calls)
	}

	clk.Add(12 * time.Second)
	if s := rendered(prompt("user late@contoso.com tenant=contoso")); !strings.Contains(s, "*contoso* is not answering (timed out 12 s ago); mcasbot asks it again in 48 s") {
		t.Fatalf("a question to contoso alone:\n%s", s)
	}
	all := prompt("alerts limit=5")
	if s := rendered(all); !strings.Contains(s, "*contoso* is not answering (timed out 12 s ago)") || strings.Contains(s, "asks it again") {
		t.Fatalf("a question to every tenant:\n%s", s)
	}
	if rows := tableTenants(t, all); len(rows) != 5 || slices.Contains(rows, "contoso") {
		t.Fatalf("rows from %v, want fabrikam's 5", rows)
	}
	if n := len(contoso.Requests()); n != calls {
		t.Fatalf("%d calls to contoso while it was skipped", n-calls)
	}
}

// waitUntil polls cond (a failure bound, not a sleep for sync).
func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for limit := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(limit) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// With every waiting slot taken, a lookup waits on its worker, as before
// issue #16: later commands queue behind it, and nothing is dropped.
func TestLookupWaitsOnItsWorkerWhenWaitingIsFull(t *testing.T) {
	h := startWith(t, bot.Config{Workers: 1, Waiting: 1, Queue: 4, ReplyDeadline: 500 * time.Millisecond}, nil, func(h *harness) {
		h.runner.Timeout = time.Second
	})
	h.tenants[0].SetLatency(time.Hour)
	first, _ := h.command(t, "alerts tenant=contoso")    // waits off the pool
	second, _ := h.command(t, "alerts tenant=contoso 2") // waits on the only worker
	healthy, _ := h.command(t, "alerts tenant=fabrikam")
	var verdicts []slackfake.Post
	for _, id := range []string{first, second} {
		posts, err := h.slack.Responses(id, 2, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if s := rendered(posts[1]); !strings.Contains(s, "timed out: no answer within 1s") {
			t.Fatalf("verdict:\n%s", s)
		}
		verdicts = append(verdicts, posts[1])
	}
	// Its deadline passed in the queue: what it shows first may be an
	// interim reply; its answer is the post with the table.
	target := h.slack.ResponseID(healthy)
	posts, err := h.slack.WaitPosts(1, 10*time.Second, func(p slackfake.Post) bool {
		return p.Method == "response_url" && p.Target == target && len(tableTenants(t, p)) > 0
	})
	if err != nil {
		t.Fatal(err)
	}
	if posts[0].At.Before(verdicts[1].At) {
		t.Fatalf("the healthy question was answered at %v, before the worker was free (%v)", posts[0].At, verdicts[1].At)
	}
	// The second, at least (the third may find the slot still taken).
	if !strings.Contains(h.logs.String(), `"msg":"every waiting slot is taken; the lookup waits on its worker"`) {
		t.Fatalf("no log line for a full waiting set:\n%s", h.logs.String())
	}
}
