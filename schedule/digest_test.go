package schedule_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/abuseipdb/abusefake"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/tenants"
)

const channel = "C0DIGEST"

type world struct {
	slack   *slackfake.Server
	tenants []*mcasfake.Server
	abuse   *abusefake.Server
	dbPath  string
	now     time.Time
}

func newWorld(t testing.TB, perTenant int) *world {
	t.Helper()
	w := &world{slack: slackfake.New(), dbPath: filepath.Join(t.TempDir(), "state.db"), now: time.Now().UTC().Truncate(time.Second)}
	t.Cleanup(w.slack.Close)
	for i, name := range []string{"contoso", "fabrikam"} {
		srv := mcasfake.New("tok-" + name)
		t.Cleanup(srv.Close)
		srv.AddAlerts(mcasfake.Generate(name, perTenant, w.now.Add(-time.Minute), 20*time.Hour, uint64(i+1))...)
		w.tenants = append(w.tenants, srv)
	}
	w.abuse = abusefake.New("abuse-key", 10000)
	t.Cleanup(w.abuse.Close)
	return w
}

// digest builds a digest as a fresh process would (new store handle).
func (w *world) digest(t testing.TB) (*schedule.Digest, store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), w.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	d := &schedule.Digest{
		Config: schedule.Config{Channel: channel, MinSeverity: source.SeverityLow, Lookback: 24 * time.Hour, Overlap: 2 * time.Hour, PostInterval: time.Millisecond},
		Store:  st, Slack: slack.New("xoxb-test", slack.OptionAPIURL(w.slack.APIURL())),
		Now: func() time.Time { return w.now }, Tenants: tenants.Static(),
	}
	for i, srv := range w.tenants {
		name := []string{"contoso", "fabrikam"}[i]
		c, _ := mcas.New(mcas.Config{Name: name, URL: srv.URL, Token: "tok-" + name, RequestsPerMinute: -1, Attempts: 1}, srv.Client(), nil)
		d.Tenants.Put(c)
	}
	rep, _ := abuseipdb.New(abuseipdb.Config{APIKey: "abuse-key", URL: w.abuse.URL}, w.abuse.Client(), nil)
	d.Reputation = rep
	return d, st
}

// postedIDs returns every alert id in Create Jira buttons posted so far.
func postedIDs(t testing.TB, posts []slackfake.Post) []string {
	var ids []string
	for _, p := range posts {
		if p.Method != "chat.postMessage" {
			continue
		}
		var blocks slack.Blocks
		if err := json.Unmarshal(p.Blocks, &blocks); err != nil {
			t.Fatalf("blocks: %v", err)
		}
		for _, v := range formatting.ButtonsOf(blocks.BlockSet) {
			ids = append(ids, v.Tenant+"/"+v.AlertID)
		}
	}
	return ids
}

func openAlerts(w *world, minRank int, since time.Time) int {
	n := 0
	for i := range w.tenants {
		for _, a := range mcasfake.Generate([]string{"contoso", "fabrikam"}[i], 40, w.now.Add(-time.Minute), 20*time.Hour, uint64(i+1)) {
			if source.Severity(a.SeverityValue).Rank() >= minRank && a.ResolutionStatusValue == 0 && a.Timestamp >= since.UnixMilli() {
				n++
			}
		}
	}
	return n
}

func TestDigestPostsNewAlertsExactlyOnce(t *testing.T) {
	w := newWorld(t, 40)
	d, st := w.digest(t)
	rep, err := d.Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	want := openAlerts(w, source.SeverityLow.Rank(), w.now.Add(-24*time.Hour))
	posts := w.slack.Posts()
	ids := postedIDs(t, posts)
	if rep.New != want || rep.Posted != want || len(ids) != want {
		t.Fatalf("new %d posted %d buttons %d, want %d", rep.New, rep.Posted, len(ids), want)
	}
	if seen := dupes(ids); len(seen) > 0 {
		t.Fatalf("alerts posted twice: %v", seen)
	}
	// Parent first, the rest threaded under it, within 20 alerts each.
	if posts[0].Thread != "" || !strings.Contains(posts[0].Text, fmt.Sprintf("MCAS digest: %d new alerts", want)) {
		t.Fatalf("parent %+v", posts[0])
	}
	for _, p := range posts[1:] {
		if p.Thread != posts[0].TS {
			t.Fatalf("chunk not threaded under the parent: %+v", p)
		}
	}
	if len(posts) > 1+(want+19)/20 {
		t.Fatalf("%d messages for %d alerts", len(posts), want)
	}
	// Informational alerts are below the default minimum (low).
	for _, p := range posts {
		if strings.Contains(string(p.Blocks), "⚪ info") {
			t.Fatal("informational alert posted under DIGEST_MIN_SEVERITY=low")
		}
	}
	if loc, ok, _ := st.Message(context.Background(), "contoso", strings.Split(ids[0], "/")[1]); !ok || loc.Channel != channel || loc.TS == "" {
		// ids[0] may be fabrikam's; check whichever tenant it is.
		tn, id, _ := strings.Cut(ids[0], "/")
		if loc, ok, _ = st.Message(context.Background(), tn, id); !ok || loc.TS == "" {
			t.Fatalf("message location not recorded: %+v", loc)
		}
	}

	// A second run, even by a restarted process, posts nothing.
	d2, _ := w.digest(t)
	rep, err = d2.Run(context.Background(), false)
	if err != nil || rep.New != 0 || len(w.slack.Posts()) != len(posts) {
		t.Fatalf("second run: %+v %v, %d posts", rep, err, len(w.slack.Posts())-len(posts))
	}

	// Three new alerts, one of them late (older than the cursor, inside
	// the overlap window): only they are posted.
	fresh := mcasfake.Generate("contoso", 3, w.now, time.Hour, 99)
	fresh[2].Timestamp = w.now.Add(-90 * time.Minute).UnixMilli()
	for i := range fresh {
		fresh[i].SeverityValue = 2
	}
	w.tenants[0].AddAlerts(fresh...)
	w.now = w.now.Add(time.Hour)
	before := len(w.slack.Posts())
	rep, err = d2.Run(context.Background(), false)
	if err != nil || rep.Posted != 3 {
		t.Fatalf("third run: %+v %v", rep, err)
	}
	got := postedIDs(t, w.slack.Posts()[before:])
	if len(got) != 3 {
		t.Fatalf("posted %v", got)
	}
	for _, f := range fresh {
		if !containsStr(got, "contoso/"+f.ID) {
			t.Fatalf("new alert %s not posted", f.ID)
		}
	}
}

func dupes(ids []string) []string {
	seen := map[string]int{}
	var out []string
	for _, id := range ids {
		seen[id]++
		if seen[id] == 2 {
			out = append(out, id)
		}
	}
	return out
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestSlackRateLimitIsWaitedOutNeverDropped(t *testing.T) {
	w := newWorld(t, 40)
	w.slack.EnforceRateLimit(true) // 429 + Retry-After: 1 when faster than 1/s
	d, _ := w.digest(t)
	d.MinSeverity = source.SeverityHigh
	rep, err := d.Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	ids := postedIDs(t, w.slack.Posts())
	if len(ids) != rep.New || rep.Posted != rep.New || rep.Messages < 2 {
		t.Fatalf("posted %d of %d in %d messages", len(ids), rep.New, rep.Messages)
	}
}

func TestCrashMidDigestNeitherLosesNorRepeats(t *testing.T) {
	w := newWorld(t, 40)
	d, _ := w.digest(t)
	// The parent is accepted, the first threaded chunk is not (as if the
	// process died there).
	first := true
	d.Slack = failAfter{Slack: d.Slack, ok: &first}
	_, err := d.Run(context.Background(), false)
	if err == nil {
		t.Fatal("run should fail")
	}
	postedBefore := postedIDs(t, w.slack.Posts())
	if len(postedBefore) == 0 {
		t.Fatal("the parent should have been posted")
	}
	// A restarted process finishes the job.
	d2, _ := w.digest(t)
	rep, err := d2.Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	all := postedIDs(t, w.slack.Posts())
	want := openAlerts(w, source.SeverityLow.Rank(), w.now.Add(-24*time.Hour))
	if len(all) != want || len(dupes(all)) != 0 {
		t.Fatalf("after restart: %d posted (%d dupes), want %d; second run posted %d", len(all), len(dupes(all)), want, rep.Posted)
	}
}

// failAfter lets the first post through and fails the rest.
type failAfter struct {
	schedule.Slack
	ok *bool
}

func (f failAfter) PostMessageContext(ctx context.Context, ch string, opts ...slack.MsgOption) (string, string, error) {
	if *f.ok {
		*f.ok = false
		return f.Slack.PostMessageContext(ctx, ch, opts...)
	}
	return "", "", fmt.Errorf("connection reset by peer (simulated crash)")
}

func TestDryRunPostsAndRecordsNothing(t *testing.T) {
	w := newWorld(t, 40)
	d, st := w.digest(t)
	rep, err := d.Run(context.Background(), true)
	if err != nil || len(rep.DryRun) == 0 || rep.New == 0 {
		t.Fatalf("%+v %v", rep, err)
	}
	if len(w.slack.Posts()) != 0 {
		t.Fatal("dry run posted")
	}
	if _, ok, _ := st.Cursor(context.Background(), "contoso"); ok {
		t.Fatal("dry run moved the cursor")
	}
	for _, m := range rep.DryRun {
		if err := formatting.Check(m); err != nil {
			t.Fatalf("digest message breaks a limit: %v", err)
		}
		// Without routes the output is as before: no channel in it.
		if m.Channel != "" {
			t.Fatalf("an unrouted dry run names channel %q", m.Channel)
		}
	}
	// A real run afterwards still posts everything.
	if rep2, _ := d.Run(context.Background(), false); rep2.Posted != rep.New {
		t.Fatalf("real run posted %d, dry run saw %d", rep2.Posted, rep.New)
	}
}

func TestFailingTenantIsNamedAndRetriedNextRun(t *testing.T) {
	w := newWorld(t, 40)
	w.tenants[1].Fail(mcasfake.Fault{Status: 401})
	d, st := w.digest(t)
	rep, err := d.Run(context.Background(), false)
	if err != nil || len(rep.Failures) != 1 || rep.Failures[0].Tenant != "fabrikam" {
		t.Fatalf("%+v %v", rep, err)
	}
	if !strings.Contains(string(w.slack.Posts()[0].Blocks), "authentication failed (HTTP 401)") {
		t.Fatal("parent does not name the failed tenant")
	}
	if _, ok, _ := st.Cursor(context.Background(), "fabrikam"); ok {
		t.Fatal("failed tenant's cursor moved")
	}
	rep, _ = d.Run(context.Background(), false)
	for _, id := range postedIDs(t, w.slack.Posts()) {
		if strings.HasPrefix(id, "fabrikam/") {
			return
		}
	}
	t.Fatalf("fabrikam's alerts never posted: %+v", rep)
}

func TestQuietLineWhenNothingIsNew(t *testing.T) {
	w := newWorld(t, 0)
	d, _ := w.digest(t)
	if _, err := d.Run(context.Background(), false); err != nil || len(w.slack.Posts()) != 0 {
		t.Fatalf("posted %d messages with nothing new", len(w.slack.Posts()))
	}
	d.QuietText = "No new MCAS alerts."
	if _, err := d.Run(context.Background(), false); err != nil || len(w.slack.Posts()) != 1 || w.slack.Posts()[0].Text != "No new MCAS alerts." {
		t.Fatalf("quiet line: %v %+v", err, w.slack.Posts())
	}
}

func TestOneDigestAtATime(t *testing.T) {
	w := newWorld(t, 40)
	for _, f := range w.tenants {
		f.SetLatency(200 * time.Millisecond)
	}
	var wg sync.WaitGroup
	reports := make([]schedule.Report, 2)
	for i := range 2 {
		d, _ := w.digest(t)
		d.Owner = fmt.Sprintf("replica-%d", i)
		wg.Go(func() { reports[i], _ = d.Run(context.Background(), false) })
	}
	wg.Wait()
	if (reports[0].Skipped == "") == (reports[1].Skipped == "") {
		t.Fatalf("both or neither ran: %+v / %+v", reports[0].Skipped, reports[1].Skipped)
	}
	if ids := postedIDs(t, w.slack.Posts()); len(dupes(ids)) != 0 {
		t.Fatal("duplicates")
	}
}

func TestSlot(t *testing.T) {
	sched, loc, err := schedule.ParseSchedule("0 8 * * *", "Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	fired := time.Date(2026, 11, 24, 8, 0, 0, 3e6, loc)
	late := fired.Add(50 * time.Second)
	want := time.Date(2026, 11, 24, 8, 0, 0, 0, loc)
	if got := schedule.Slot(sched, fired); !got.Equal(want) {
		t.Fatalf("slot %v", got)
	}
	if got := schedule.Slot(sched, late); !got.Equal(want) {
		t.Fatalf("late replica computed %v", got)
	}
	every, _, _ := schedule.ParseSchedule("@every 1h", "UTC")
	a := schedule.Slot(every, time.Date(2026, 1, 1, 11, 17, 0, 0, time.UTC))
	b := schedule.Slot(every, time.Date(2026, 1, 1, 11, 40, 0, 0, time.UTC))
	if !a.Equal(b) {
		t.Fatalf("@every slots differ between replicas: %v %v", a, b)
	}
	for _, bad := range [][2]string{{"0 25 * * *", "UTC"}, {"daily", "UTC"}, {"0 8 * * *", "Mars/Olympus"}} {
		if _, _, err := schedule.ParseSchedule(bad[0], bad[1]); err == nil {
			t.Errorf("accepted %v", bad)
		}
	}
}

// The weekly report reads what each run recorded: every posted alert's
// facts and which tenants each run could read.
func TestDigestRecordsWhatTheReportNeeds(t *testing.T) {
	w := newWorld(t, 40)
	w.tenants[1].Fail(mcasfake.Fault{Status: 429, RetryAfter: "600"})
	d, st := w.digest(t)
	rep, err := d.Run(context.Background(), false)
	if err != nil || rep.Posted == 0 {
		t.Fatalf("%+v %v", rep, err)
	}
	act, err := st.Activity(context.Background(), w.now.Add(-time.Minute), w.now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(act.Posted) != rep.Posted {
		t.Fatalf("%d alerts recorded, %d posted", len(act.Posted), rep.Posted)
	}
	alerts := map[string]mcasfake.Alert{}
	for _, a := range mcasfake.Generate("contoso", 40, w.now.Add(-time.Minute), 20*time.Hour, 1) {
		alerts[a.ID] = a
	}
	for _, p := range act.Posted {
		a, ok := alerts[p.AlertID]
		if !ok || p.Tenant != "contoso" || p.Title != a.Title || p.Severity != source.Severity(a.SeverityValue).String() ||
			p.AlertTime.UnixMilli() != a.Timestamp || p.PostedAt.IsZero() {
			t.Fatalf("recorded %+v for %+v", p, a)
		}
	}
	if len(act.Runs) != 2 || act.Runs[0].Failed || act.Runs[0].Tenant != "contoso" || !act.Runs[1].Failed || !strings.Contains(act.Runs[1].Reason, "throttled") {
		t.Fatalf("runs %+v", act.Runs)
	}
	// A dry run records nothing.
	if _, err := d.Run(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if again, _ := st.Activity(context.Background(), w.now.Add(-time.Minute), w.now.Add(time.Minute)); len(again.Runs) != 2 {
		t.Fatalf("dry run recorded a run: %+v", again.Runs)
	}
}
