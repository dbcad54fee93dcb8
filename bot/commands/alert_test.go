package commands_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/store"
)

func TestAlertFoundInOneTenant(t *testing.T) {
	w := newWorld(t, "contoso", "fabrikam")
	a := mcasfake.Generate("contoso", 1, now, time.Hour, 77)[0]
	a.Entities = append(a.Entities, mcasfake.Entity{Type: "ip", ID: "10.20.30.40"})
	w.fakes[0].AddAlerts(a)
	res := w.run(t, "alert "+a.ID).(commands.AlertResult)
	if len(res.Found) != 1 || res.Found[0].ID != a.ID || res.Found[0].Tenant != "contoso" || len(res.Failures) != 0 {
		t.Fatalf("result %+v", res)
	}
	// Both tenants were asked for this one id, with GET.
	for _, f := range w.fakes {
		reqs := f.Requests()
		if len(reqs) != 1 || reqs[0].Method != "GET" || reqs[0].Path != "/api/v1/alerts/"+a.ID+"/" {
			t.Fatalf("requests %+v", reqs)
		}
	}
	// Each IP has a verdict or says why not.
	pub := a.Entities[1].ID.(string)
	if _, ok := res.Reputation[pub]; !ok && res.RepNotes[pub] == "" {
		t.Fatalf("no verdict for %s: %+v %+v", pub, res.Reputation, res.RepNotes)
	}
	if !strings.Contains(res.RepNotes["10.20.30.40"], "not sent to AbuseIPDB") {
		t.Fatalf("private IP note %q", res.RepNotes["10.20.30.40"])
	}
}

func TestAlertFoundInSeveralOrNone(t *testing.T) {
	w := newWorld(t, "contoso", "fabrikam")
	for _, f := range w.fakes {
		f.AddAlerts(mcasfake.Hostile("x", now))
	}
	res := w.run(t, "alert 6660000000000000000000ff").(commands.AlertResult)
	if len(res.Found) != 2 || res.Found[0].Tenant != "contoso" || res.Found[1].Tenant != "fabrikam" || res.Reputation != nil {
		t.Fatalf("found %+v", res.Found)
	}
	// tenant= narrows it to one, and asks only that tenant.
	for _, f := range w.fakes {
		f.ResetRequests()
	}
	res = w.run(t, "alert 6660000000000000000000ff tenant=fabrikam").(commands.AlertResult)
	if len(res.Found) != 1 || res.Found[0].Tenant != "fabrikam" || len(w.fakes[0].Requests()) != 0 {
		t.Fatalf("tenant=: %+v", res.Found)
	}
	res = w.run(t, "alert deadbeef").(commands.AlertResult)
	if len(res.Found) != 0 || len(res.Failures) != 0 || commands.Failed(res) {
		t.Fatalf("unknown id is not an error: %+v", res)
	}
}

func TestAlertTenantFailureIsReported(t *testing.T) {
	w := newWorld(t, "contoso", "fabrikam")
	w.fakes[1].Fail(mcasfake.Fault{Status: 401})
	res := w.run(t, "alert deadbeef").(commands.AlertResult)
	if len(res.Found) != 0 || len(res.Failures) != 1 || res.Failures[0].Tenant != "fabrikam" || !commands.Failed(res) {
		t.Fatalf("result %+v", res)
	}
}

func TestMalformedAlertIDIsRefusedWithoutCalls(t *testing.T) {
	w := newWorld(t, "contoso")
	for _, text := range []string{"alert", "alert ../../etc/passwd", "alert a/b", "alert " + strings.Repeat("f", 65), "alert <!channel>", "alert abc def", "alert abc limit=5"} {
		_, err := w.runner.Parse(text)
		var ue *commands.UsageError
		if !errors.As(err, &ue) || ue.Def == nil || ue.Def.Name != "alert" {
			t.Errorf("%q: %v", text, err)
		}
	}
	if len(w.fakes[0].Requests()) != 0 {
		t.Fatal("a malformed id reached MCAS")
	}
}

func TestAlertAcceptsAPortalLink(t *testing.T) {
	w := newWorld(t, "contoso", "fabrikam")
	req, err := w.runner.Parse("alert <https://fabrikam.eu2.portal.cloudappsecurity.com/#/alerts/65a1b2c3d4e5f60718293a4b>")
	if err != nil {
		t.Fatal(err)
	}
	if r := req.(commands.AlertRequest); r.ID != "65a1b2c3d4e5f60718293a4b" || r.Tenant != "fabrikam" {
		t.Fatalf("request %+v", r)
	}
}

type records struct {
	issue store.IssueRecord
	close store.CloseRecord
}

func (r records) Issue(context.Context, string, string) (store.IssueRecord, bool, error) {
	return r.issue, r.issue.Key != "", nil
}

func (r records) AlertClose(context.Context, string, string) (store.CloseRecord, bool, error) {
	return r.close, r.close.State != "", nil
}

func TestAlertCarriesTheBotsRecords(t *testing.T) {
	w := newWorld(t, "contoso")
	a := mcasfake.Generate("contoso", 1, now, time.Hour, 78)[0]
	w.fakes[0].AddAlerts(a)
	w.runner.Records = records{
		issue: store.IssueRecord{State: store.IssueCreated, Key: "SEC-7", URL: "https://jira.example/browse/SEC-7", By: "U0LEAD"},
		close: store.CloseRecord{State: store.CloseDone, By: "U0DAVE", Classification: "false_positive", Reason: "not_accurate"},
	}
	res := w.run(t, "alert "+a.ID).(commands.AlertResult)
	if res.Issue == nil || res.Issue.Key != "SEC-7" || res.Close == nil || res.Close.By != "U0DAVE" {
		t.Fatalf("records %+v %+v", res.Issue, res.Close)
	}
	// A pending claim is not shown as closed.
	w.runner.Records = records{close: store.CloseRecord{State: store.ClosePending, By: "U0DAVE"}}
	if res := w.run(t, "alert "+a.ID).(commands.AlertResult); res.Close != nil || res.Issue != nil {
		t.Fatalf("pending shown: %+v", res.Close)
	}
}

// By the reply deadline, a slow tenant is named as pending; the whole
// answer follows.
func TestAlertAnswersByTheDeadline(t *testing.T) {
	w := newWorld(t, "contoso", "fabrikam")
	a := mcasfake.Generate("contoso", 1, now, time.Hour, 79)[0]
	w.fakes[0].AddAlerts(a)
	// Far apart, so that contoso has answered by the deadline on a loaded
	// machine too; fabrikam's client waits for its slow answer.
	w.fakes[1].SetLatency(2 * time.Second)
	slow, err := mcas.New(mcas.Config{Name: "fabrikam", URL: w.fakes[1].URL, Token: "token-fabrikam", Timeout: 10 * time.Second, RequestsPerMinute: -1, Attempts: 1}, w.fakes[1].Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	w.runner.Tenants.Put(slow)
	req, _ := w.runner.Parse("alert " + a.ID)
	var interim []commands.Result
	res := w.runner.Start(context.Background(), req).Await(time.Now().Add(700*time.Millisecond), func(r commands.Result, _ commands.Interim) {
		interim = append(interim, r)
	})
	if len(interim) != 1 {
		t.Fatalf("%d interim answers", len(interim))
	}
	part := interim[0].(commands.AlertResult)
	if len(part.Pending) != 1 || part.Pending[0].Tenant != "fabrikam" || len(part.Found) != 1 || part.Reputation != nil {
		t.Fatalf("interim %+v", part)
	}
	final := res.(commands.AlertResult)
	if len(final.Pending) != 0 || len(final.Failures) != 0 || len(final.Found) != 1 || final.Reputation == nil && final.RepNotes == nil {
		t.Fatalf("final %+v", final)
	}
}
