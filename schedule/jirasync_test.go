package schedule_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/store"
)

// countingRedraw records which messages were redrawn.
type countingRedraw struct {
	mu    sync.Mutex
	calls []string
}

func (c *countingRedraw) Message(_ context.Context, channel, ts string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, channel+"/"+ts)
	return nil
}

func (c *countingRedraw) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls)
}

// tracked files n issues (SEC-1…SEC-n) for alerts posted 20 to a message.
func tracked(t testing.TB, n int) (*jirafake.Server, store.Store, *schedule.JiraSync, *countingRedraw) {
	t.Helper()
	js := jirafake.New(jirafake.Options{Cloud: true, User: "soc@example.com", Token: "tok"})
	t.Cleanup(js.Close)
	st, err := store.Open(context.Background(), "sqlite::memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()
	var ps []store.Posting
	for i := range n {
		id := fmt.Sprintf("a%04d", i)
		ps = append(ps, store.Posting{Tenant: "contoso", AlertID: id, Channel: "C0DIGEST", TS: fmt.Sprintf("1.%04d", i/20)})
		key := js.AddIssue(id, []string{"mcas"}, time.Hour)
		if c, err := st.ClaimIssue(ctx, "contoso", id, "U0LEAD"); err != nil || !c.Won {
			t.Fatal("claim", err)
		}
		if err := st.CompleteIssue(ctx, "contoso", id, key, js.URL+"/browse/"+key); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.MarkPosted(ctx, ps); err != nil {
		t.Fatal(err)
	}
	jc, _ := jira.New(jira.Config{URL: js.URL, User: "soc@example.com", APIToken: "tok"}, js.Client(), nil)
	rd := &countingRedraw{}
	return js, st, &schedule.JiraSync{Store: st, Jira: jc, Redraw: rd, Owner: "replica-a", UpdateInterval: time.Millisecond}, rd
}

func TestSyncOf500IssuesCostsFiveSearches(t *testing.T) {
	js, _, s, rd := tracked(t, 500)
	ctx := context.Background()
	rep, err := s.Run(ctx)
	if err != nil || rep.Tracked != 500 || rep.Searches != 5 || js.Searches() != 5 || rep.Changed != 0 || rd.count() != 0 {
		t.Fatalf("first sync %+v %v (fake counted %d searches)", rep, err, js.Searches())
	}
	// Three issues move: two in one message (SEC-1, SEC-2), one in another.
	for _, k := range []string{"SEC-1", "SEC-2", "SEC-450"} {
		if err := js.Move(k, "In Progress", ""); err != nil {
			t.Fatal(err)
		}
	}
	rep, err = s.Run(ctx)
	if err != nil || rep.Searches != 5 || rep.Changed != 3 || rep.Redrawn != 2 || rd.count() != 2 {
		t.Fatalf("second sync %+v %v, %d redraws", rep, err, rd.count())
	}
	if rd.calls[0] != "C0DIGEST/1.0000" || rd.calls[1] != "C0DIGEST/1.0022" {
		t.Fatalf("redrawn %v", rd.calls)
	}
}

// Issues filed before the window are no longer followed.
func TestSyncFollowsOnlyRecentIssues(t *testing.T) {
	_, _, s, _ := tracked(t, 3)
	s.Now = func() time.Time { return time.Now().AddDate(0, 0, 15) }
	rep, err := s.Run(context.Background())
	if err != nil || rep.Tracked != 0 || rep.Searches != 0 {
		t.Fatalf("%+v %v", rep, err)
	}
	s.Days = 30
	if rep, _ := s.Run(context.Background()); rep.Tracked != 3 {
		t.Fatalf("30 days: %+v", rep)
	}
}

// A Jira failure fails the run and changes nothing; the next one catches up.
func TestSyncSurvivesJiraFailure(t *testing.T) {
	js, _, s, rd := tracked(t, 3)
	if err := js.Move("SEC-2", "Done", "Fixed"); err != nil {
		t.Fatal(err)
	}
	js.Fail(jirafake.Fault{Status: 401})
	if _, err := s.Run(context.Background()); err == nil || rd.count() != 0 {
		t.Fatalf("err %v, %d redraws", err, rd.count())
	}
	rep, err := s.Run(context.Background())
	if err != nil || rep.Changed != 1 || rd.count() != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
}

func TestSyncRunsOnItsInterval(t *testing.T) {
	_, _, s, _ := tracked(t, 1)
	outcomes := make(chan string, 10)
	s.Interval = 20 * time.Millisecond
	s.OnRun = func(o string) { outcomes <- o }
	s.Start(context.Background())
	defer s.Stop()
	select {
	case o := <-outcomes:
		if o != "ok" {
			t.Fatalf("outcome %q", o)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no sync ran")
	}
}

func BenchmarkSync500(b *testing.B) {
	js, _, s, _ := tracked(b, 500)
	for b.Loop() {
		if _, err := s.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(js.Searches())/float64(b.N), "searches/op")
}

type closer struct {
	mu    sync.Mutex
	calls []string
}

func (c *closer) CloseDone(_ context.Context, t store.TrackedIssue, now store.JiraState) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, t.AlertID+" "+t.Key+" "+now.Resolution)
	return nil
}

// The JIRA_DONE_CLOSES_ALERT hook fires once per move into done.
func TestSyncCallsTheCloserOncePerDone(t *testing.T) {
	js, _, s, _ := tracked(t, 2)
	c := &closer{}
	s.Closer = c
	ctx := context.Background()
	for _, step := range []func(){
		func() {},
		func() { _ = js.Move("SEC-2", "Done", "Fixed") },
		func() {},
		func() { _ = js.Move("SEC-2", "Done", "Won't Fix") }, // still done: no second close
	} {
		step()
		if _, err := s.Run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.calls) != 1 || c.calls[0] != "a0001 SEC-2 Fixed" {
		t.Fatalf("closes %v", c.calls)
	}
}
