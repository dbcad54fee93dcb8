package formatting_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

func fullAlert() source.Alert {
	return source.Alert{
		ID: "65a1b2c3d4e5f60718293a4b", Tenant: "contoso", Time: now.Add(-3 * time.Hour), Severity: source.SeverityHigh,
		Title:       "Activity from a Tor IP address",
		Description: `<p>bob.smith@contoso.com performed an activity from the Tor exit node 185.220.101.4.</p>__siteIcon__`,
		URL:         "https://contoso.portal.cloudappsecurity.com/#/alerts/65a1b2c3d4e5f60718293a4b",
		ThreatScore: 87, Status: 1,
		Entities: []source.Entity{
			{Type: "account", UPN: "bob.smith@contoso.com", Label: "Bob Smith"},
			{Type: "ip", ID: "185.220.101.4"},
			{Type: "ip", ID: "10.20.30.40"},
			{Type: "country", ID: "RU"},
			{Type: "service", ID: "20893", Label: "Microsoft Exchange Online"},
			{Type: "policyRule", Label: "Activity from anonymous IP addresses", PolicyType: "ANOMALY_DETECTION"},
			{Type: "device", Label: "LAPTOP-7Q2"},
			{Type: "file", Label: "report-Q3.xlsx"},
			{Type: "groupTag", Label: "Executives"},
		},
		Evidence: []string{"Sign-in from Moscow", "<b>3</b> failed sign-ins before"},
		Stories:  []string{"anonymous access"},
		Intent:   []string{"INITIAL_ACCESS"},
	}
}

func alertResult() commands.AlertResult {
	return commands.AlertResult{
		ID: "65a1b2c3d4e5f60718293a4b", Tenants: []string{"contoso", "fabrikam"}, Found: []source.Alert{fullAlert()},
		Reputation: map[string]abuseipdb.Report{"185.220.101.4": {Score: 100, Tor: true, Reports: 3120, ISP: "Zwiebelfreunde e.V.", Country: "DE"}},
		RepNotes:   map[string]string{"10.20.30.40": "private or reserved address: not sent to AbuseIPDB"},
		Issue:      &store.IssueRecord{State: store.IssueCreated, Key: "SEC-12", URL: "https://jira.example/browse/SEC-12", By: "U0LEAD"},
	}
}

func hostileClosed() commands.AlertResult {
	h := hostile()
	h.Tenant = "contoso"
	h.Resolution, h.HandledBy, h.ResolveTime = source.ResolutionResolved, "<!here> mallory@evil.example", now.Add(-time.Hour)
	h.Evidence = []string{`<a href="https://evil.example">[click|https://evil.example]</a> <@U0ADMIN>`}
	return commands.AlertResult{ID: h.ID, Tenants: []string{"contoso"}, Found: []source.Alert{h}}
}

func alertCases() map[string]commands.AlertResult {
	closedFromSlack := alertResult()
	closedFromSlack.Close = &store.CloseRecord{State: store.CloseDone, By: "U0CAROL", ByName: "carol", Classification: "benign",
		Reason: "confirmed_with_end_user", Comment: "Called Bob: he is on holiday & uses <Tor>.\nAll fine.", ClosedAt: now}
	closedFromSlack.Found[0].Resolution, closedFromSlack.Found[0].ResolveTime = source.ResolutionBenign, now
	// Closed from Slack, then reopened in the portal (issue #16): the
	// alert reads open, whatever the bot recorded.
	reopened := alertResult()
	reopened.Close = &store.CloseRecord{State: store.CloseDone, By: "U0CAROL", ByName: "carol", Classification: "benign",
		Reason: "confirmed_with_end_user", Comment: "Called Bob.", ClosedAt: now.Add(-time.Hour)}
	several := alertResult()
	other := fullAlert()
	other.Tenant, other.Title = "fabrikam", "Leaked credentials"
	several.Found = append(several.Found, other)
	return map[string]commands.AlertResult{
		"card":               alertResult(),
		"card_closed":        closedFromSlack,
		"card_reopened":      reopened,
		"card_hostile":       hostileClosed(),
		"alert_several":      several,
		"alert_none":         {ID: "deadbeef", Tenants: []string{"contoso", "fabrikam"}, Failures: []commands.Failure{{Tenant: "fabrikam", Err: upstreamErr("throttled", 429, "")}}},
		"alert_none_at_all":  {ID: "deadbeef", Tenants: []string{"contoso", "fabrikam"}},
		"alert_pending":      {ID: "deadbeef", Tenants: []string{"contoso", "fabrikam"}, Found: []source.Alert{fullAlert()}, Pending: []commands.Pending{{Tenant: "fabrikam", After: 8 * time.Second}}},
		"alert_every_failed": {ID: "deadbeef", Tenants: []string{"contoso"}, Failures: []commands.Failure{{Tenant: "contoso", Err: upstreamErr("authentication failed", 401, "Invalid token")}}},
	}
}

func TestGoldenCard(t *testing.T) {
	for name, res := range alertCases() {
		t.Run(name, func(t *testing.T) {
			msg := formatting.Reply(res)
			if err := formatting.Check(msg); err != nil {
				t.Fatalf("breaks a Slack limit: %v", err)
			}
			js, _ := json.MarshalIndent(msg, "", "  ")
			golden(t, name+".golden.json", append(js, '\n'))
			assertOwnMarkup(t, js)
			golden(t, name+".golden.txt", []byte(formatting.Plain(res)))
		})
	}
}

func TestCardShowsWhatTheAnalystNeeds(t *testing.T) {
	js, _ := json.Marshal(formatting.Reply(alertResult()))
	s := string(js)
	for _, want := range []string{
		"Activity from a Tor IP address", "*Open*", "*Users:* bob.smith@contoso.com", "`185.220.101.4` AbuseIPDB 100% (high risk) · Tor exit node",
		"`10.20.30.40` (private or reserved address: not sent to AbuseIPDB)", "*Countries:* RU", "*Apps:* Microsoft Exchange Online",
		"*Devices:* LAPTOP-7Q2", "*Files:* report-Q3.xlsx", "*Other:* groupTag: Executives", "Activity from anonymous IP addresses",
		"• Sign-in from Moscow", "• 3 failed sign-ins before", "SEC-12", "Stories: anonymous access", "Intent: INITIAL_ACCESS",
		`"action_id":"alert_close:contoso:65a1b2c3d4e5f60718293a4b"`, "Open in Defender",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("card lacks %q", want)
		}
	}
	// Filed: no Create Jira. Closed: no Close…, and the close is told.
	if strings.Contains(s, `"action_id":"create_jira:`) {
		t.Error("a filed alert offers Create Jira")
	}
	js, _ = json.Marshal(formatting.Reply(alertCases()["card_closed"]))
	s = string(js)
	if strings.Contains(s, "alert_close:") || !strings.Contains(s, `Closed as benign (confirmed with end user) by \u003c@U0CAROL\u003e: \"Called Bob: he is on holiday \u0026amp; uses \u0026lt;Tor\u0026gt;. All fine.\"`) {
		t.Errorf("closed card: %s", s)
	}
	open := alertResult()
	open.Issue = nil
	js, _ = json.Marshal(formatting.Reply(open))
	if !strings.Contains(string(js), `"action_id":"create_jira:contoso:65a1b2c3d4e5f60718293a4b"`) {
		t.Error("an unfiled alert has no Create Jira")
	}
}

func TestClosedText(t *testing.T) {
	cases := []struct {
		c    formatting.Closed
		want string
	}{
		{formatting.Closed{Classification: "benign", Reason: "confirmed_with_end_user", By: "U0CAROL", Comment: "ok"},
			`:white_check_mark: Closed as benign (confirmed with end user) by <@U0CAROL>: "ok"`},
		{formatting.Closed{Classification: "false_positive", Reason: "not_accurate", By: "U0DAVE"},
			`:white_check_mark: Closed as false positive (alert is not accurate) by <@U0DAVE>`},
		{formatting.Closed{Classification: "true_positive", By: "not-an-id", ByName: "<!channel>"},
			`:white_check_mark: Closed as true positive by @&lt;!channel&gt;`},
		{formatting.Closed{Classification: "resolved", Elsewhere: true, HandledBy: "erin@contoso.com", At: now},
			`:white_check_mark: Resolved in Defender by erin@contoso.com on 2026-11-24 09:30 UTC`},
	}
	for _, tc := range cases {
		if got := formatting.ClosedText(tc.c); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

func TestTableOffersDetailsForEachRow(t *testing.T) {
	res := cases()["alerts"].(commands.AlertsResult)
	msg := formatting.Reply(res)
	blocks := msg.Attachments[0].Blocks.BlockSet
	act, ok := blocks[len(blocks)-1].(*slack.ActionBlock)
	if !ok {
		t.Fatalf("no menu under the table: %T", blocks[len(blocks)-1])
	}
	sel := act.Elements.ElementSet[0].(*slack.SelectBlockElement)
	if sel.ActionID != formatting.ActionDetails || len(sel.Options) != len(res.Alerts) {
		t.Fatalf("menu %s with %d options for %d rows", sel.ActionID, len(sel.Options), len(res.Alerts))
	}
	for i, o := range sel.Options {
		v, err := formatting.ParseTriageValue(o.Value)
		if err != nil || v.Op != formatting.OpDetails || v.AlertID != res.Alerts[i].ID || v.Tenant != res.Alerts[i].Tenant || len(o.Value) > 150 || len([]rune(o.Text.Text)) > 75 {
			t.Fatalf("option %d: %+v %v", i, o, err)
		}
	}
	// With 100 long rows the menu still fits: rows are dropped for it.
	many := cases()["alerts_100"].(commands.AlertsResult)
	msg = formatting.Reply(many)
	if err := formatting.Check(msg); err != nil {
		t.Fatal(err)
	}
	size, _ := formatting.Measure(msg)
	blocks = msg.Attachments[0].Blocks.BlockSet
	sel = blocks[len(blocks)-1].(*slack.ActionBlock).Elements.ElementSet[0].(*slack.SelectBlockElement)
	if len(sel.Options) != size.TableRows-1 || size.Chars > 11000 {
		t.Fatalf("%d options for %d rows, %d characters", len(sel.Options), size.TableRows-1, size.Chars)
	}
}

func TestTriageValueRoundTrip(t *testing.T) {
	v := formatting.TriageValue{Op: formatting.OpClose, Tenant: "contoso", AlertID: "65a1", Title: "a | b"}
	back, err := formatting.ParseTriageValue(v.String())
	if err != nil || back != v {
		t.Fatalf("%+v %v", back, err)
	}
	for _, bad := range []string{"", "details|contoso", "drop|contoso|65a1", "details|con toso|65a1", "details|contoso|../x", `{"t":"contoso"}`} {
		if _, err := formatting.ParseTriageValue(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// ownMarkup is the only markup a card may carry: links to the portal and
// Jira, and mentions of the analysts the bot recorded.
var ownMarkup = regexp.MustCompile(`<(?:https://contoso\.portal\.cloudappsecurity\.com/[^|<>\s]*|https://jira\.example/browse/SEC-\d+)\|[^<>]*>|<@U0(?:LEAD|CAROL)>`)

// assertOwnMarkup fails when mrkdwn text holds a <…> the bot did not put
// there itself.
func assertOwnMarkup(t *testing.T, js []byte) {
	t.Helper()
	var doc any
	_ = json.Unmarshal(js, &doc)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "text" && v["type"] == "mrkdwn" && strings.ContainsAny(ownMarkup.ReplaceAllString(s, ""), "<>") {
					t.Errorf("foreign markup in mrkdwn text: %q", s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	var top struct{ Text string }
	_ = json.Unmarshal(js, &top)
	if strings.ContainsAny(top.Text, "<>") {
		t.Errorf("unescaped markup in fallback text %q", top.Text)
	}
}

// FuzzCard: hostile alert text never breaks Slack's limits or adds markup.
func FuzzCard(f *testing.F) {
	h := hostile()
	f.Add(h.Title, h.Description, "<@U0ADMIN>", "<!here>", "evidence <https://evil|x>", 3)
	f.Add(strings.Repeat("x", 5000), strings.Repeat("<p>y</p>", 2000), strings.Repeat("u", 300), "", strings.Repeat("e", 3000), 40)
	f.Fuzz(func(t *testing.T, title, desc, label, handledBy, evidence string, n int) {
		a := fullAlert()
		a.Title, a.Description, a.HandledBy, a.Resolution = title, desc, handledBy, (n%6+6)%6
		for i := range min(max(n, 0), 60) {
			a.Entities = append(a.Entities, source.Entity{Type: []string{"account", "ip", "device", "file", "x<y>"}[i%5], Label: label, ID: label})
			a.Evidence = append(a.Evidence, evidence)
		}
		res := commands.AlertResult{ID: a.ID, Tenants: []string{"contoso"}, Found: []source.Alert{a},
			Close: &store.CloseRecord{State: store.CloseDone, By: label, ByName: label, Classification: title, Reason: desc, Comment: evidence}}
		msg := formatting.Reply(res)
		if err := formatting.Check(msg); err != nil {
			t.Fatalf("limit broken: %v", err)
		}
		js, _ := json.Marshal(msg)
		assertOwnMarkup(t, js)
		_ = formatting.Plain(res)
	})
}
