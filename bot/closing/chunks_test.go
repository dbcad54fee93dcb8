package closing_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/closing"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// Issue #16: a group close names at most 100 alerts per request.

// bigGroup adds n repeats to the world's tenant and returns their ids,
// sorted as the claims take them.
func (w *world) bigGroup(n int) []string {
	rs := mcasfake.Repeats("contoso", "bob.smith@contoso.com", "b2", n, now, time.Minute)
	w.mcas.AddAlerts(rs...)
	ids := make([]string, n)
	for i, a := range rs {
		ids[i] = a.ID
	}
	slices.Sort(ids)
	return ids
}

// closeRequests counts the close requests MCAS received.
func closeRequests(s *mcasfake.Server) int {
	n := 0
	for _, r := range s.Requests() {
		if strings.Contains(r.Path, "/close_") {
			n++
		}
	}
	return n
}

func TestAGroupOf250IsClosedWithThreeRequests(t *testing.T) {
	w := newWorld(t)
	ids := w.bigGroup(250)
	res, err := w.svc.CloseGroup(context.Background(), groupReq(ids, "U0CAROL", source.Benign, "triggered_by_test", ""))
	if err != nil || res.Outcome != closing.Closed || len(res.Closed) != 250 || len(res.Failed) != 0 || res.Requests != 3 {
		t.Fatalf("%d closed, %d failed, %d requests, %v", len(res.Closed), len(res.Failed), res.Requests, err)
	}
	calls := w.mcas.Closes()
	if len(calls) != 3 || closeRequests(w.mcas) != 3 {
		t.Fatalf("%d close calls", len(calls))
	}
	var sent []string
	for _, c := range calls {
		if len(c.IDs) > closing.MaxIDsPerCall || len(c.Closed) != len(c.IDs) || *c.ReasonID != 6 {
			t.Fatalf("a call with %d ids (%d closed)", len(c.IDs), len(c.Closed))
		}
		sent = append(sent, c.IDs...)
	}
	if !slices.Equal(sent, ids) {
		t.Fatal("the calls did not name every alert once, in order")
	}
	for _, id := range ids {
		if rec, _, _ := w.store.AlertClose(context.Background(), "contoso", id); rec.State != store.CloseDone || rec.By != "U0CAROL" {
			t.Fatalf("record of %s %+v", id, rec)
		}
	}
}

// The second request fails: the first hundred stay closed and recorded,
// the second's claims are released with MCAS's reason and the third is not
// sent; a second try closes the rest.
func TestAFailedRequestOfALargeGroupClose(t *testing.T) {
	w := newWorld(t)
	var logs bytes.Buffer
	w.logTo(&logs)
	ids := w.bigGroup(250)
	w.mcas.Fail(mcasfake.Fault{Path: "/api/v1/alerts/close_"}, // answered normally
		mcasfake.Fault{Path: "/api/v1/alerts/close_", Status: 403, Body: `{"detail":"You do not have permission to perform this action."}`})
	ctx := context.Background()
	res, err := w.svc.CloseGroup(ctx, groupReq(ids, "U0CAROL", source.TruePositive, "", ""))
	if err != nil || res.Outcome != closing.Closed || len(res.Closed) != 100 || len(res.Failed) != 150 || res.Requests != 2 || closeRequests(w.mcas) != 2 {
		t.Fatalf("%s: %d closed, %d failed, %d requests (%d sent), %v", res.Outcome, len(res.Closed), len(res.Failed), res.Requests, closeRequests(w.mcas), err)
	}
	for i, id := range ids {
		rec, _, _ := w.store.AlertClose(ctx, "contoso", id)
		a, _ := w.mcas.Alert(id)
		switch {
		case i < 100:
			if rec.State != store.CloseDone || a.ResolutionStatusValue != source.ResolutionTruePositive || res.Closed[i].AlertID != id {
				t.Fatalf("alert %d: %+v, resolution %d", i, rec, a.ResolutionStatusValue)
			}
		case i < 200:
			if rec.State != store.CloseFailed || !strings.Contains(rec.Error, "Investigation.manage") || a.ResolutionStatusValue != 0 ||
				res.Failed[i-100].AlertID != id || !strings.Contains(res.Failed[i-100].Err.Error(), "Investigation.manage") {
				t.Fatalf("alert %d: %+v", i, rec)
			}
		default:
			if rec.State != store.CloseFailed || rec.Error != "not sent, as request 2 of 3 failed" || a.ResolutionStatusValue != 0 ||
				res.Failed[i-100].Err.Error() != "not sent, as request 2 of 3 failed" {
				t.Fatalf("alert %d: %+v", i, rec)
			}
		}
	}
	// Fixed: the same close takes the 150 left, with two requests.
	res, err = w.svc.CloseGroup(ctx, groupReq(ids, "U0CAROL", source.TruePositive, "", ""))
	if err != nil || len(res.Closed) != 150 || len(res.Already) != 100 || res.Requests != 2 || closeRequests(w.mcas) != 4 {
		t.Fatalf("second try: %d closed, %d already, %d requests, %v", len(res.Closed), len(res.Already), res.Requests, err)
	}
}

// A lost answer whose alerts all read as closed is no reason to stop: the
// next request is sent.
func TestALostAnswerDoesNotStopALargeGroupClose(t *testing.T) {
	w := newWorld(t)
	ids := w.bigGroup(150)
	// The first request closes its alerts but its answer is lost (a 502
	// after the work is done is what a proxy does; here: the close happens
	// by hand, then the request fails twice).
	for _, id := range ids[:100] {
		w.mcas.Resolve(id, source.ResolutionTruePositive, "api-token-owner@soc.example", now.Add(time.Minute))
	}
	w.mcas.Fail(mcasfake.Fault{Path: "/api/v1/alerts/close_", Status: 502}, mcasfake.Fault{Path: "/api/v1/alerts/close_", Status: 502})
	w.svc.Now = func() time.Time { return now }
	res, err := w.svc.CloseGroup(context.Background(), groupReq(ids, "U0CAROL", source.TruePositive, "", ""))
	if err != nil || len(res.Closed) != 150 || len(res.Failed) != 0 || res.Requests != 2 {
		t.Fatalf("%d closed, %d failed, %d requests, %v", len(res.Closed), len(res.Failed), res.Requests, err)
	}
}
