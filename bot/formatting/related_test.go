package formatting_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/correlation"
	"github.com/soc/mcasbot/grouping"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/source"
)

// torRepeat is one of bob's seven Tor alerts.
func torRepeat(i int) source.Alert {
	ip := []string{"185.220.101.4", "185.220.102.8"}[i%2]
	return source.Alert{
		ID: fmt.Sprintf("7e00000000000000000000%02x", i), Tenant: "contoso", Time: now.Add(-time.Duration(i)*50*time.Minute - 3*time.Hour),
		Title: "Activity from a Tor IP address", Severity: source.SeverityHigh,
		URL: fmt.Sprintf("https://contoso.portal.cloudappsecurity.com/#/alerts/7e%02x", i),
		Entities: []source.Entity{
			{Type: "account", UPN: "bob.smith@contoso.com"}, {Type: "ip", ID: ip},
			{Type: "policyRule", Label: "Activity from anonymous IP addresses"},
		},
	}
}

func groupedInput() (formatting.DigestInput, []source.Alert) {
	var group []source.Alert
	for i := range 7 {
		group = append(group, torRepeat(i))
	}
	as := append(append([]source.Alert{}, group...), alerts(3)...)
	formatting.SortForDigest(as)
	var ids []string
	for _, a := range as {
		if a.Tenant == "contoso" && strings.HasPrefix(a.ID, "7e") {
			ids = append(ids, a.ID)
		}
	}
	lead := formatting.AlertKeyOf("contoso", ids[0])
	in := formatting.DigestInput{
		Alerts:     as,
		Reputation: map[string]abuseipdb.Report{"185.220.101.4": {Score: 100, Tor: true}, "185.220.102.8": {Score: 100, Tor: true}},
		Groups: []formatting.DigestGroup{{Tenant: "contoso", Policy: "Activity from anonymous IP addresses", By: "account",
			Value: "bob.smith@contoso.com", Signature: "sig", IDs: ids}},
		Related: map[string][]correlation.Match{lead: {
			{Kind: correlation.IP, Value: "185.220.101.4", From: "contoso", Tenant: "fabrikam", Query: "185.220.101.4", Alerts: 3, High: 2, Newest: now.Add(-2 * time.Hour)},
			{Kind: correlation.Account, Value: "bob.smith@contoso.com", From: "contoso", Tenant: "fabrikam",
				Query: "bob.smith_contoso.com#EXT#@fabrikam.onmicrosoft.com", Alerts: 1, Newest: now.Add(-5 * time.Hour)},
		}},
		CrossTenant: []correlation.Shared{
			{Kind: correlation.IP, Value: "185.220.101.4", Tenants: []correlation.TenantCount{{Tenant: "contoso", Alerts: 9}, {Tenant: "fabrikam", Alerts: 2}}},
			{Kind: correlation.Account, Value: "bob.smith@contoso.com", Tenants: []correlation.TenantCount{{Tenant: "contoso", Alerts: 7}, {Tenant: "fabrikam", Alerts: 1}}},
		},
	}
	return in, group
}

func TestGoldenDigestGroupAndRelated(t *testing.T) {
	in, group := groupedInput()
	chunks := formatting.Digest(in)
	if len(chunks) != 1 {
		t.Fatalf("%d chunks", len(chunks))
	}
	c := chunks[0]
	js, _ := json.MarshalIndent(c.Msg, "", "  ")
	golden(t, "digest_grouped.golden.json", append(js, '\n'))
	assertNoLiveMarkup(t, js)
	if err := formatting.Check(c.Msg); err != nil {
		t.Fatal(err)
	}
	// Every alert is carried (and so recorded as posted), seven in one entry.
	if len(c.Alerts) != 10 || len(c.View.Alerts) != 10 {
		t.Fatalf("%d alerts carried", len(c.Alerts))
	}
	buttons := formatting.ButtonsOf(c.Msg.Blocks.BlockSet)
	if len(buttons) != 4 {
		t.Fatalf("%d Create Jira buttons for 1 group and 3 alerts", len(buttons))
	}
	groups := 0
	for _, v := range buttons {
		if v.Group {
			groups++
			if v.Tenant != "contoso" || v.AlertID != group[0].ID {
				t.Fatalf("group button %+v", v)
			}
		}
	}
	text := string(js)
	for _, want := range []string{
		"🔴 high ×7 *Activity from a Tor IP address* — bob.smith@contoso.com, first 01:30, last 06:30 UTC",
		"policy: Activity from anonymous IP addresses",
		"IP: 185.220.101.4 (AbuseIPDB 100%, Tor) · IP: 185.220.102.8 (AbuseIPDB 100%, Tor)",
		"Create Jira for all 7",
		// The correlation line, its counts, the time every reader sees
		// relative to now, and the command to run there.
		":link: *185.220.101.4* also seen in *fabrikam*: 3 alerts (2 high), newest \\u003c!date^" + fmt.Sprint(now.Add(-2*time.Hour).Unix()) + "^{ago}|2026-11-24 07:30 UTC\\u003e · `/mcas ip 185.220.101.4 tenant=fabrikam`",
		"`/mcas user bob.smith_contoso.com#EXT#@fabrikam.onmicrosoft.com tenant=fabrikam`",
		":link: *Cross-tenant* — seen in more than one tenant in this run:\\n• IP *185.220.101.4*: contoso 9 · fabrikam 2\\n• Account *bob.smith@contoso.com*: contoso 7 · fabrikam 1",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("digest lacks %s", want)
		}
	}
	if groups != 1 || strings.Count(text, "Activity from a Tor IP address") != 1 {
		t.Fatal("the seven repeats are not one entry")
	}

	// The view survives the store's JSON and draws the same message.
	raw, _ := json.Marshal(c.View)
	var v formatting.DigestView
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	again, _ := json.MarshalIndent(formatting.RenderDigest(v, nil, ""), "", "  ")
	if string(again) != string(js) {
		t.Fatal("the stored view draws another message")
	}
	if g, members, ok := formatting.GroupOf(v, "contoso", group[3].ID); !ok || len(members) != 7 || g.Signature != "sig" {
		t.Fatalf("GroupOf: %+v %d %v", g, len(members), ok)
	}
	if _, _, ok := formatting.GroupOf(v, "contoso", alerts(1)[0].ID); ok {
		t.Fatal("a single alert is in a group")
	}
}

func TestGroupDrawsItsAlertsStates(t *testing.T) {
	in, group := groupedInput()
	v := formatting.Digest(in)[0].View
	filed := func(n int, key string) map[string]formatting.AlertState {
		st := map[string]formatting.AlertState{}
		for _, a := range group[:n] {
			st[formatting.AlertKeyOf(a.Tenant, a.ID)] = formatting.AlertState{Filed: &formatting.Filed{Key: key, URL: "https://jira.example/browse/" + key, By: "U0LEAD"}}
		}
		return st
	}
	// Some filed: the button stays, the card says which.
	msg := formatting.RenderDigest(v, filed(3, "SEC-5"), "v1")
	js, _ := json.Marshal(msg)
	if !strings.Contains(string(js), "3 of 7 already filed as \\u003chttps://jira.example/browse/SEC-5|SEC-5\\u003e") {
		t.Fatalf("partly filed group: %s", js)
	}
	if b := formatting.ButtonsOf(msg.Blocks.BlockSet); len(b) != 4 {
		t.Fatal("a partly filed group lost its button")
	}
	// All filed: the issue replaces the buttons.
	msg = formatting.RenderDigest(v, filed(7, "SEC-1"), "v2")
	js, _ = json.Marshal(msg)
	if !strings.Contains(string(js), "SEC-1\\u003e filed by \\u003c@U0LEAD\\u003e · all 7 alerts") {
		t.Fatalf("filed group: %s", js)
	}
	if b := formatting.ButtonsOf(msg.Blocks.BlockSet); len(b) != 3 {
		t.Fatalf("%d buttons after the group was filed", len(b))
	}
	if err := formatting.Check(msg); err != nil {
		t.Fatal(err)
	}
}

// Correlation lines make cards longer: messages carry fewer entries, never
// more than Slack takes, and no alert is lost.
func TestRelatedLinesKeepDigestWithinLimits(t *testing.T) {
	as := alerts(300)
	formatting.SortForDigest(as)
	related := map[string][]correlation.Match{}
	for _, a := range as {
		for i := range 5 {
			related[formatting.AlertKeyOf(a.Tenant, a.ID)] = append(related[formatting.AlertKeyOf(a.Tenant, a.ID)], correlation.Match{
				Kind: correlation.Account, Value: strings.Repeat("long.user.name", 5) + "@contoso.com", Tenant: fmt.Sprintf("tenant-with-a-long-name-%d", i),
				Query: strings.Repeat("guest", 12) + "#EXT#@x.onmicrosoft.com", Alerts: 12, High: 3, Newest: now})
		}
	}
	chunks := formatting.Digest(formatting.DigestInput{Alerts: as, Related: related})
	total := 0
	for i, c := range chunks {
		if err := formatting.Check(c.Msg); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		// Room is left for what a redraw adds.
		if size, _ := formatting.Measure(c.Msg); size.Chars > 9500 {
			t.Fatalf("chunk %d has %d characters", i, size.Chars)
		}
		total += len(c.Alerts)
	}
	if total != 300 || len(chunks) <= 1+300/20 {
		t.Fatalf("%d alerts in %d chunks", total, len(chunks))
	}
}

func TestRelatedCommandsParse(t *testing.T) {
	p := commands.Parser{Tenants: []string{"contoso", "fabrikam"}}
	msg := formatting.Reply(relatedAlerts())
	js, _ := json.Marshal(msg)
	n := 0
	for _, part := range strings.Split(string(js), "`")[1:] {
		if !strings.HasPrefix(part, "/mcas ") {
			continue
		}
		n++
		if _, err := p.Parse(strings.TrimPrefix(part, "/mcas ")); err != nil {
			t.Errorf("offered %q, which does not parse: %v", part, err)
		}
	}
	if n != 2 {
		t.Fatalf("%d commands offered: %s", n, js)
	}
	// A value no command can take is shown without one.
	hostile := relatedAlerts()
	hostile.Related.Matches[0].Query = "bob smith`<!here>"
	js, _ = json.Marshal(formatting.Reply(hostile))
	if strings.Contains(string(js), "/mcas ip") || strings.Contains(string(js), "<!here>") {
		t.Fatalf("hostile value offered as a command: %s", js)
	}
}

func relatedAlerts() commands.AlertsResult {
	return commands.AlertsResult{Title: "Alerts for bob.smith@contoso.com", Filters: filters, Tenants: []string{"contoso"},
		Alerts: []source.Alert{torRepeat(0), torRepeat(1)},
		Related: &commands.Related{Window: 7 * 24 * time.Hour, Matches: []correlation.Match{
			{Kind: correlation.IP, Value: "185.220.101.4", From: "contoso", Tenant: "fabrikam", Query: "185.220.101.4", Alerts: 3, High: 2, Newest: now.Add(-2 * time.Hour)},
			{Kind: correlation.Account, Value: "bob.smith@contoso.com", From: "contoso", Tenant: "fabrikam",
				Query: "bob.smith_contoso.com#EXT#@fabrikam.onmicrosoft.com", Alerts: 1, Newest: now.Add(-5 * time.Hour)},
		}}}
}

func TestGoldenRepliesWithRelated(t *testing.T) {
	ipRes := commands.IPResult{Addr: netip.MustParseAddr("185.220.101.4"), Tenants: []string{"contoso"},
		Filters:    []commands.Filter{{Key: "ip", Value: "185.220.101.4"}, {Key: "tenant", Value: "contoso"}},
		Activities: []source.Activity{{ID: "1", Tenant: "contoso", Time: now.Add(-time.Minute), App: "Microsoft Exchange Online", Description: "Log on", IP: "185.220.101.4", User: "dave@contoso.com"}},
		RepNote:    "AbuseIPDB is not configured",
		Related: &commands.Related{Window: 7 * 24 * time.Hour, Matches: []correlation.Match{
			{Kind: correlation.IP, Value: "185.220.101.4", Tenant: "contoso", Query: "185.220.101.4", Alerts: 8, High: 8, Newest: now.Add(-3 * time.Hour)},
			{Kind: correlation.IP, Value: "185.220.101.4", Tenant: "fabrikam", Query: "185.220.101.4", Alerts: 2, High: 1, Newest: now.Add(-2 * time.Hour)},
		}}}
	for name, res := range map[string]commands.Result{"alerts_related": relatedAlerts(), "ip_related": ipRes} {
		msg := formatting.Reply(res)
		if err := formatting.Check(msg); err != nil {
			t.Fatal(err)
		}
		js, _ := json.MarshalIndent(msg, "", "  ")
		golden(t, name+".golden.json", append(js, '\n'))
		assertNoLiveMarkup(t, js)
	}
	// Under the alerts table: the Details menu, then the related block.
	msg := formatting.Reply(relatedAlerts())
	att := msg.Attachments[0].Blocks.BlockSet
	if len(att) != 3 || att[0].BlockType() != slack.MBTTable || att[1].ID() != "details" || att[2].ID() != "related" {
		t.Fatalf("attachment blocks %v", att)
	}
	js, _ := json.Marshal(msg)
	if !strings.Contains(string(js), "*185.220.101.4* (contoso) also seen in *fabrikam*: 3 alerts (2 high)") {
		t.Fatalf("%s", js)
	}
	// For an address: the tenants with its alerts; a command for the one not queried.
	js, _ = json.Marshal(formatting.Reply(ipRes))
	for _, want := range []string{"*Seen in 2 tenants* (alerts of the last 7 d)", "• *contoso*: 8 alerts (8 high), newest", "; activity below",
		"• *fabrikam*: 2 alerts (1 high), newest", "`/mcas ip 185.220.101.4 tenant=fabrikam`"} {
		if !strings.Contains(string(js), want) {
			t.Errorf("ip reply lacks %q", want)
		}
	}
	if strings.Contains(string(js), "tenant=contoso`") {
		t.Error("offers the command that was just run")
	}
	// Without the store, the reply says so and still shows the table.
	noStore := relatedAlerts()
	noStore.Related = &commands.Related{Note: "related alerts in other tenants are unavailable: the state store did not answer"}
	js, _ = json.Marshal(formatting.Reply(noStore))
	if !strings.Contains(string(js), "the state store did not answer") || !strings.Contains(string(js), `"type":"table"`) {
		t.Fatalf("%s", js)
	}
	plain := formatting.Plain(relatedAlerts())
	if !strings.Contains(plain, "185.220.101.4 (contoso) also seen in fabrikam: 3 alerts (2 high), newest 2026-11-24 07:30 UTC — /mcas ip 185.220.101.4 tenant=fabrikam") {
		t.Fatalf("plain: %s", plain)
	}
}

// FuzzDigestGroups: groups, related lines and the cross-tenant section made
// of hostile upstream text stay within Slack's limits and ping nobody.
func FuzzDigestGroups(f *testing.F) {
	f.Add("<!channel> Tor", "<@U0ADMIN>", "185.220.101.4", "contoso", "guest_x.com#EXT#@y.onmicrosoft.com", 9)
	f.Add(strings.Repeat("t", 500), strings.Repeat("u", 300)+"@x.com", "2a02:c207::1", strings.Repeat("x", 60), "a`b <https://evil|x>", 60)
	f.Fuzz(func(t *testing.T, title, user, ip, tenant, query string, n int) {
		n = min(max(n, 1), 60)
		var as []source.Alert
		for i := range n {
			as = append(as, source.Alert{ID: fmt.Sprintf("a%d", i), Tenant: []string{tenant, "fabrikam"}[i%2], Title: title, Severity: source.Severity(i % 4),
				Time:     now.Add(-time.Duration(i) * time.Minute),
				Entities: []source.Entity{{Type: "account", UPN: user}, {Type: "ip", ID: ip}, {Type: "policyRule", Label: title}}})
		}
		formatting.SortForDigest(as)
		in := formatting.DigestInput{Alerts: as, Related: map[string][]correlation.Match{}, CrossTenant: correlation.CrossTenant(as)}
		for _, g := range grouping.Collapse(as, 3) {
			dg := formatting.DigestGroup{Tenant: g.Tenant, Policy: g.Policy, By: string(g.By), Value: g.Value, Signature: g.Signature}
			for _, a := range g.Alerts {
				dg.IDs = append(dg.IDs, a.ID)
			}
			in.Groups = append(in.Groups, dg)
		}
		for _, a := range as {
			in.Related[formatting.AlertKeyOf(a.Tenant, a.ID)] = []correlation.Match{
				{Kind: correlation.Account, Value: user, Tenant: tenant, Query: query, Alerts: n, High: n / 2, Newest: now},
				{Kind: correlation.IP, Value: ip, Tenant: "fabrikam", Query: ip, Alerts: 1, Newest: now},
			}
		}
		total := 0
		for _, c := range formatting.Digest(in) {
			if err := formatting.Check(c.Msg); err != nil {
				t.Fatalf("limit broken: %v", err)
			}
			js, _ := json.Marshal(c.Msg)
			assertNoLiveMarkup(t, js)
			total += len(c.Alerts)
		}
		if total != n {
			t.Fatalf("%d of %d alerts carried", total, n)
		}
	})
}
