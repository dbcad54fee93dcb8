package closing_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/closing"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// group adds seven repeats of one policy for one user to the world's
// tenant and returns their ids, sorted as the claims take them.
func (w *world) group(t *testing.T) []string {
	t.Helper()
	rs := mcasfake.Repeats("contoso", "bob.smith@contoso.com", "b1", 7, now, time.Minute)
	w.mcas.AddAlerts(rs...)
	var ids []string
	for _, a := range rs {
		ids = append(ids, a.ID)
	}
	slices.Sort(ids)
	return ids
}

// fileGroup records one Jira issue for every alert of a group, as the
// group's Create Jira does.
func (w *world) fileGroup(t *testing.T, ids []string) string {
	t.Helper()
	key := w.jira.AddIssue("[MCAS][contoso] ×7 "+mcasfake.TorTitle, []string{"mcas"}, 0)
	ctx := context.Background()
	for _, id := range ids {
		if _, err := w.store.ClaimIssue(ctx, "contoso", id, "U0LEAD"); err != nil {
			t.Fatal(err)
		}
		if err := w.store.CompleteIssue(ctx, "contoso", id, key, w.jira.URL+"/browse/"+key); err != nil {
			t.Fatal(err)
		}
	}
	return key
}

func groupReq(ids []string, by string, kind source.Classification, reason, comment string) closing.GroupRequest {
	return closing.GroupRequest{Tenant: "contoso", AlertIDs: ids, By: closing.Analyst{ID: by, Name: strings.ToLower(strings.TrimPrefix(by, "U0"))},
		Classification: kind, Reason: reason, Comment: comment}
}

func TestGroupCloseIsOneCallWithEveryAlert(t *testing.T) {
	w := newWorld(t)
	ids := w.group(t)
	key := w.fileGroup(t, ids)
	shuffled := append([]string{ids[4]}, append(slices.Clone(ids[:4]), ids[5:]...)...)
	res, err := w.svc.CloseGroup(context.Background(), groupReq(shuffled, "U0CAROL", source.Benign, "confirmed_with_end_user", "Travelling [x|https://evil.example]"))
	if err != nil || res.Outcome != closing.Closed || len(res.Closed) != 7 || len(res.Already) != 0 || len(res.Failed) != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	closes := w.mcas.Closes()
	if len(closes) != 1 {
		t.Fatalf("%d close calls", len(closes))
	}
	c := closes[0]
	if c.Kind != "benign" || c.ReasonID == nil || *c.ReasonID != 5 || !slices.Equal(c.IDs, ids) ||
		c.Comment != "Closed from Slack by carol: Travelling [x|https://evil.example]" || len(c.Closed) != 7 {
		t.Fatalf("MCAS got %+v", c)
	}
	for _, id := range ids {
		rec, ok, _ := w.store.AlertClose(context.Background(), "contoso", id)
		if !ok || rec.State != store.CloseDone || rec.By != "U0CAROL" || rec.Classification != "benign" || rec.Reason != "confirmed_with_end_user" || rec.Elsewhere {
			t.Fatalf("record of %s: %+v", id, rec)
		}
	}
	// One comment on the group's issue, naming every alert, escaped.
	comments := w.jira.Comments(key)
	if len(comments) != 1 || !slices.Equal(res.Commented, []string{key}) || res.CommentErr != nil {
		t.Fatalf("comments %+v, result %+v", comments, res)
	}
	text, live := jirafake.Render(comments[0].Body)
	for _, want := range append([]string{"7 alerts closed in Defender for Cloud Apps from Slack by carol (U0CAROL)", "Classification: benign",
		"Reason: confirmed with end user", "Travelling [x|https://evil.example]"}, ids...) {
		if !strings.Contains(text, want) {
			t.Errorf("comment lacks %q:\n%s", want, text)
		}
	}
	for _, l := range live {
		if l.Kind != "list" {
			t.Errorf("live %s %q in the comment", l.Kind, l.Text)
		}
	}
	// A second analyst is told who closed them, and nothing is called.
	res, err = w.svc.CloseGroup(context.Background(), groupReq(ids, "U0DAVE", source.TruePositive, "", ""))
	if err != nil || res.Outcome != closing.AlreadyClosed || len(res.Already) != 7 || res.Already[0].By != "U0CAROL" || len(w.mcas.Closes()) != 1 {
		t.Fatalf("second close: %+v %v", res, err)
	}
}

// Alerts closed from Slack are left out of the call; an alert closed in
// the portal comes back in alertsNotFound and is read again.
func TestGroupCloseLeavesOutWhatIsClosed(t *testing.T) {
	w := newWorld(t)
	ids := w.group(t)
	ctx := context.Background()
	for _, id := range ids[:2] {
		r := w.req(source.FalsePositive, "not_of_interest", "")
		r.AlertID, r.By = id, closing.Analyst{ID: "U0DAVE", Name: "dave"}
		if res, err := w.svc.Close(ctx, r); err != nil || res.Outcome != closing.Closed {
			t.Fatalf("single close: %+v %v", res, err)
		}
	}
	w.mcas.Resolve(ids[2], source.ResolutionResolved, "erin@contoso.com", now.Add(-time.Hour))
	res, err := w.svc.CloseGroup(ctx, groupReq(ids, "U0CAROL", source.TruePositive, "", ""))
	if err != nil || res.Outcome != closing.Closed || len(res.Closed) != 4 || len(res.Already) != 3 {
		t.Fatalf("%+v %v", res, err)
	}
	closes := w.mcas.Closes()
	if len(closes) != 3 || !slices.Equal(closes[2].IDs, ids[2:]) || closes[2].Kind != "true_positive" || closes[2].ReasonID != nil {
		t.Fatalf("group call %+v", closes[len(closes)-1])
	}
	rec, _, _ := w.store.AlertClose(ctx, "contoso", ids[2])
	if !rec.Elsewhere || rec.HandledBy != "erin@contoso.com" || rec.Classification != "resolved" {
		t.Fatalf("portal close recorded as %+v", rec)
	}
	for _, r := range res.Already[:2] {
		if r.By != "U0DAVE" || r.Classification != "false_positive" {
			t.Fatalf("left out %+v", r)
		}
	}
}

func TestGroupCloseForbiddenReleasesEveryClaim(t *testing.T) {
	w := newWorld(t)
	ids := w.group(t)
	w.mcas.AddReadOnlyToken("read-only")
	if c, err := mcas.New(mcas.Config{Name: "contoso", URL: w.mcas.URL, Token: "read-only", RequestsPerMinute: -1}, w.mcas.Client(), nil); err == nil {
		w.svc.Tenants.Put(c)
	}
	res, err := w.svc.CloseGroup(context.Background(), groupReq(ids, "U0CAROL", source.TruePositive, "", ""))
	if res.Outcome != closing.Failed || err == nil || !strings.Contains(err.Error(), "Investigation.manage") || strings.Contains(err.Error(), "read-only") ||
		len(res.Failed) != 7 || res.Failed[0].Err.Error() != err.Error() {
		t.Fatalf("%+v %v", res, err)
	}
	for _, id := range ids {
		if rec, _, _ := w.store.AlertClose(context.Background(), "contoso", id); rec.State != store.CloseFailed {
			t.Fatalf("claim of %s not released: %+v", id, rec)
		}
	}
	if c, err := mcas.New(mcas.Config{Name: "contoso", URL: w.mcas.URL, Token: "mcas-SECRET", RequestsPerMinute: -1}, w.mcas.Client(), nil); err == nil {
		w.svc.Tenants.Put(c)
	}
	if res, err := w.svc.CloseGroup(context.Background(), groupReq(ids, "U0CAROL", source.TruePositive, "", "")); err != nil || len(res.Closed) != 7 {
		t.Fatalf("after the fix: %+v %v", res, err)
	}
}

// A close whose answer was lost: each alert is read again; those closed as
// asked since the claim count, those still open are released and named.
func TestGroupCloseAfterALostAnswerReadsEachAlert(t *testing.T) {
	w := newWorld(t)
	ids := w.group(t)
	for _, id := range ids[:3] {
		w.mcas.Resolve(id, source.ResolutionBenign, w.mcas.Actor, time.Now())
	}
	w.mcas.Fail(mcasfake.Fault{Path: "/api/v1/alerts/close_", Status: 502}, mcasfake.Fault{Path: "/api/v1/alerts/close_", Status: 503})
	res, err := w.svc.CloseGroup(context.Background(), groupReq(ids, "U0CAROL", source.Benign, "triggered_by_test", ""))
	if err != nil || res.Outcome != closing.Closed || len(res.Closed) != 3 || len(res.Failed) != 4 || !strings.Contains(res.Failed[0].Err.Error(), "HTTP 503") {
		t.Fatalf("%+v %v", res, err)
	}
	gets := 0
	for _, r := range w.mcas.Requests() {
		if r.Method == "GET" {
			gets++
		}
	}
	if gets != 7 {
		t.Fatalf("%d re-reads for 7 alerts", gets)
	}
	for i, id := range ids {
		rec, _, _ := w.store.AlertClose(context.Background(), "contoso", id)
		if want := map[bool]store.CloseState{true: store.CloseDone, false: store.CloseFailed}[i < 3]; rec.State != want {
			t.Fatalf("alert %d: %+v", i, rec)
		}
	}
	// Every one failing says why once.
	w2 := newWorld(t)
	ids2 := w2.group(t)
	w2.mcas.Fail(mcasfake.Fault{Status: 429}, mcasfake.Fault{Status: 429})
	res, err = w2.svc.CloseGroup(context.Background(), groupReq(ids2, "U0CAROL", source.TruePositive, "", ""))
	if res.Outcome != closing.Failed || err == nil || !strings.Contains(err.Error(), "throttled") || len(w2.mcas.Closes()) != 0 {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestGroupCloseNamesAGoneAlert(t *testing.T) {
	w := newWorld(t)
	ids := append(w.group(t), "ffffffffffffffffffffffff")
	res, err := w.svc.CloseGroup(context.Background(), groupReq(ids, "U0CAROL", source.TruePositive, "", ""))
	if err != nil || res.Outcome != closing.Closed || len(res.Closed) != 7 || len(res.Failed) != 1 ||
		!strings.Contains(res.Failed[0].Err.Error(), "has no alert ffffffffffffffffffffffff in contoso") {
		t.Fatalf("%+v %v", res, err)
	}
}

// Group closes and single closes of the same alerts racing: every alert
// is sent to MCAS once, and every caller is told an outcome.
func TestRacingGroupClosesSendEachAlertOnce(t *testing.T) {
	w := newWorld(t)
	ids := w.group(t)
	w.mcas.SetLatency(100 * time.Millisecond)
	var wg sync.WaitGroup
	groups := make([]closing.GroupResult, 4)
	for i := range groups {
		wg.Go(func() {
			groups[i], _ = w.svc.CloseGroup(context.Background(), groupReq(ids, []string{"U0CAROL", "U0DAVE"}[i%2], source.Benign, "triggered_by_test", ""))
		})
	}
	for _, id := range []string{ids[3], ids[5]} {
		wg.Go(func() {
			r := w.req(source.Benign, "triggered_by_test", "")
			r.AlertID = id
			_, _ = w.svc.Close(context.Background(), r)
		})
	}
	wg.Wait()
	sent := map[string]int{}
	for _, c := range w.mcas.Closes() {
		for _, id := range c.IDs {
			sent[id]++
		}
	}
	for _, id := range ids {
		if sent[id] != 1 {
			t.Fatalf("alert %s sent %d times: %+v", id, sent[id], w.mcas.Closes())
		}
	}
	for _, g := range groups {
		if g.Outcome != closing.Closed && g.Outcome != closing.AlreadyClosed {
			t.Fatalf("outcome %+v", g)
		}
		if len(g.Closed)+len(g.Already) != 7 {
			t.Fatalf("a caller was told of %d alerts: %+v", len(g.Closed)+len(g.Already), g)
		}
	}
}

func TestGroupCloseRefusesBadRequestsWithoutCalls(t *testing.T) {
	w := newWorld(t)
	ids := w.group(t)
	for _, r := range []closing.GroupRequest{
		groupReq(ids, "U0CAROL", source.Benign, "other", ""),
		groupReq(nil, "U0CAROL", source.TruePositive, "", ""),
		groupReq(append(slices.Clone(ids), "../x"), "U0CAROL", source.TruePositive, "", ""),
		{Tenant: "initech", AlertIDs: ids, Classification: source.TruePositive},
	} {
		if res, err := w.svc.CloseGroup(context.Background(), r); err == nil || res.Outcome != closing.Refused {
			t.Errorf("%+v: %+v %v", r, res, err)
		}
	}
	_ = w.store.Close()
	if res, err := w.svc.CloseGroup(context.Background(), groupReq(ids, "U0CAROL", source.TruePositive, "", "")); res.Outcome != closing.Refused || !errors.Is(err, closing.ErrStoreDown) {
		t.Fatalf("store down: %+v %v", res, err)
	}
	if n := len(w.mcas.Requests()); n != 0 {
		t.Fatalf("%d MCAS calls for refused closes", n)
	}
}

// A close of one of its alerts still running: the group close waits, then
// says who is closing and holds nothing.
func TestGroupCloseTellsWhoHoldsAnAlert(t *testing.T) {
	w := newWorld(t)
	ids := w.group(t)
	w.svc.Wait = 300 * time.Millisecond
	ctx := context.Background()
	if c, err := w.store.ClaimClose(ctx, store.CloseRecord{Tenant: "contoso", AlertID: ids[3], By: "U0DAVE", Classification: "true_positive"}); err != nil || !c.Won {
		t.Fatalf("%+v %v", c, err)
	}
	res, err := w.svc.CloseGroup(ctx, groupReq(ids, "U0CAROL", source.TruePositive, "", ""))
	if err != nil || res.Outcome != closing.InProgress || res.Holder.By != "U0DAVE" || len(w.mcas.Closes()) != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	for _, id := range ids[:3] {
		if rec, _, _ := w.store.AlertClose(ctx, "contoso", id); rec.State == store.ClosePending {
			t.Fatalf("%s still claimed: %+v", id, rec)
		}
	}
	// Dave's close fails: the next group close takes every alert.
	if err := w.store.FailClose(ctx, "contoso", ids[3], "MCAS said no"); err != nil {
		t.Fatal(err)
	}
	if res, err := w.svc.CloseGroup(ctx, groupReq(ids, "U0CAROL", source.TruePositive, "", "")); err != nil || len(res.Closed) != 7 || len(w.mcas.Closes()) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
}
