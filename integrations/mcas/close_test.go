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
	"github.com/soc/mcasbot/source"
)

func TestValidID(t *testing.T) {
	for _, id := range []string{"65a1b2c3d4e5f60718293a4b", "12345", "a", "A_b-9", strings.Repeat("f", 64)} {
		if !source.ValidID(id) {
			t.Errorf("%q refused", id)
		}
	}
	for _, id := range []string{"", strings.Repeat("f", 65), "../../etc", "a/b", "a b", "a?x=1", "é", "a%2F", "<!channel>"} {
		if source.ValidID(id) {
			t.Errorf("%q accepted", id)
		}
	}
}

func TestCloseSendsTheDocumentedBody(t *testing.T) {
	cases := []struct {
		kind     source.Classification
		reason   string
		path     string
		wantBody string
		res      int
	}{
		{source.Benign, "confirmed_with_end_user", "/api/v1/alerts/close_benign/", `{"comment":"by carol","filters":{"id":{"eq":["ID"]}},"reasonId":5,"sendFeedback":false}`, source.ResolutionBenign},
		{source.FalsePositive, "not_of_interest", "/api/v1/alerts/close_false_positive/", `{"comment":"by carol","filters":{"id":{"eq":["ID"]}},"reasonId":0,"sendFeedback":false}`, source.ResolutionFalsePositive},
		{source.TruePositive, "", "/api/v1/alerts/close_true_positive/", `{"comment":"by carol","filters":{"id":{"eq":["ID"]}},"sendFeedback":false}`, source.ResolutionTruePositive},
	}
	for _, tc := range cases {
		t.Run(string(tc.kind), func(t *testing.T) {
			srv, c, _ := setup(t)
			a := mcasfake.Generate("contoso", 1, now, time.Hour, 9)[0]
			srv.AddAlerts(a)
			res, err := c.Close(context.Background(), source.CloseRequest{IDs: []string{a.ID}, Classification: tc.kind, Reason: tc.reason, Comment: "by carol"})
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
			res, err = c.Close(context.Background(), source.CloseRequest{IDs: []string{a.ID}, Classification: tc.kind, Reason: tc.reason, Comment: "again"})
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
	// A reason of another classification never reaches MCAS.
	_, err := c.Close(context.Background(), source.CloseRequest{IDs: []string{a.ID}, Classification: source.Benign, Reason: "not_of_interest"})
	if err == nil || !strings.Contains(err.Error(), `"not_of_interest" is not a reason MCAS takes for benign`) || len(srv.Requests()) != 0 {
		t.Fatalf("bad reason: %v", err)
	}
	// 429 and 5xx are retried.
	srv.Fail(mcasfake.Fault{Status: 429}, mcasfake.Fault{Status: 502})
	res, err := c.Close(context.Background(), source.CloseRequest{IDs: []string{a.ID}, Classification: source.Benign, Reason: "actual_severity_lower"})
	if err != nil || res.Closed != 1 || len(*slept) != 2 {
		t.Fatalf("after 429 and 502: %+v %v (retries %d)", res, err, len(*slept))
	}
	// Malformed ids never reach the URL or body.
	if _, err := c.Close(context.Background(), source.CloseRequest{IDs: []string{"../x"}, Classification: source.Benign, Reason: "actual_severity_lower"}); err == nil {
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
	_, err := c.Close(context.Background(), source.CloseRequest{IDs: []string{a.ID}, Classification: source.TruePositive})
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
	if a.Resolution != source.ResolutionBenign || a.Status != 2 || a.HandledBy != "dave@contoso.com" ||
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
	for _, c := range source.Classifications {
		back, ok := source.ClassificationOf(c.Resolution())
		if !ok || back != c {
			t.Errorf("%s round trip", c)
		}
	}
	// Each reason the form offers for an MCAS tenant is sent as its
	// documented reasonId; true positive takes none.
	want := map[source.Classification]map[string]int{
		source.Benign:        {"actual_severity_lower": 2, "other": 4, "confirmed_with_end_user": 5, "triggered_by_test": 6},
		source.FalsePositive: {"not_of_interest": 0, "too_many_similar_alerts": 1, "not_accurate": 3, "other": 4},
	}
	srv, c, _ := setup(t)
	for _, kind := range source.Classifications {
		reasons := c.Reasons(kind)
		if len(reasons) != len(want[kind]) {
			t.Fatalf("%s offers %d reasons, MCAS documents %d", kind, len(reasons), len(want[kind]))
		}
		for i, r := range reasons {
			a := mcasfake.Generate("contoso", 1, now.Add(time.Duration(i)*time.Minute), time.Hour, uint64(i+20))[0]
			srv.AddAlerts(a)
			if _, err := c.Close(context.Background(), source.CloseRequest{IDs: []string{a.ID}, Classification: kind, Reason: r.Code, Comment: "x"}); err != nil {
				t.Fatal(err)
			}
			reqs := srv.Requests()
			var body struct{ ReasonID *int }
			_ = json.Unmarshal(reqs[len(reqs)-1].Raw, &body)
			if body.ReasonID == nil || *body.ReasonID != want[kind][r.Code] {
				t.Errorf("%s/%s sent reasonId %v, want %d", kind, r.Code, body.ReasonID, want[kind][r.Code])
			}
		}
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
	_, err := reader.Close(context.Background(), source.CloseRequest{IDs: []string{a.ID}, Classification: source.TruePositive, Comment: "x"})
	if httpx.KindOf(err) != httpx.KindForbidden || !strings.Contains(err.Error(), "Investigation.manage") || strings.Contains(err.Error(), appSecret) {
		t.Fatalf("reader closed or wrong error: %v", err)
	}
	manager, _ := w.client(t, dirContoso, dirContoso, managerApp, managerSecret)
	if res, err := manager.Close(context.Background(), source.CloseRequest{IDs: []string{a.ID}, Classification: source.TruePositive, Comment: "x"}); err != nil || res.Closed != 1 {
		t.Fatalf("manager: %+v %v", res, err)
	}
}
