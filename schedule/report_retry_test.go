package schedule_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/store"
)

// reportRig is the scheduled report's world on an injected clock: one
// database that replicas open, the fake Slack, and waits that move the
// clock instead of sleeping.
//
// The clock is virtual time: replicas taking part (join/leave) run freely;
// time moves only when all of them wait, straight to the earliest wake-up,
// and wakes that one. So a replica's waits never pass while another is in
// the middle of an attempt, as on real clocks.
type reportRig struct {
	t      *testing.T
	slack  *slackfake.Server
	dbPath string
	logs   syncBuffer

	mu       sync.Mutex
	now      time.Time
	waits    []time.Duration
	active   int
	sleepers []*sleeper
	// onWait, when set, runs as a replica starts a wait (before it sleeps).
	onWait func(owner string, d time.Duration)
}

type sleeper struct {
	until time.Time
	wake  chan struct{}
}

func newReportRig(t *testing.T, now time.Time) *reportRig {
	g := &reportRig{t: t, slack: slackfake.New(), dbPath: filepath.Join(t.TempDir(), "state.db"), now: now}
	t.Cleanup(g.slack.Close)
	return g
}

func (g *reportRig) Now() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.now
}

func (g *reportRig) Waits() []time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.waits)
}

// run runs f as a participant of the virtual clock.
func (g *reportRig) run(f func()) {
	g.join()
	defer g.leave()
	f()
}

// goRun runs f in a new goroutine taking part in the virtual clock from now.
func (g *reportRig) goRun(f func()) {
	g.join()
	go func() {
		defer g.leave()
		f()
	}()
}

func (g *reportRig) join() {
	g.mu.Lock()
	g.active++
	g.mu.Unlock()
}

func (g *reportRig) leave() {
	g.mu.Lock()
	g.active--
	g.advance()
	g.mu.Unlock()
}

func (g *reportRig) sleep(ctx context.Context, owner string, d time.Duration) error {
	if g.onWait != nil {
		g.onWait(owner, d)
	}
	g.mu.Lock()
	g.waits = append(g.waits, d)
	s := &sleeper{until: g.now.Add(d), wake: make(chan struct{})}
	g.sleepers = append(g.sleepers, s)
	g.active--
	g.advance()
	g.mu.Unlock()
	<-s.wake
	return ctx.Err()
}

// advance moves time to the earliest wake-up once nobody runs.
func (g *reportRig) advance() {
	if g.active > 0 || len(g.sleepers) == 0 {
		return
	}
	next := 0
	for i, s := range g.sleepers {
		if s.until.Before(g.sleepers[next].until) {
			next = i
		}
	}
	s := g.sleepers[next]
	g.sleepers = slices.Delete(g.sleepers, next, next+1)
	g.now = s.until
	g.active++
	close(s.wake)
}

// scheduled runs r's scheduled report of slot on the virtual clock.
func (g *reportRig) scheduled(r *schedule.PeriodicReport, slot time.Time) (res schedule.ReportResult, outcome string, err error) {
	g.run(func() { res, outcome, err = r.RunScheduled(context.Background(), slot) })
	return
}

// resume runs r's Resume of slot on the virtual clock.
func (g *reportRig) resume(r *schedule.PeriodicReport, slot time.Time) (outcome string, ran bool) {
	g.run(func() { outcome, ran = r.Resume(context.Background(), slot) })
	return
}

// store opens a handle on the rig's database, as a fresh process would.
func (g *reportRig) store() store.Store {
	st, err := store.Open(context.Background(), g.dbPath, store.WithClock(g.Now))
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(func() { _ = st.Close() })
	return st
}

// replica is one bot process sending the report, with its own store handle.
func (g *reportRig) replica(owner string, opts ...slack.Option) *schedule.PeriodicReport {
	api := slack.New("xoxb-test", append([]slack.Option{slack.OptionAPIURL(g.slack.APIURL())}, opts...)...)
	return &schedule.PeriodicReport{Store: g.store(), Slack: api, Channel: reportChannel, Now: g.Now, Owner: owner,
		Logger: slog.New(slog.NewJSONHandler(&g.logs, nil)).With("replica", owner),
		Sleep:  func(ctx context.Context, d time.Duration) error { return g.sleep(ctx, owner, d) }}
}

// posted is every report message Slack accepted, by method.
func (g *reportRig) posted(method string) []slackfake.Post {
	var out []slackfake.Post
	for _, p := range g.slack.Posts() {
		if p.Channel == reportChannel && p.Method == method {
			out = append(out, p)
		}
	}
	return out
}

// logLines are the log records whose message starts with msg.
func (g *reportRig) logLines(msg string) []map[string]any {
	var out []map[string]any
	for line := range strings.SplitSeq(g.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && strings.HasPrefix(fmt.Sprint(m["msg"]), msg) {
			out = append(out, m)
		}
	}
	return out
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// seed records alerts posted by the digest at these times.
func seed(t *testing.T, st store.Store, at ...time.Time) {
	t.Helper()
	var ps []store.Posting
	for i, a := range at {
		ps = append(ps, store.Posting{Tenant: "contoso", AlertID: fmt.Sprintf("a%d", i), Channel: "C0DIGEST", TS: fmt.Sprintf("%d.%06d", a.Unix(), i),
			PostedAt: a, Severity: "high", Title: "Impossible travel", Policy: "Impossible travel", AlertTime: a.Add(-time.Hour)})
	}
	must(t, st.MarkPosted(context.Background(), ps))
}

// A Monday 09:00 slot, its week, and the period's record key.
var (
	monday     = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	mondayWeek = schedule.PeriodKey(time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC))
)

// The scheduled report keeps whole UTC days, whatever the instant: an
// alert at the first and last second of the window counts, one at the
// slot's midnight (today) and one a second before the window do not (the
// latter is the previous period's).
func TestScheduledReportWindowsAtInstants(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		slot          time.Time
		period        time.Duration
		from, to      time.Time
		title         string
		weeklyOrNamed string
	}{
		{time.Date(2026, 11, 23, 0, 5, 0, 0, time.UTC), 7 * 24 * time.Hour, // a Monday 00:05
			time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), "16–22 Nov 2026", "MCAS weekly report: "},
		{time.Date(2027, 3, 1, 0, 30, 0, 0, time.UTC), 7 * 24 * time.Hour, // just after a month end
			time.Date(2027, 2, 22, 0, 0, 0, 0, time.UTC), time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), "22–28 Feb 2027", "MCAS weekly report: "},
		{time.Date(2028, 3, 1, 9, 0, 0, 0, time.UTC), 7 * 24 * time.Hour, // a week ending on a leap day
			time.Date(2028, 2, 23, 0, 0, 0, 0, time.UTC), time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC), "23–29 Feb 2028", "MCAS weekly report: "},
		{time.Date(2028, 2, 29, 9, 0, 0, 0, time.UTC), 24 * time.Hour, // daily, on the leap day
			time.Date(2028, 2, 28, 0, 0, 0, 0, time.UTC), time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC), "28 Feb 2028", "MCAS report: "},
		{time.Date(2027, 1, 1, 8, 0, 0, 0, time.UTC), 30 * 24 * time.Hour, // a month, on New Year's Day
			time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), "2–31 Dec 2026", "MCAS report: "},
	} {
		t.Run(c.slot.Format(time.RFC3339), func(t *testing.T) {
			t.Parallel()
			g := newReportRig(t, c.slot.Add(2*time.Second))
			r := g.replica("replica-a")
			r.Period = c.period
			seed(t, r.Store, c.from, c.to.Add(-time.Second), c.to, c.from.Add(-time.Second))
			res, outcome, err := g.scheduled(r, c.slot)
			if err != nil || outcome != "ok" {
				t.Fatalf("%q %v", outcome, err)
			}
			if !res.Stats.From.Equal(c.from) || !res.Stats.To.Equal(c.to) || res.Stats.Partial() || res.Stats.Alerts.Total() != 2 || res.Stats.PrevAlerts.Total() != 1 {
				t.Fatalf("%v – %v: %d alerts, %d before", res.Stats.From, res.Stats.To, res.Stats.Alerts.Total(), res.Stats.PrevAlerts.Total())
			}
			posts := g.posted("chat.postMessage")
			if len(posts) != 1 || !strings.Contains(string(posts[0].Blocks), c.weeklyOrNamed+c.title+`"`) ||
				!strings.Contains(string(posts[0].Blocks), "*2 alerts* posted by the digest, ▲1 against the previous ") {
				t.Fatalf("posted %+v", posts)
			}
			rec, ok, err := r.Store.ReportSend(context.Background(), schedule.PeriodKey(c.from, c.to))
			if err != nil || !ok || rec.State != store.ReportSent || rec.TS != posts[0].TS || !rec.EndedAt.Equal(g.Now()) {
				t.Fatalf("record %+v %v %v", rec, ok, err)
			}
		})
	}
}

// A post that fails is retried after the back-off, posted once, and
// recorded sent; a second firing for the same period posts nothing.
func TestScheduledReportRetriesAFailedPost(t *testing.T) {
	t.Parallel()
	g := newReportRig(t, monday)
	g.slack.FailPosts("internal_error", "fatal_error")
	r := g.replica("replica-a")
	res, outcome, err := g.scheduled(r, monday)
	if err != nil || outcome != "ok" || res.Attempt != 3 {
		t.Fatalf("%q attempt %d %v", outcome, res.Attempt, err)
	}
	if w := g.Waits(); !slices.Equal(w, []time.Duration{time.Minute, 5 * time.Minute}) {
		t.Fatalf("waits %v", w)
	}
	posts, files := g.posted("chat.postMessage"), g.slack.Files()
	if len(posts) != 1 || len(files) != 1 || files[0].Thread != posts[0].TS || len(g.posted("chat.update")) != 0 {
		t.Fatalf("posts %d files %+v", len(posts), files)
	}
	retries := g.logLines("report attempt failed; trying again")
	if len(retries) != 2 || !strings.Contains(fmt.Sprint(retries[0]["error"]), "internal_error") {
		t.Fatalf("retry logs %v", retries)
	}
	audit := g.logLines("audit: weekly report posted")
	if len(audit) != 1 || audit[0]["channel"] != reportChannel || audit[0]["ts"] != posts[0].TS || audit[0]["period"] != mondayWeek ||
		audit[0]["attempt"] != float64(3) || audit[0]["chart"] != true {
		t.Fatalf("audit %v", audit)
	}
	// The schedule firing again for the same period (two slots a day, or
	// another replica late) finds it sent.
	again := g.replica("replica-b")
	if _, outcome, err := g.scheduled(again, monday.Add(8*time.Hour)); err != nil || outcome != "skipped" {
		t.Fatalf("second firing %q %v", outcome, err)
	}
	if len(g.posted("chat.postMessage")) != 1 || len(g.slack.Files()) != 1 {
		t.Fatal("the report was sent twice")
	}
}

// Posted, but the chart failed: the retry uploads only the chart into the
// message's thread.
func TestScheduledReportRetryUploadsOnlyTheChart(t *testing.T) {
	t.Parallel()
	g := newReportRig(t, monday)
	g.slack.FailUpload("files.completeUploadExternal", "internal_error")
	res, outcome, err := g.scheduled(g.replica("replica-a"), monday)
	if err != nil || outcome != "ok" || res.Attempt != 2 || res.ChartProblem != "" {
		t.Fatalf("%q %+v %v", outcome, res, err)
	}
	posts, files := g.posted("chat.postMessage"), g.slack.Files()
	if len(posts) != 1 || len(files) != 1 || files[0].Thread != posts[0].TS || res.TS != posts[0].TS || len(g.posted("chat.update")) != 0 {
		t.Fatalf("posts %+v files %+v", posts, files)
	}
	if w := g.Waits(); !slices.Equal(w, []time.Duration{time.Minute}) {
		t.Fatalf("waits %v", w)
	}
}

// rateLimitOnce answers the first chat.postMessage with Slack's 429.
type rateLimitOnce struct {
	mu   sync.Mutex
	done bool
}

func (rl *rateLimitOnce) RoundTrip(req *http.Request) (*http.Response, error) {
	rl.mu.Lock()
	first := !rl.done && strings.HasSuffix(req.URL.Path, "/chat.postMessage")
	rl.done = rl.done || first
	rl.mu.Unlock()
	if !first {
		return http.DefaultTransport.RoundTrip(req)
	}
	return &http.Response{StatusCode: http.StatusTooManyRequests, Status: "429 Too Many Requests", Request: req,
		Header: http.Header{"Retry-After": {"7"}, "Content-Type": {"application/json"}},
		Body:   io.NopCloser(strings.NewReader(`{"ok":false,"error":"ratelimited"}`))}, nil
}

// Slack's 429 is waited out for its Retry-After, not the back-off.
func TestScheduledReportHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	g := newReportRig(t, monday)
	r := g.replica("replica-a", slack.OptionHTTPClient(&http.Client{Transport: &rateLimitOnce{}}))
	res, outcome, err := g.scheduled(r, monday)
	if err != nil || outcome != "ok" || res.Attempt != 2 {
		t.Fatalf("%q %+v %v", outcome, res.Attempt, err)
	}
	if w := g.Waits(); !slices.Equal(w, []time.Duration{7 * time.Second}) {
		t.Fatalf("waits %v, want Retry-After's 7s", w)
	}
	if len(g.posted("chat.postMessage")) != 1 || len(g.slack.Files()) != 1 {
		t.Fatal("not posted once with its chart")
	}
}

// After the last attempt the report gives up loudly (an error log, outcome
// "failed" for the metric, the period recorded as given up), and bot
// report still sends it by hand.
func TestScheduledReportGivesUpLoudly(t *testing.T) {
	t.Parallel()
	g := newReportRig(t, monday)
	g.slack.FailPosts("channel_not_found", "channel_not_found", "channel_not_found", "channel_not_found")
	r := g.replica("replica-a")
	res, outcome, err := g.scheduled(r, monday)
	if err != nil || outcome != "failed" || res.Attempt != 4 || res.TS != "" {
		t.Fatalf("%q %+v %v", outcome, res, err)
	}
	if w := g.Waits(); !slices.Equal(w, []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute}) {
		t.Fatalf("waits %v", w)
	}
	gaveUp := g.logLines("report not sent: gave up after the last attempt")
	if len(gaveUp) != 1 || gaveUp[0]["level"] != "ERROR" || gaveUp[0]["attempt"] != float64(4) || !strings.Contains(fmt.Sprint(gaveUp[0]["error"]), "channel_not_found") {
		t.Fatalf("give-up log %v\n%s", gaveUp, g.logs.String())
	}
	rec, _, _ := r.Store.ReportSend(context.Background(), mondayWeek)
	if rec.State != store.ReportFailed || rec.Attempts != 4 || len(g.posted("chat.postMessage")) != 0 || len(g.logLines("audit: weekly report posted")) != 0 {
		t.Fatalf("record %+v", rec)
	}
	if _, outcome, _ := g.scheduled(g.replica("replica-b"), monday); outcome != "skipped" {
		t.Fatalf("a given-up period was tried again: %q", outcome)
	}
	// By hand: it does not consult the record, and posts.
	byHand, outcome, err := r.RunByHand(context.Background(), schedule.UntilMidnight, false)
	if err != nil || outcome != "ok" || byHand.Scheduled != nil || len(g.posted("chat.postMessage")) != 1 {
		t.Fatalf("by hand %q %v", outcome, err)
	}
}

// A chart that never attaches: the message stands, says so, and the
// period is sent (the message is not posted again).
func TestScheduledReportChartGivesUp(t *testing.T) {
	t.Parallel()
	g := newReportRig(t, monday)
	for range 4 {
		g.slack.FailUpload("files.getUploadURLExternal", "missing_scope")
	}
	res, outcome, err := g.scheduled(g.replica("replica-a"), monday)
	if err != nil || outcome != "chart_failed" || !strings.Contains(res.ChartProblem, "files:write") {
		t.Fatalf("%q %q %v", outcome, res.ChartProblem, err)
	}
	posts, updates := g.posted("chat.postMessage"), g.posted("chat.update")
	if len(posts) != 1 || len(updates) != 1 || updates[0].TS != posts[0].TS || !strings.Contains(string(updates[0].Blocks), "The chart could not be attached") {
		t.Fatalf("posts %d updates %+v", len(posts), updates)
	}
	if l := g.logLines("report's chart not attached: gave up"); len(l) != 1 || l[0]["level"] != "ERROR" {
		t.Fatalf("logs %s", g.logs.String())
	}
	if a := g.logLines("audit: weekly report posted"); len(a) != 1 || a[0]["chart"] != false || a[0]["attempt"] != float64(4) {
		t.Fatalf("audit %v", a)
	}
	rec, _, _ := g.store().ReportSend(context.Background(), mondayWeek)
	if rec.State != store.ReportSent || rec.TS != posts[0].TS {
		t.Fatalf("record %+v", rec)
	}
}

// Retries end before the next period: with a daily report, a 20 h wait
// would run into tomorrow's, so it gives up after the 10 h one.
func TestScheduledReportRetriesStayWithinThePeriod(t *testing.T) {
	t.Parallel()
	g := newReportRig(t, monday)
	g.slack.FailPosts("internal_error", "internal_error", "internal_error")
	r := g.replica("replica-a")
	r.Period, r.Backoff = 24*time.Hour, []time.Duration{10 * time.Hour, 20 * time.Hour}
	res, outcome, _ := g.scheduled(r, monday)
	if outcome != "failed" || res.Attempt != 2 || !slices.Equal(g.Waits(), []time.Duration{10 * time.Hour}) {
		t.Fatalf("%q attempt %d waits %v", outcome, res.Attempt, g.Waits())
	}
}

// Two replicas fire for the same slot while Slack fails once: one report,
// one chart.
func TestScheduledReportOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	g := newReportRig(t, monday)
	g.slack.FailPosts("internal_error")
	replicas := []*schedule.PeriodicReport{g.replica("replica-a"), g.replica("replica-b")}
	outcomes := make([]string, 2)
	var wg sync.WaitGroup
	for i, r := range replicas {
		wg.Go(func() {
			_, o, err := g.scheduled(r, monday)
			if err != nil {
				t.Error(err)
			}
			outcomes[i] = o
		})
	}
	wg.Wait()
	slices.Sort(outcomes)
	if strings.Join(outcomes, ",") != "ok,skipped" {
		t.Fatalf("outcomes %v\n%s", outcomes, g.logs.String())
	}
	posts := g.posted("chat.postMessage")
	if len(posts) != 1 || len(g.slack.Files()) != 1 || len(g.logLines("audit: weekly report posted")) != 1 {
		t.Fatalf("%d posts, %d charts", len(posts), len(g.slack.Files()))
	}
}

// A retry racing a restart: replica A posted, its chart failed, and it
// waits to retry; meanwhile its restarted successor resumes the period and
// attaches the chart. A's retry then finds it sent: one message, one chart.
func TestScheduledReportRetryRacingARestart(t *testing.T) {
	t.Parallel()
	g := newReportRig(t, monday)
	g.slack.FailUpload("upload", "")
	successor := g.replica("replica-a-restarted")
	resumed := make(chan struct{})
	var resumeOutcome string
	var ran bool
	var once sync.Once
	g.onWait = func(owner string, d time.Duration) {
		if owner == "replica-a" {
			// As A starts to wait, the restarted process starts and resumes.
			once.Do(func() {
				g.goRun(func() { resumeOutcome, ran = successor.Resume(context.Background(), monday); close(resumed) })
			})
		}
	}
	_, outcome, err := g.scheduled(g.replica("replica-a"), monday)
	<-resumed
	if err != nil || outcome != "skipped" || !ran || resumeOutcome != "ok" {
		t.Fatalf("A %q %v; resumed %v %q\n%s", outcome, err, ran, resumeOutcome, g.logs.String())
	}
	posts, files := g.posted("chat.postMessage"), g.slack.Files()
	if len(posts) != 1 || len(files) != 1 || files[0].Thread != posts[0].TS {
		t.Fatalf("posts %d files %+v", len(posts), files)
	}
	audit := g.logLines("audit: weekly report posted")
	if len(audit) != 1 || audit[0]["replica"] != "replica-a-restarted" || audit[0]["attempt"] != float64(2) || audit[0]["ts"] != posts[0].TS {
		t.Fatalf("audit %v", audit)
	}
}

// A replica that died right after posting (its attempt's lease still
// running): the successor waits the lease out, then attaches the chart to
// that message without posting again. A period nobody started is not
// resumed (a fresh deployment does not post last week's report).
func TestScheduledReportResumesAfterACrash(t *testing.T) {
	t.Parallel()
	g := newReportRig(t, monday.Add(3*time.Minute))
	ctx := context.Background()
	dead := g.store()
	if _, ok, err := dead.ClaimReport(ctx, mondayWeek, "replica-dead", 10*time.Minute); !ok || err != nil {
		t.Fatalf("claim %v %v", ok, err)
	}
	_, ts, err := slack.New("xoxb-test", slack.OptionAPIURL(g.slack.APIURL())).PostMessage(reportChannel, slack.MsgOptionText("MCAS weekly report", false))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := dead.ReportPosted(ctx, mondayWeek, "replica-dead", reportChannel, ts); !ok || err != nil {
		t.Fatalf("posted %v %v", ok, err)
	}
	r := g.replica("replica-b")
	if _, ran := g.resume(r, monday.AddDate(0, 0, -7)); ran {
		t.Fatal("a period nobody started was resumed")
	}
	outcome, ran := g.resume(r, monday)
	if !ran || outcome != "ok" {
		t.Fatalf("resume %v %q", ran, outcome)
	}
	var waited time.Duration
	for _, w := range g.Waits() {
		waited += w
	}
	files := g.slack.Files()
	// Claimed at 09:03 with a 10-minute lease, held until 09:13: looked at
	// every minute from 09:03, taken over at 09:14 (eleven waits).
	if len(g.posted("chat.postMessage")) != 1 || len(files) != 1 || files[0].Thread != ts || waited != 11*time.Minute {
		t.Fatalf("files %+v, waited %v", files, waited)
	}
	// A sent period is not resumed again.
	if _, ran := g.resume(g.replica("replica-c"), monday); ran {
		t.Fatal("a sent period was resumed")
	}
	// By hand, the report says the scheduled one was sent.
	byHand, _, err := r.RunByHand(ctx, schedule.UntilNow, true)
	if err != nil || byHand.Scheduled == nil || byHand.Scheduled.TS != ts || byHand.Scheduled.Attempts != 2 || !byHand.Stats.Partial() {
		t.Fatalf("by hand %+v %v", byHand.Scheduled, err)
	}
	if got, want := byHand.Stats.Title(), "17–23 Nov 2026 (23 Nov so far, to 09:14 UTC)"; got != want {
		t.Fatalf("title %q, want %q", got, want)
	}
}

// Shutting down while waiting to retry leaves the period to the next
// process: it resumes with the chart only.
func TestScheduledReportShutdownLeavesItToResume(t *testing.T) {
	t.Parallel()
	g := newReportRig(t, monday)
	g.slack.FailUpload("upload", "")
	ctx, cancel := context.WithCancel(context.Background())
	g.onWait = func(string, time.Duration) { cancel() }
	var outcome string
	g.run(func() { _, outcome, _ = g.replica("replica-a").RunScheduled(ctx, monday) })
	rec, _, _ := g.store().ReportSend(context.Background(), mondayWeek)
	if outcome != "interrupted" || rec.State != store.ReportSending || rec.TS == "" || rec.Attempts != 1 {
		t.Fatalf("%q %+v", outcome, rec)
	}
	g.onWait = nil
	if outcome, ran := g.resume(g.replica("replica-a-restarted"), monday); !ran || outcome != "ok" {
		t.Fatalf("resume %v %q", ran, outcome)
	}
	if posts, files := g.posted("chat.postMessage"), g.slack.Files(); len(posts) != 1 || len(files) != 1 || files[0].Thread != rec.TS {
		t.Fatalf("posts %d files %+v", len(posts), files)
	}
}
