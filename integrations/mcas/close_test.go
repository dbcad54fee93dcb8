package mcas_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
)

func TestValidID(t *testing.T) {
	for _, id := range []string{"65a1b2c3d4e5f60718293a4b", "12345", "a", "A_b-9", strings.Repeat("f", 64)} {
		if !mcas.ValidID(id) {
			t.Errorf("%q refused", id)
		}
	}
	for _, id := range []string{"", strings.Repeat("f", 65), "../../etc", "a/b", "a b", "a?x=1", "é", "a%2F", "<!channel>"} {
		if mcas.ValidID(id) {
			t.Errorf("%q accepted", id)
		}
	}
}

func TestCloseSendsTheDocumentedBody(t *testing.T) {
	cases := []struct {
		kind     mcas.Classification
		reason   int
		path     string
		wantBody string
		res      int
	}{
		{mcas.Benign, 5, "/api/v1/alerts/close_benign/", `{"comment":"by carol","filters":{"id":{"eq":["ID"]}},"reasonId":5,"sendFeedback":false}`, mcas.ResolutionBenign},
		{mcas.FalsePositive, 0, "/api/v1/alerts/close_false_positive/", `{"comment":"by carol","filters":{"id":{"eq":["ID"]}},"reasonId":0,"sendFeedback":false}`, mcas.ResolutionFalsePositive},
		{mcas.TruePositive, mcas.NoReason, "/api/v1/alerts/close_true_positive/", `{"comment":"by carol","filters":{"id":{"eq":["ID"]}},"sendFeedback":false}`, mcas.ResolutionTruePositive},
	}
	for _, tc := range cases {
		t.Run(string(tc.kind), func(t *testing.T) {
			srv, c, _ := setup(t)
			a := mcasfake.Generate("contoso", 1, now, time.Hour, 9)[0]
			srv.AddAlerts(a)
			res, err := c.Close(context.Background(), tc.kind, []string{a.ID}, tc.reason, "by carol")
			if err != nil || res.Closed != 1 || len(res.NotFound) != 0 {
				t.Fatalf("close: %+v %v", res, err)
			}
			req := srv.Requests()[0]
			var got, want any
			_ = json.Unmarshal(req.Raw, &got)
			_ = json.Unmarshal([]byte(strings.ReplaceAll(tc.wantBody, "ID", a.ID)), &want)
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(want)
			if req.Path != tc.path || string(gb) != string(wb) {
				t.Fatalf("sent %s %s, want %s %s", req.Path, gb, tc.path, wb)
			}
			// The alert now reads as closed, by the token's owner, now.
			back, err := c.Alert(context.Background(), a.ID)
			if err != nil || back.Resolution != tc.res || back.Open() || back.HandledBy != srv.Actor || time.Since(back.ResolveTime) > time.Minute {
				t.Fatalf("re-read %+v %v", back, err)
			}
			// Closing again answers alertsNotFound with HTTP 200.
			res, err = c.Close(context.Background(), tc.kind, []string{a.ID}, tc.reason, "again")
			if err != nil || res.Closed != 0 || len(res.NotFound) != 1 || res.NotFound[0] != a.ID {
				t.Fatalf("second close: %+v %v", res, err)
			}
		})
	}
}

func TestCloseErrors(t *testing.T) {
	srv, c, slept := setup(t)
	a := mcasfake.Generate("contoso", 1, now, time.Hour, 9)[0]
	srv.AddAlerts(a)
	// A reason that does not belong to the endpoint is a 400 with MCAS's words.
	_, err := c.Close(context.Background(), mcas.Benign, []string{a.ID}, 0, "")
	if httpx.KindOf(err) != httpx.KindBadRequest || !strings.Contains(err.Error(), `reasonId: "0" is not a valid choice`) {
		t.Fatalf("bad reason: %v", err)
	}
	// 429 and 5xx are retried.
	srv.Fail(mcasfake.Fault{Status: 429}, mcasfake.Fault{Status: 502})
	res, err := c.Close(context.Background(), mcas.Benign, []string{a.ID}, 2, "")
	if err != nil || res.Closed != 1 || len(*slept) != 2 {
		t.Fatalf("after 429 and 502: %+v %v (retries %d)", res, err, len(*slept))
	}
	// Malformed ids never reach the URL or body.
	if _, err := c.Close(context.Background(), mcas.Benign, []string{"../x"}, 2, ""); err == nil {
		t.Fatal("malformed id sent")
	}
	if _, err := c.Alert(context.Background(), "a/b"); err == nil {
		t.Fatal("malformed id read")
	}
}

func TestReadOnlyTokenCannotClose(t *testing.T) {
	srv := mcasfake.New(token)
	defer srv.Close()
	srv.AddReadOnlyToken("read-only-SECRET")
	a := mcasfake.Generate("contoso", 1, now, time.Hour, 9)[0]
	srv.AddAlerts(a)
	c, _ := mcas.New(mcas.Config{Name: "contoso", URL: srv.URL, Token: "read-only-SECRET", RequestsPerMinute: -1}, srv.Client(), nil)
	if _, err := c.Alert(context.Background(), a.ID); err != nil {
		t.Fatalf("read-only token cannot read: %v", err)
	}
	_, err := c.Close(context.Background(), mcas.TruePositive, []string{a.ID}, mcas.NoReason, "")
	if httpx.KindOf(err) != httpx.KindForbidden || strings.Contains(err.Error(), "read-only-SECRET") {
		t.Fatalf("err = %v", err)
	}
	if got, _ := srv.Alert(a.ID); got.ResolutionStatusValue != 0 {
		t.Fatal("a read-only token closed the alert")
	}
}

func TestAlertDecodesResolutionFields(t *testing.T) {
	srv, c, _ := setup(t)
	srv.Fail(mcasfake.Fault{Status: 200, Body: `{"_id":"abc","timestamp":1763640000000,"title":"t","resolutionStatusValue":4,"statusValue":2,
		"handledByUser":"dave@contoso.com","resolveTime":"2026-11-20T10:01:02.345Z","stories":[0,"persistence"],"intent":[{"name":"CREDENTIAL_ACCESS"}]}`})
	a, err := c.Alert(context.Background(), "abc")
	if err != nil {
		t.Fatal(err)
	}
	if a.Resolution != mcas.ResolutionBenign || a.Status != 2 || a.HandledBy != "dave@contoso.com" ||
		!a.ResolveTime.Equal(time.Date(2026, 11, 20, 10, 1, 2, 345e6, time.UTC)) ||
		strings.Join(a.Stories, ",") != "0,persistence" || strings.Join(a.Intent, ",") != "CREDENTIAL_ACCESS" {
		t.Fatalf("decoded %+v", a)
	}
	// An open alert with nulls decodes to zero values.
	srv.Fail(mcasfake.Fault{Status: 200, Body: `{"_id":"abd","timestamp":1763640000000,"resolutionStatusValue":0,"handledByUser":null,"resolveTime":null}`})
	a, err = c.Alert(context.Background(), "abd")
	if err != nil || !a.Open() || a.HandledBy != "" || !a.ResolveTime.IsZero() {
		t.Fatalf("open alert %+v %v", a, err)
	}
}

func TestClassifications(t *testing.T) {
	for _, c := range mcas.Classifications {
		back, ok := mcas.ClassificationOf(c.Resolution())
		if !ok || back != c {
			t.Errorf("%s round trip", c)
		}
	}
	if len(mcas.TruePositive.Reasons()) != 0 || len(mcas.Benign.Reasons()) != 4 || len(mcas.FalsePositive.Reasons()) != 4 {
		t.Fatal("reason sets differ from the documented ones")
	}
	if r, ok := mcas.Benign.Reason("confirmed_with_end_user"); !ok || r.ID != 5 {
		t.Fatal("benign confirmed with end user is reasonId 5")
	}
	if r, ok := mcas.FalsePositive.Reason("not_accurate"); !ok || r.ID != 3 {
		t.Fatal("false positive not accurate is reasonId 3")
	}
	if _, ok := mcas.FalsePositive.Reason("triggered_by_test"); ok {
		t.Fatal("a benign reason was accepted for false positive")
	}
}

// An Entra ID application needs Investigation.manage to close alerts; with
// Investigation.Read alone it reads them and gets 403 on a close.
func TestEntraAppNeedsInvestigationManageToClose(t *testing.T) {
	w := newEntraWorld(t)
	const managerApp, managerSecret = "0b5c1e7a-3f1d-4c59-9a57-5a1f00000002", "Sx8Q~app-SECRET-value-0002"
	w.authority.AddApp(entrafake.App{ClientID: managerApp, Secret: managerSecret, Tenants: []string{dirContoso}, Roles: []string{"Investigation.Read", "Investigation.manage"}})
	srv := w.tenants[dirContoso]
	a := mcasfake.Generate("cont", 1, now, time.Hour, 12)[0]
	srv.AddAlerts(a)

	reader, _ := w.client(t, dirContoso, dirContoso, multiApp, appSecret)
	if _, err := reader.Alert(context.Background(), a.ID); err != nil {
		t.Fatalf("read: %v", err)
	}
	_, err := reader.Close(context.Background(), mcas.TruePositive, []string{a.ID}, mcas.NoReason, "x")
	if httpx.KindOf(err) != httpx.KindForbidden || !strings.Contains(err.Error(), "Investigation.manage") || strings.Contains(err.Error(), appSecret) {
		t.Fatalf("reader closed or wrong error: %v", err)
	}
	manager, _ := w.client(t, dirContoso, dirContoso, managerApp, managerSecret)
	if res, err := manager.Close(context.Background(), mcas.TruePositive, []string{a.ID}, mcas.NoReason, "x"); err != nil || res.Closed != 1 {
		t.Fatalf("manager: %+v %v", res, err)
	}
}
