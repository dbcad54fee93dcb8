package defender_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/defender"
	"github.com/soc/mcasbot/integrations/defender/defenderfake"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
)

func TestIPActivitiesComeFromAdvancedHunting(t *testing.T) {
	for _, upper := range []bool{false, true} {
		w := newWorld(t)
		w.graph.CapitalizedSchema(upper)
		events := defenderfake.Events("contoso", 300, now, 10*24*time.Hour, 1)
		w.contoso.AddEvents(events...)
		c, _, _ := w.client(t, fullApp, dirContoso, nil)
		res, err := c.Activities(context.Background(), source.ActivityQuery{IP: mcasfake.TorIP, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		q := w.graph.HuntingQueries()
		want := `CloudAppEvents | where Timestamp >= datetime(2026-11-13T12:00:00.000Z) | where IPAddress =~ "185.220.101.4" | project Timestamp, ReportId, ` +
			`Application, ActionType, ObjectName, AccountId, AccountDisplayName, AccountObjectId, IPAddress, CountryCode, City | order by Timestamp desc | take 6`
		if len(q) != 1 || q[0] != want {
			t.Fatalf("KQL %q\nwant %q", q, want)
		}
		var body map[string]string
		_ = json.Unmarshal(w.graph.Requests()[0].Body, &body)
		if body["Timespan"] != "P7D" || w.graph.Requests()[0].Path != "/v1.0/security/runHuntingQuery" {
			t.Fatalf("body %v", body)
		}
		var inWeek []defenderfake.Event
		for _, e := range events {
			if e.IPAddress == mcasfake.TorIP && !e.Timestamp.Before(now.Add(-7*24*time.Hour)) {
				inWeek = append(inWeek, e)
			}
		}
		if len(res.Activities) != 5 || !res.More || len(inWeek) <= 5 {
			t.Fatalf("%d activities, more %v (%d in the week)", len(res.Activities), res.More, len(inWeek))
		}
		for i, a := range res.Activities {
			if a.IP != mcasfake.TorIP || a.Tenant != "contoso" || a.App == "" || a.Description == "" || !strings.Contains(a.User, "@contoso.com") ||
				a.Country == "" || a.ID == "" || (i > 0 && a.Time.After(res.Activities[i-1].Time)) {
				t.Fatalf("activity %d: %+v", i, a)
			}
		}
		if !res.Activities[0].Time.Equal(newest(inWeek)) {
			t.Errorf("first %s, newest %s", res.Activities[0].Time, newest(inWeek))
		}
	}
}

func newest(es []defenderfake.Event) time.Time {
	var t time.Time
	for _, e := range es {
		if e.Timestamp.After(t) {
			t = e.Timestamp
		}
	}
	return t
}

func TestHuntingWindowIsASetting(t *testing.T) {
	w := newWorld(t)
	c, _, _ := w.client(t, fullApp, dirContoso, func(cfg *defender.Config) { cfg.HuntingWindow = 90 * 24 * time.Hour })
	if _, err := c.Activities(context.Background(), source.ActivityQuery{User: "bob.smith_contoso.com#EXT#@fabrikam.onmicrosoft.com", Limit: 3}); err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	_ = json.Unmarshal(w.graph.Requests()[0].Body, &body)
	// Advanced hunting keeps 30 days: a longer window is cut to it.
	if body["Timespan"] != "P30D" || !strings.Contains(body["Query"], `AccountId =~ "bob.smith_contoso.com#EXT#@fabrikam.onmicrosoft.com"`) ||
		!strings.Contains(body["Query"], "datetime(2026-10-21T12:00:00.000Z)") {
		t.Fatalf("%v", body)
	}
}

func TestHostileInputNeverReachesAHuntingQuery(t *testing.T) {
	w := newWorld(t)
	c, _, _ := w.client(t, fullApp, dirContoso, nil)
	for _, q := range []source.ActivityQuery{
		{IP: `1.2.3.4" | take 1000000 //`}, {IP: "fe80::1%eth0"}, {User: `a" or 1==1 | //`}, {User: "alice@contoso.com\n| union *"},
		{IP: "1.2.3.4", User: "a@b.c"}, {},
	} {
		if _, err := c.Activities(context.Background(), q); httpx.KindOf(err) != httpx.KindBadRequest {
			t.Errorf("%+v: %v", q, err)
		}
	}
	if n := len(w.graph.Requests()); n != 0 {
		t.Fatalf("%d requests reached Graph", n)
	}
	// An apostrophe or a backslash a user name may hold is escaped, not refused.
	if _, err := c.Activities(context.Background(), source.ActivityQuery{User: `o'brien\x@contoso.com`}); err != nil {
		t.Fatal(err)
	}
	if q := w.graph.HuntingQueries()[0]; !strings.Contains(q, `AccountId =~ "o'brien\\x@contoso.com"`) {
		t.Fatalf("%s", q)
	}
}

func TestAHuntingRowWithoutATimeIsAMalformedAnswer(t *testing.T) {
	w := newWorld(t)
	c, _, _ := w.client(t, fullApp, dirContoso, nil)
	w.graph.Fail(defenderfake.Fault{Status: 200, Body: `{"schema":[{"name":"IPAddress","type":"String"}],"results":[{"IPAddress":"1.2.3.4"}]}`})
	if _, err := c.Activities(context.Background(), source.ActivityQuery{IP: "1.2.3.4"}); httpx.KindOf(err) != httpx.KindBadResponse {
		t.Fatalf("%v", err)
	}
}
