package closing_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/closing"
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/tenants"
)

var now = time.Now().UTC()

type world struct {
	mcas  *mcasfake.Server
	jira  *jirafake.Server
	store store.Store
	svc   *closing.Service
	alert mcasfake.Alert
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{mcas: mcasfake.New("mcas-SECRET"), jira: jirafake.New(jirafake.Options{Cloud: true, User: "soc@example.com", Token: "jira-SECRET"})}
	t.Cleanup(w.mcas.Close)
	t.Cleanup(w.jira.Close)
	w.alert = mcasfake.Generate("contoso", 1, now, time.Hour, 8)[0]
	w.mcas.AddAlerts(w.alert)
	c, err := mcas.New(mcas.Config{Name: "contoso", URL: w.mcas.URL, Token: "mcas-SECRET", RequestsPerMinute: -1, Attempts: 2, Timeout: 2 * time.Second}, w.mcas.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Caller().Sleep = func(context.Context, time.Duration) error { return nil }
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	w.store = st
	jc, _ := jira.New(jira.Config{URL: w.jira.URL, User: "soc@example.com", APIToken: "jira-SECRET"}, w.jira.Client(), nil)
	w.svc = &closing.Service{Store: st, Tenants: tenants.Static(c), Jira: jc, Wait: 5 * time.Second}
	return w
}

// fileIssue records an existing Jira issue for the alert, as Create Jira would.
func (w *world) fileIssue(t *testing.T) string {
	t.Helper()
	key := w.jira.AddIssue("[MCAS][contoso] "+w.alert.Title, []string{"mcas"}, 0)
	ctx := context.Background()
	if _, err := w.store.ClaimIssue(ctx, "contoso", w.alert.ID, "U0LEAD"); err != nil {
		t.Fatal(err)
	}
	if err := w.store.CompleteIssue(ctx, "contoso", w.alert.ID, key, w.jira.URL+"/browse/"+key); err != nil {
		t.Fatal(err)
	}
	return key
}

func (w *world) req(kind source.Classification, reason, comment string) closing.Request {
	return closing.Request{Tenant: "contoso", AlertID: w.alert.ID, By: closing.Analyst{ID: "U0CAROL", Name: "carol"},
		Classification: kind, Reason: reason, Comment: comment}
}

func TestCloseCallsTheRightEndpointRecordsAndComments(t *testing.T) {
	w := newWorld(t)
	key := w.fileIssue(t)
	res, err := w.svc.Close(context.Background(), w.req(source.Benign, "confirmed_with_end_user", "Bob is on holiday in [Moscow|https://evil.example] {html}"))
	if err != nil || res.Outcome != closing.Closed || !res.Commented || res.CommentErr != nil || res.Issue == nil || res.Issue.Key != key {
		t.Fatalf("close: %+v %v", res, err)
	}
	closes := w.mcas.Closes()
	if len(closes) != 1 || closes[0].Kind != "benign" || *closes[0].ReasonID != 5 ||
		closes[0].Comment != "Closed from Slack by carol: Bob is on holiday in [Moscow|https://evil.example] {html}" {
		t.Fatalf("MCAS got %+v", closes)
	}
	rec, ok, _ := w.store.AlertClose(context.Background(), "contoso", w.alert.ID)
	if !ok || rec.State != store.CloseDone || rec.By != "U0CAROL" || rec.ByName != "carol" || rec.Classification != "benign" ||
		rec.Reason != "confirmed_with_end_user" || rec.ClosedAt.IsZero() || rec.ClaimedAt.IsZero() || rec.Elsewhere {
		t.Fatalf("record %+v", rec)
	}
	comments := w.jira.Comments(key)
	if len(comments) != 1 {
		t.Fatalf("%d comments", len(comments))
	}
	text, live := jirafake.Render(comments[0].Body)
	for _, want := range []string{"from Slack by carol (U0CAROL)", "Classification: benign", "Reason: confirmed with end user", "[Moscow|https://evil.example] {html}"} {
		if !strings.Contains(text, want) {
			t.Errorf("comment lacks %q:\n%s", want, text)
		}
	}
	for _, l := range live {
		if l.Kind != "list" {
			t.Errorf("live %s %q in the comment", l.Kind, l.Text)
		}
	}
	// The next analyst is told who closed it, and MCAS is not called again.
	res, err = w.svc.Close(context.Background(), closing.Request{Tenant: "contoso", AlertID: w.alert.ID, By: closing.Analyst{ID: "U0DAVE"}, Classification: source.TruePositive})
	if err != nil || res.Outcome != closing.AlreadyClosed || res.Record.By != "U0CAROL" || res.Record.Classification != "benign" || len(w.mcas.Closes()) != 1 {
		t.Fatalf("second close: %+v %v", res, err)
	}
}

func TestEveryClassificationSendsItsReason(t *testing.T) {
	for _, tc := range []struct {
		kind   source.Classification
		reason string
		id     *int
	}{
		{source.FalsePositive, "too_many_similar_alerts", ptr(1)},
		{source.FalsePositive, "other", ptr(4)},
		{source.Benign, "actual_severity_lower", ptr(2)},
		{source.Benign, "triggered_by_test", ptr(6)},
		{source.TruePositive, "", nil},
	} {
		w := newWorld(t)
		res, err := w.svc.Close(context.Background(), w.req(tc.kind, tc.reason, "because"))
		c := w.mcas.Closes()
		if err != nil || res.Outcome != closing.Closed || len(c) != 1 || c[0].Kind != string(tc.kind) || !sameInt(c[0].ReasonID, tc.id) {
			t.Fatalf("%s/%s: %+v %v, MCAS got %+v", tc.kind, tc.reason, res, err, c)
		}
		if res.Issue != nil || res.CommentErr != nil {
			t.Fatalf("no issue, yet %+v", res)
		}
	}
}

func ptr(n int) *int { return &n }

func sameInt(a, b *int) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

func TestBadRequestsAreRefusedWithoutCalls(t *testing.T) {
	w := newWorld(t)
	for _, r := range []closing.Request{
		w.req(source.Benign, "other", ""),
		w.req(source.Benign, "not_of_interest", "x"),
		w.req(source.FalsePositive, "", "x"),
		w.req("dismissed", "", ""),
		w.req(source.Benign, "triggered_by_test", strings.Repeat("x", 1001)),
		{Tenant: "initech", AlertID: w.alert.ID, Classification: source.TruePositive},
		{Tenant: "contoso", AlertID: "../x", Classification: source.TruePositive},
	} {
		if res, err := w.svc.Close(context.Background(), r); err == nil || res.Outcome != closing.Refused {
			t.Errorf("%+v: %+v %v", r, res, err)
		}
	}
	if n := len(w.mcas.Requests()); n != 0 {
		t.Fatalf("%d MCAS calls for refused closes", n)
	}
}

func TestAlreadyClosedInMCASIsReReadAndTold(t *testing.T) {
	w := newWorld(t)
	w.mcas.Resolve(w.alert.ID, source.ResolutionFalsePositive, "erin@contoso.com", now.Add(-time.Hour))
	res, err := w.svc.Close(context.Background(), w.req(source.Benign, "triggered_by_test", ""))
	if err != nil || res.Outcome != closing.AlreadyClosed || !res.Record.Elsewhere || res.Record.HandledBy != "erin@contoso.com" ||
		res.Record.Classification != "false_positive" || res.Alert == nil || res.Alert.Resolution != source.ResolutionFalsePositive {
		t.Fatalf("%+v %v", res, err)
	}
	// One close call answered alertsNotFound, one GET read the truth.
	reqs := w.mcas.Requests()
	if len(reqs) != 2 || !strings.HasSuffix(reqs[0].Path, "/close_benign/") || reqs[1].Method != "GET" {
		t.Fatalf("requests %+v", reqs)
	}
	rec, _, _ := w.store.AlertClose(context.Background(), "contoso", w.alert.ID)
	if rec.State != store.CloseDone || !rec.Elsewhere || !rec.ClosedAt.Equal(now.Add(-time.Hour).Truncate(time.Millisecond)) {
		t.Fatalf("record %+v", rec)
	}
	// Dismissed or resolved alerts keep MCAS's own word.
	w2 := newWorld(t)
	w2.mcas.Resolve(w2.alert.ID, source.ResolutionResolved, "", time.Time{})
	res, _ = w2.svc.Close(context.Background(), w2.req(source.TruePositive, "", ""))
	if res.Outcome != closing.AlreadyClosed || res.Record.Classification != "resolved" || res.Record.ClosedAt.IsZero() {
		t.Fatalf("resolved: %+v", res)
	}
}

func TestALostAnswerIsCountedWhenTheReReadShowsOurClose(t *testing.T) {
	w := newWorld(t)
	// The first attempt closed the alert but its answer never came back:
	// MCAS now shows it closed as asked, just now, by the token's owner.
	w.mcas.Resolve(w.alert.ID, source.ResolutionBenign, w.mcas.Actor, time.Now())
	res, err := w.svc.Close(context.Background(), w.req(source.Benign, "triggered_by_test", ""))
	if err != nil || res.Outcome != closing.Closed || res.Record.Elsewhere || res.Record.By != "U0CAROL" {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestForbiddenExplainsThePermission(t *testing.T) {
	w := newWorld(t)
	w.mcas.AddReadOnlyToken("read-only")
	ro, _ := mcas.New(mcas.Config{Name: "contoso", URL: w.mcas.URL, Token: "read-only", RequestsPerMinute: -1}, w.mcas.Client(), nil)
	w.svc.Tenants.Put(ro)
	res, err := w.svc.Close(context.Background(), w.req(source.TruePositive, "", ""))
	if res.Outcome != closing.Failed || err == nil || !strings.Contains(err.Error(), "can read alerts but not close them") || !strings.Contains(err.Error(), "Investigation.manage") {
		t.Fatalf("%+v %v", res, err)
	}
	if strings.Contains(err.Error(), "read-only") {
		t.Fatal("the token leaked into the error")
	}
	// The claim is released: a fixed token closes it.
	if c, err := mcas.New(mcas.Config{Name: "contoso", URL: w.mcas.URL, Token: "mcas-SECRET", RequestsPerMinute: -1}, w.mcas.Client(), nil); err == nil {
		w.svc.Tenants.Put(c)
	}
	if res, err := w.svc.Close(context.Background(), w.req(source.TruePositive, "", "")); err != nil || res.Outcome != closing.Closed {
		t.Fatalf("after the fix: %+v %v", res, err)
	}
}

func TestServerErrorsAreRetriedThenReported(t *testing.T) {
	w := newWorld(t)
	w.mcas.Fail(mcasfake.Fault{Status: 502}, mcasfake.Fault{Status: 503})
	res, err := w.svc.Close(context.Background(), w.req(source.Benign, "triggered_by_test", ""))
	if res.Outcome != closing.Failed || err == nil || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("%+v %v", res, err)
	}
	// Two attempts, then a re-read that shows the alert still open.
	reqs := w.mcas.Requests()
	if len(reqs) != 3 || reqs[2].Method != "GET" {
		t.Fatalf("requests %+v", reqs)
	}
	if a, _ := w.mcas.Alert(w.alert.ID); a.ResolutionStatusValue != 0 {
		t.Fatal("alert closed")
	}
	rec, _, _ := w.store.AlertClose(context.Background(), "contoso", w.alert.ID)
	if rec.State != store.CloseFailed || !strings.Contains(rec.Error, "HTTP 503") {
		t.Fatalf("record %+v", rec)
	}
	// Throttled to the end: MCAS did not take it, no re-read needed.
	w.mcas.ResetRequests()
	w.mcas.Fail(mcasfake.Fault{Status: 429}, mcasfake.Fault{Status: 429})
	res, err = w.svc.Close(context.Background(), w.req(source.Benign, "triggered_by_test", ""))
	if res.Outcome != closing.Failed || !strings.Contains(err.Error(), "throttled") || len(w.mcas.Requests()) != 2 {
		t.Fatalf("%+v %v %d", res, err, len(w.mcas.Requests()))
	}
}

func TestAGoneAlertIsSaidSo(t *testing.T) {
	w := newWorld(t)
	r := w.req(source.TruePositive, "", "")
	r.AlertID = "ffffffffffffffffffffffff"
	res, err := w.svc.Close(context.Background(), r)
	if res.Outcome != closing.Failed || err == nil || !strings.Contains(err.Error(), "has no alert ffffffffffffffffffffffff in contoso") {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestACommentFailureNeverUndoesTheClose(t *testing.T) {
	w := newWorld(t)
	key := w.fileIssue(t)
	w.jira.Fail(jirafake.Fault{Path: "/rest/api/2/issue/" + key + "/comment", Status: 500})
	res, err := w.svc.Close(context.Background(), w.req(source.FalsePositive, "not_of_interest", ""))
	if err != nil || res.Outcome != closing.Closed || res.Commented || res.CommentErr == nil || !strings.Contains(res.CommentErr.Error(), "HTTP 500") {
		t.Fatalf("%+v %v", res, err)
	}
	if rec, _, _ := w.store.AlertClose(context.Background(), "contoso", w.alert.ID); rec.State != store.CloseDone {
		t.Fatalf("record %+v", rec)
	}
	// Without Jira configured the issue is named and nothing is sent.
	w2 := newWorld(t)
	w2.fileIssue(t)
	w2.svc.Jira = nil
	res, _ = w2.svc.Close(context.Background(), w2.req(source.FalsePositive, "not_of_interest", ""))
	if res.Outcome != closing.Closed || res.Issue == nil || res.CommentErr == nil {
		t.Fatalf("%+v", res)
	}
}

func TestRacingClosesCallMCASOnce(t *testing.T) {
	w := newWorld(t)
	w.mcas.SetLatency(100 * time.Millisecond)
	var wg sync.WaitGroup
	results := make([]closing.Result, 6)
	for i := range results {
		wg.Go(func() {
			r := w.req(source.Benign, "triggered_by_test", "")
			r.By = closing.Analyst{ID: []string{"U0CAROL", "U0DAVE"}[i%2]}
			results[i], _ = w.svc.Close(context.Background(), r)
		})
	}
	wg.Wait()
	if n := len(w.mcas.Closes()); n != 1 {
		t.Fatalf("%d close calls from racing analysts", n)
	}
	var closed int
	for _, r := range results {
		switch r.Outcome {
		case closing.Closed:
			closed++
		case closing.AlreadyClosed:
		default:
			t.Fatalf("outcome %+v", r)
		}
	}
	if closed != 1 {
		t.Fatalf("%d closes reported as done", closed)
	}
	winner := results[0].Record.By
	for _, r := range results {
		if r.Record.By != winner {
			t.Fatalf("analysts were told different closers: %+v", results)
		}
	}
}

func TestStoreDownRefusesToClose(t *testing.T) {
	w := newWorld(t)
	_ = w.store.Close()
	res, err := w.svc.Close(context.Background(), w.req(source.TruePositive, "", ""))
	if res.Outcome != closing.Refused || !errors.Is(err, closing.ErrStoreDown) || len(w.mcas.Requests()) != 0 {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestJiraCommentEscapesEverything(t *testing.T) {
	body := closing.JiraComment(store.CloseRecord{By: "U0X", ByName: "[~accountid:123] {html}<b>", Classification: "benign", Reason: "other",
		Comment: "!https://evil.example/p.png!\nh1. big\n----\n[x|https://evil.example] a\\\\b", ClosedAt: now})
	text, live := jirafake.Render(body)
	for _, l := range live {
		if l.Kind != "list" {
			t.Errorf("live %s %q in:\n%s", l.Kind, l.Text, body)
		}
	}
	for _, want := range []string{"by [~accountid:123] {html}<b> (U0X)", "Reason: other", "!https://evil.example/p.png!", "h1. big", "[x|https://evil.example] a\\\\b"} {
		if !strings.Contains(text, want) {
			t.Errorf("%q not shown as text:\n%s", want, text)
		}
	}
}
