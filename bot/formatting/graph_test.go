package formatting_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

const graphID = "da638700000000000001_-1234567"

// graphAlert is an alert read through Microsoft Graph: Defender XDR's
// state, an incident, evidence decoded into entities.
func graphAlert() source.Alert {
	return source.Alert{
		ID: graphID, Tenant: "northwind", Time: now.Add(-2 * time.Hour), Severity: source.SeverityHigh,
		Title:       "Activity from a Tor IP address",
		Description: `<p>bob.smith@northwind.com performed an activity from the Tor exit node 185.220.101.4.</p>`,
		URL:         "https://security.microsoft.com/alerts/" + graphID + "?tid=3f2d6c1a-9b7e-4d5f-8a61-0c2e4b7d9f13",
		Entities: []source.Entity{
			{Type: "account", ID: "5b1c0c8e-0000-4000-8000-00000000b0b5", UPN: "bob.smith@northwind.com", Label: "bob.smith@northwind.com"},
			{Type: "ip", ID: "185.220.101.4", Label: "185.220.101.4"},
			{Type: "country", ID: "DE", Label: "DE"},
			{Type: "service", ID: "20893", Label: "Microsoft Exchange Online"},
			{Type: "url", Label: "https://evil.example/login"},
		},
		Evidence: []string{"Sign-in session: Edge 126.0 · Windows 11 · OAuth2:Authorize"},
		Intent:   []string{"InitialAccess", "T1078"},
		Graph: &source.GraphState{Status: "inProgress", AssignedTo: "carol@northwind.com", IncidentID: "4711",
			IncidentURL: "https://security.microsoft.com/incidents/4711?tid=3f2d6c1a-9b7e-4d5f-8a61-0c2e4b7d9f13"},
	}
}

func resolvedGraphAlert() source.Alert {
	a := graphAlert()
	a.Resolution, a.ResolveTime, a.HandledBy = source.ResolutionTruePositive, now.Add(-time.Hour), "carol@northwind.com"
	a.Graph.Status, a.Graph.Classification, a.Graph.Determination = "resolved", "truePositive", "compromisedAccount"
	return a
}

func identityAlert() source.Alert {
	a := graphAlert()
	a.ID, a.Title, a.Product, a.Severity = "da638700000000000002_5", "Suspected brute-force attack (LDAP)", "microsoftDefenderForIdentity", source.SeverityLow
	a.Graph = &source.GraphState{Status: "new"}
	return a
}

func hostileGraph() source.Alert {
	a := hostile()
	a.Tenant = "northwind"
	a.Product = "<!channel>weirdProduct"
	a.Resolution = source.ResolutionResolved
	a.Graph = &source.GraphState{Status: "resolved", Classification: "<!here>", Determination: "x<@U0ADMIN>y", AssignedTo: "<https://evil.example|me>",
		IncidentID: "<!everyone>", IncidentURL: "javascript:alert(1)"}
	return a
}

var ownGraphMarkup = regexp.MustCompile(`<https://security\.microsoft\.com/(?:alerts|incidents)/[^|<>\s]*\|[^<>]*>|<https://jira\.example/browse/SEC-\d+\|[^<>]*>|<@U0(?:LEAD|CAROL)>`)

func assertGraphMarkup(t *testing.T, js []byte) { assertGraphMarkupWith(t, js, "") }

// assertGraphMarkupWith also allows links to u.
func assertGraphMarkupWith(t *testing.T, js []byte, u string) {
	t.Helper()
	own := ownGraphMarkup
	if u != "" {
		own = regexp.MustCompile(own.String() + `|<` + regexp.QuoteMeta(u) + `\|[^<>]*>`)
	}
	var doc any
	_ = json.Unmarshal(js, &doc)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "text" && v["type"] == "mrkdwn" && strings.ContainsAny(own.ReplaceAllString(s, ""), "<>") {
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
}

func TestGoldenGraph(t *testing.T) {
	rep := map[string]abuseipdb.Report{"185.220.101.4": {Score: 100, Tor: true, Reports: 3120}}
	filed := &store.IssueRecord{State: store.IssueCreated, Key: "SEC-12", URL: "https://jira.example/browse/SEC-12", By: "U0LEAD"}
	results := map[string]commands.Result{
		"card_graph":          commands.AlertResult{ID: graphID, Tenants: []string{"northwind"}, Found: []source.Alert{graphAlert()}, Reputation: rep, Issue: filed},
		"card_graph_resolved": commands.AlertResult{ID: graphID, Tenants: []string{"northwind"}, Found: []source.Alert{resolvedGraphAlert()}},
		"card_graph_product":  commands.AlertResult{ID: identityAlert().ID, Tenants: []string{"northwind"}, Found: []source.Alert{identityAlert()}},
		"card_graph_hostile":  commands.AlertResult{ID: hostileGraph().ID, Tenants: []string{"northwind"}, Found: []source.Alert{hostileGraph()}},
		"alerts_graph": commands.AlertsResult{Title: "MCAS alerts", Filters: filters, Tenants: []string{"contoso", "northwind"},
			Alerts: []source.Alert{graphAlert(), identityAlert(), alert(3, "contoso")}},
	}
	for name, res := range results {
		t.Run(name, func(t *testing.T) {
			msg := formatting.Reply(res)
			if err := formatting.Check(msg); err != nil {
				t.Fatalf("breaks a Slack limit: %v", err)
			}
			js, _ := json.MarshalIndent(msg, "", "  ")
			golden(t, name+".golden.json", append(js, '\n'))
			assertGraphMarkup(t, js)
			golden(t, name+".golden.txt", []byte(formatting.Plain(res)))
		})
	}
	as := []source.Alert{graphAlert(), identityAlert(), alert(1, "contoso")}
	formatting.SortForDigest(as)
	chunks := formatting.Digest(formatting.DigestInput{Alerts: as})
	js, _ := json.MarshalIndent(chunks[0].Msg, "", "  ")
	golden(t, "digest_graph.golden.json", append(js, '\n'))
	assertNoLiveMarkup(t, js)
}

// Defender XDR's states read in words on the card, null-safe.
func TestGraphStatesInWords(t *testing.T) {
	for _, tc := range []struct {
		g    source.GraphState
		res  int
		want string
	}{
		{source.GraphState{Status: "new"}, source.ResolutionOpen, ":large_green_circle: *New*"},
		{source.GraphState{Status: "new", AssignedTo: "carol@northwind.com"}, source.ResolutionOpen, ":large_green_circle: *New* · assigned to carol@northwind.com"},
		{source.GraphState{Status: "inProgress", AssignedTo: "dave@northwind.com"}, source.ResolutionOpen, ":large_yellow_circle: *In progress* · assigned to dave@northwind.com"},
		{source.GraphState{Status: "resolved", Classification: "truePositive", Determination: "compromisedAccount"}, source.ResolutionTruePositive,
			":white_check_mark: *Resolved*: true positive — compromised account"},
		{source.GraphState{Status: "resolved", Classification: "informationalExpectedActivity", Determination: "lineOfBusinessApplication"}, source.ResolutionBenign,
			":white_check_mark: *Resolved*: informational, expected activity — line-of-business application"},
		{source.GraphState{Status: "resolved", Classification: "falsePositive", Determination: "notEnoughDataToValidate"}, source.ResolutionFalsePositive,
			":white_check_mark: *Resolved*: false positive — not enough data to validate"},
		{source.GraphState{Status: "resolved"}, source.ResolutionResolved, ":white_check_mark: *Resolved*"},
		{source.GraphState{}, source.ResolutionOpen, ":large_green_circle: *New*"},
		{source.GraphState{Status: "resolved", Classification: "somethingNew"}, source.ResolutionResolved, ":white_check_mark: *Resolved*: something new"},
	} {
		a := graphAlert()
		a.Graph, a.Resolution = &tc.g, tc.res
		js, _ := json.Marshal(formatting.Reply(commands.AlertResult{ID: a.ID, Tenants: []string{"northwind"}, Found: []source.Alert{a}}))
		var msg struct {
			Blocks []struct {
				BlockID string `json:"block_id"`
				Text    struct{ Text string }
			}
		}
		_ = json.Unmarshal(js, &msg)
		if msg.Blocks[1].BlockID != "card-status" || msg.Blocks[1].Text.Text != tc.want {
			t.Errorf("%+v: %q, want %q", tc.g, msg.Blocks[1].Text.Text, tc.want)
		}
	}
	// A close from Slack is told as such, whatever Graph's words.
	res := commands.AlertResult{ID: graphID, Tenants: []string{"northwind"}, Found: []source.Alert{resolvedGraphAlert()},
		Close: &store.CloseRecord{State: store.CloseDone, By: "U0CAROL", Classification: "true_positive", Reason: "compromised_account"}}
	if js, _ := json.Marshal(formatting.Reply(res)); !strings.Contains(string(js), `Closed as true positive (compromised account) by \u003c@U0CAROL\u003e`) {
		t.Errorf("%s", js)
	}
}

// The product shows wherever a Graph alert is listed; MCAS alerts show none.
func TestTheProductShowsWhereAlertsAreListed(t *testing.T) {
	js, _ := json.Marshal(formatting.Reply(commands.AlertsResult{Title: "MCAS alerts", Tenants: []string{"northwind"}, Alerts: []source.Alert{identityAlert(), graphAlert()}}))
	if !strings.Contains(string(js), "Defender for Identity · Suspected brute-force attack (LDAP)") || strings.Contains(string(js), "Defender for Cloud Apps ·") {
		t.Errorf("table: %s", js)
	}
	as := []source.Alert{identityAlert()}
	d, _ := json.Marshal(formatting.Digest(formatting.DigestInput{Alerts: as})[0].Msg)
	if !strings.Contains(string(d), "*northwind* · 2026-11-24 07:30 UTC · Defender for Identity") {
		t.Errorf("digest: %s", d)
	}
	if p := formatting.Plain(commands.AlertResult{ID: graphID, Tenants: []string{"northwind"}, Found: []source.Alert{identityAlert()}}); !strings.Contains(p, "Product:     Defender for Identity") {
		t.Errorf("plain: %s", p)
	}
}

// FuzzGraphCard: Graph's enums and links, whatever they hold, never break
// Slack's limits or add markup.
func FuzzGraphCard(f *testing.F) {
	h := hostileGraph()
	f.Add(h.Graph.Status, h.Graph.Classification, h.Graph.Determination, h.Graph.AssignedTo, h.Graph.IncidentID, h.Graph.IncidentURL, h.Product, 2)
	f.Add("resolved", "truePositive", "compromisedAccount", strings.Repeat("a", 400), strings.Repeat("9", 300), "https://security.microsoft.com/incidents/1", "", 5)
	f.Fuzz(func(t *testing.T, status, class, det, assigned, incident, incidentURL, product string, res int) {
		a := graphAlert()
		a.Product, a.Resolution = product, (res%6+6)%6
		a.Graph = &source.GraphState{Status: status, Classification: class, Determination: det, AssignedTo: assigned, IncidentID: incident, IncidentURL: incidentURL}
		r := commands.AlertResult{ID: a.ID, Tenants: []string{"northwind"}, Found: []source.Alert{a}}
		msg := formatting.Reply(r)
		if err := formatting.Check(msg); err != nil {
			t.Fatalf("limit broken: %v", err)
		}
		js, _ := json.Marshal(msg)
		// The incident link is the fuzzer's: allow only a safe URL's link.
		assertGraphMarkupWith(t, js, formatting.SafeURL(incidentURL))
		_ = formatting.Plain(r)
		as := []source.Alert{a}
		for _, c := range formatting.Digest(formatting.DigestInput{Alerts: as}) {
			if err := formatting.Check(c.Msg); err != nil {
				t.Fatalf("digest limit broken: %v", err)
			}
			dj, _ := json.Marshal(c.Msg)
			assertNoLiveMarkup(t, dj)
		}
	})
}

// A Graph tenant's Close… form offers Defender XDR's determinations, a
// true positive's too, and says where the comment goes.
func TestGraphCloseForm(t *testing.T) {
	tg := target()
	tg.Source = source.Graph
	for name, kind := range map[string]source.Classification{"modal_graph": "", "modal_graph_true_positive": source.TruePositive} {
		v := formatting.CloseModal(tg, kind)
		if err := formatting.CheckModal(v); err != nil {
			t.Fatal(err)
		}
		js, _ := json.MarshalIndent(v, "", "  ")
		golden(t, name+".golden.json", append(js, '\n'))
		assertNoLiveMarkup(t, js)
		s := string(js)
		if !strings.Contains(s, "Sent to Microsoft Defender XDR and to the alert's Jira issue.") || !strings.Contains(s, "true_positive/compromised_account") {
			t.Errorf("%s: %s", name, s)
		}
	}
	back, err := formatting.ParseCloseTarget(formatting.CloseModal(tg, "").PrivateMetadata)
	if err != nil || back.Source != source.Graph {
		t.Fatalf("%+v %v", back, err)
	}
}
