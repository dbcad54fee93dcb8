package schedule_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// closer closes alerts through the store's claims, as closing.JiraDone
// does, one call per issue; fail makes its closes fail (MCAS down, 403).
type closer struct {
	st    store.Store
	mu    sync.Mutex
	calls []string
	fail  bool
}

func (c *closer) CloseDone(ctx context.Context, tenant, key string, ids []string, now store.JiraState) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, strings.Join(ids, ",")+" "+key+" "+now.Resolution)
	var changed []string
	for _, id := range ids {
		rec := store.CloseRecord{Tenant: tenant, AlertID: id, By: store.JiraSyncCloser, ByName: "Jira sync", Classification: "true_positive"}
		claim, err := c.st.ClaimClose(ctx, rec)
		switch {
		case err != nil:
			return changed, err
		case !claim.Won:
			continue
		case c.fail:
			if err := c.st.FailClose(ctx, tenant, id, "MCAS down"); err != nil {
				return changed, err
			}
		default:
			if err := c.st.CompleteClose(ctx, rec); err != nil {
				return changed, err
			}
			changed = append(changed, id)
		}
	}
	if c.fail {
		return changed, errors.New("MCAS down")
	}
	return changed, nil
}

func (c *closer) took() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

// JIRA_DONE_CLOSES_ALERT: a done issue's alert is closed once; a failed
// close is tried again by the next sync, never twice in one, never again
// once it succeeded.
func TestSyncClosesTheAlertsOfDoneIssues(t *testing.T) {
	js, st, s, rd := tracked(t, 2)
	c := &closer{st: st}
	s.Closer = c
	ctx := context.Background()
	run := func() schedule.SyncReport {
		t.Helper()
		rep, err := s.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if run(); len(c.took()) != 0 {
		t.Fatal("closed an alert whose issue is not done")
	}
	must(t, js.Move("SEC-2", "Done", "Fixed"))
	c.fail = true
	if rep := run(); rep.CloseFailed != 1 || rep.Closed != 0 || len(c.took()) != 1 {
		t.Fatalf("failing close %+v", rep)
	}
	c.fail = false
	draws := rd.count()
	// Still done and not closed: tried again, and the message shows it.
	if rep := run(); rep.Closed != 1 || rep.Changed != 0 || rep.Redrawn != 1 || rd.count() != draws+1 {
		t.Fatalf("retry %+v, %d redraws", rep, rd.count()-draws)
	} else if calls := c.took(); len(calls) != 1 || calls[0] != "a0001 SEC-2 Fixed" {
		t.Fatalf("retry closes %v", calls)
	}
	if rep := run(); rep.Closed != 0 || rep.Redrawn != 0 || len(c.took()) != 0 {
		t.Fatalf("closed again %+v", rep)
	}
	must(t, js.Move("SEC-2", "Done", "Won't Fix")) // still done: no second close
	if rep := run(); rep.Changed != 1 || len(c.took()) != 0 {
		t.Fatalf("closed again after a new resolution %+v", rep)
	}
	// An alert closed from Slack first is not closed when its issue is done.
	if cl, _ := st.ClaimClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: "a0000", By: "U0CAROL", Classification: "benign", Reason: "other", Comment: "x"}); !cl.Won {
		t.Fatal("claim")
	}
	must(t, st.CompleteClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: "a0000", Classification: "benign", Reason: "other", Comment: "x"}))
	must(t, js.Move("SEC-1", "Done", "Fixed"))
	if rep := run(); rep.Changed != 1 || len(c.took()) != 0 {
		t.Fatalf("closed an alert closed from Slack %+v", rep)
	}
}

// A tenant whose closes fail costs one attempt per sync; the next sync
// starts with the alerts not tried yet.
func TestSyncDefersATenantsClosesAfterAFailure(t *testing.T) {
	js, st, s, _ := tracked(t, 3)
	c := &closer{st: st, fail: true}
	s.Closer = c
	for _, k := range []string{"SEC-1", "SEC-2", "SEC-3"} {
		must(t, js.Move(k, "Done", "Fixed"))
	}
	rep, err := s.Run(context.Background())
	if err != nil || rep.CloseFailed != 1 || rep.CloseDeferred != 2 {
		t.Fatalf("%+v %v", rep, err)
	}
	first := c.took()
	rep, _ = s.Run(context.Background())
	second := c.took()
	if rep.CloseFailed != 1 || len(first) != 1 || len(second) != 1 || first[0] == second[0] {
		t.Fatalf("tried %v then %v", first, second)
	}
	c.fail = false
	if rep, _ := s.Run(context.Background()); rep.Closed != 3 || rep.CloseFailed != 0 {
		t.Fatalf("after recovery %+v", rep)
	}
}

// fileGroup records the issue key for more alerts of one message, as a
// group's Create Jira does.
func fileGroup(t *testing.T, js *jirafake.Server, st store.Store, key string, ids ...string) {
	t.Helper()
	ctx := context.Background()
	var ps []store.Posting
	for _, id := range ids {
		if c, err := st.ClaimIssue(ctx, "contoso", id, "U0LEAD"); err != nil || !c.Won {
			t.Fatal("claim", err)
		}
		must(t, st.CompleteIssue(ctx, "contoso", id, key, js.URL+"/browse/"+key))
		ps = append(ps, store.Posting{Tenant: "contoso", AlertID: id, Channel: "C0DIGEST", TS: "1.0000"})
	}
	must(t, st.MarkPosted(ctx, ps))
}

// A group's one issue is tracked for each of its alerts: done, every alert
// is closed, each once, all in one close.
func TestSyncClosesEveryAlertOfADoneGroup(t *testing.T) {
	js, st, s, rd := tracked(t, 1)
	ctx := context.Background()
	key := js.Issues()[0].Key
	fileGroup(t, js, st, key, "g1", "g2", "g3")
	c := &closer{st: st}
	s.Closer = c
	must(t, js.Move(key, "Done", "Fixed"))
	rep, err := s.Run(ctx)
	if err != nil || rep.Closed != 4 || rd.count() != 1 {
		t.Fatalf("%+v %v, %d redraws", rep, err, rd.count())
	}
	if calls := c.took(); len(calls) != 1 || calls[0] != "a0000,g1,g2,g3 SEC-1 Fixed" {
		t.Fatalf("closes %v", calls)
	}
	if rep, _ := s.Run(ctx); rep.Closed != 0 || len(c.took()) != 0 {
		t.Fatalf("closed again %+v", rep)
	}
}

// A failed group close costs one call; the tenant's other done issue waits
// for the next sync, where it goes first; then the group is tried again,
// in one call.
func TestSyncDefersAfterAFailedGroupClose(t *testing.T) {
	js, st, s, _ := tracked(t, 2)
	ctx := context.Background()
	fileGroup(t, js, st, "SEC-1", "g1", "g2")
	c := &closer{st: st, fail: true}
	s.Closer = c
	must(t, js.Move("SEC-1", "Done", "Fixed"))
	must(t, js.Move("SEC-2", "Done", "Fixed"))
	rep, err := s.Run(ctx)
	first := c.took()
	if err != nil || len(first) != 1 {
		t.Fatalf("%+v %v, closes %v", rep, err, first)
	}
	// Whichever went first, its alerts failed and the other's waited.
	group := first[0] == "a0000,g1,g2 SEC-1 Fixed"
	if want := map[bool][2]int{true: {3, 1}, false: {1, 3}}[group]; rep.CloseFailed != want[0] || rep.CloseDeferred != want[1] {
		t.Fatalf("%+v after %v", rep, first)
	}
	rep, _ = s.Run(ctx)
	second := c.took()
	if len(second) != 1 || second[0] == first[0] {
		t.Fatalf("tried %v then %v", first, second)
	}
	c.fail = false
	if rep, _ := s.Run(ctx); rep.Closed != 4 || rep.CloseFailed != 0 || len(c.took()) != 2 {
		t.Fatalf("after recovery %+v", rep)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Issues in the tenants' own projects (routes' jira_project) are followed
// like those in JIRA_PROJECT: the sync asks by key, not by project.
func TestSyncFollowsIssuesInEveryProject(t *testing.T) {
	js := jirafake.New(jirafake.Options{Cloud: true, User: "soc@example.com", Token: "tok", Projects: []string{"CUSTA", "CUSTB"}})
	t.Cleanup(js.Close)
	st, err := store.Open(context.Background(), "sqlite::memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()
	var keys []string
	for i, p := range []string{"SEC", "CUSTA", "CUSTB"} {
		tenant, id := fmt.Sprintf("tenant%d", i), fmt.Sprintf("a%d", i)
		key := js.AddIssueIn(p, id, []string{"mcas"}, time.Hour)
		keys = append(keys, key)
		if c, err := st.ClaimIssue(ctx, tenant, id, "U0LEAD"); err != nil || !c.Won {
			t.Fatal("claim", err)
		}
		if err := st.CompleteIssue(ctx, tenant, id, key, js.URL+"/browse/"+key); err != nil {
			t.Fatal(err)
		}
		if err := st.MarkPosted(ctx, []store.Posting{{Tenant: tenant, AlertID: id, Channel: fmt.Sprintf("C0CH%02d", i), TS: "1.0001"}}); err != nil {
			t.Fatal(err)
		}
	}
	jc, _ := jira.New(jira.Config{URL: js.URL, User: "soc@example.com", APIToken: "tok"}, js.Client(), nil)
	rd := &countingRedraw{}
	s := &schedule.JiraSync{Store: st, Jira: jc, Redraw: rd, Owner: "replica-a", UpdateInterval: time.Millisecond}
	if rep, err := s.Run(ctx); err != nil || rep.Tracked != 3 || rep.Searched != 3 {
		t.Fatalf("first sync %+v %v", rep, err)
	}
	for _, k := range keys[1:] {
		if err := js.Move(k, "Done", "Fixed"); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := s.Run(ctx)
	if err != nil || rep.Changed != 2 || rd.count() != 2 {
		t.Fatalf("second sync %+v %v, redrawn %v", rep, err, rd.calls)
	}
	// Each redrawn in its own channel.
	if !strings.Contains(strings.Join(rd.calls, " "), "C0CH01/1.0001") || !strings.Contains(strings.Join(rd.calls, " "), "C0CH02/1.0001") {
		t.Fatalf("redrawn %v", rd.calls)
	}
}
