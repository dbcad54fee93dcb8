package filing_test

import (
	"strings"
	"testing"

	"github.com/soc/mcasbot/bot/filing"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
	"github.com/soc/mcasbot/source"
)

// An issue of an alert read through Graph carries its link (alertWebUrl),
// its incident, its product and its state in Defender XDR.
func TestAGraphAlertsIssueLinksItsIncident(t *testing.T) {
	a := source.Alert{ID: "da638700000000000001_-1234567", Tenant: "northwind", Time: now, Severity: source.SeverityHigh, Title: "Suspected brute-force attack (LDAP)",
		URL: "https://security.microsoft.com/alerts/da638700000000000001_-1234567?tid=t", Product: "microsoftDefenderForIdentity",
		Entities: []source.Entity{{Type: "account", UPN: "dave@northwind.com"}},
		Graph: &source.GraphState{Status: "inProgress", AssignedTo: "erin@northwind.com", IncidentID: "4711",
			IncidentURL: "https://security.microsoft.com/incidents/4711?tid=t"}}
	m := filing.Mapping{Project: "SEC", IssueType: "Task", Fields: filing.Fields{AlertURL: "customfield_1"}}
	is := m.Build(a, nil, filing.Reports{}, filing.Decision{Priority: "High"}, filing.Filer{ID: "U0LEAD", Name: "lead"}, now)
	if is.Custom["customfield_1"] != a.URL {
		t.Fatalf("alert URL %v", is.Custom["customfield_1"])
	}
	text, live := jirafake.Render(is.Description)
	for _, want := range []string{"Product ¦ Defender for Identity", "Defender XDR status ¦ inProgress, assigned to erin@northwind.com",
		"Incident ¦ [Incident 4711 ¦ https://security.microsoft.com/incidents/4711?tid=t]", "[Open in Microsoft Defender XDR ¦ " + a.URL + "]"} {
		if !strings.Contains(text, want) {
			t.Errorf("issue lacks %q:\n%s", want, text)
		}
	}
	_ = live
	// Hostile values stay text; an unsafe incident link is no link.
	a.Graph = &source.GraphState{Status: "[x|https://evil.example]", IncidentID: "{html}<b>", IncidentURL: "javascript:alert(1)"}
	is = m.Build(a, nil, filing.Reports{}, filing.Decision{Priority: "High"}, filing.Filer{ID: "U0LEAD"}, now)
	text, _ = jirafake.Render(is.Description)
	if strings.Contains(text, "¦ https://evil.example]") || strings.Contains(text, "javascript") || !strings.Contains(text, "Incident ¦ Incident {html}<b>") {
		t.Errorf("hostile values became markup:\n%s", text)
	}
}
