package formatting

import (
	"strings"
	"unicode"

	"github.com/soc/mcasbot/source"
)

// Alerts read through Microsoft Graph (Defender XDR) carry their own
// state, shown in Defender XDR's words, and may come from another
// Defender product than Defender for Cloud Apps. MCAS alerts have neither
// (a.Graph is nil, a.Product empty) and read as before.

// products name Graph's serviceSource values as analysts know them.
var products = map[string]string{
	"microsoftDefenderForCloudApps":  "Defender for Cloud Apps",
	"microsoftDefenderForEndpoint":   "Defender for Endpoint",
	"microsoftDefenderForIdentity":   "Defender for Identity",
	"microsoftDefenderForOffice365":  "Defender for Office 365",
	"microsoft365Defender":           "Defender XDR",
	"azureAdIdentityProtection":      "Entra ID Protection",
	"microsoftAppGovernance":         "App governance",
	"dataLossPrevention":             "Data Loss Prevention",
	"microsoftDefenderForCloud":      "Defender for Cloud",
	"microsoftSentinel":              "Sentinel",
	"microsoftInsiderRiskManagement": "Insider Risk Management",
	"microsoftThreatIntelligence":    "Threat Intelligence",
	"microsoftSecurityForAI":         "Security for AI",
}

// ProductName is the Defender product of an alert, as analysts say it
// ("Defender for Identity"); "" for Defender for Cloud Apps' own alerts.
func ProductName(a source.Alert) string {
	if a.Product == "" {
		return ""
	}
	if p, ok := products[a.Product]; ok {
		return p
	}
	return Cut(Clean(words(a.Product)), 40)
}

// titleWithProduct is the title, after the product when there is one:
// "Defender for Identity · Suspected brute-force attack".
func titleWithProduct(a source.Alert) string {
	if p := ProductName(a); p != "" {
		return p + " · " + a.Title
	}
	return a.Title
}

// stateWords are Graph's enum members in words.
var stateWords = map[string]string{
	"new": "New", "inProgress": "In progress", "resolved": "Resolved",
	"truePositive": "true positive", "falsePositive": "false positive", "informationalExpectedActivity": "informational, expected activity",
	"multiStagedAttack": "multi-staged attack", "lineOfBusinessApplication": "line-of-business application", "apt": "APT",
}

// words spells a camelCase enum member as words: "compromisedAccount"
// is "compromised account".
func words(s string) string {
	if w, ok := stateWords[s]; ok {
		return w
	}
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// graphState is a Graph alert's state in Defender XDR's words, for the
// card: "🟢 *New* · assigned to carol@contoso.com", "✅ *Resolved*: true
// positive — compromised account". Every value is cleaned (and escaped
// for mrkdwn when slack is set); null enums are left out.
func graphState(a source.Alert, slack bool) string {
	g := a.Graph
	esc := func(s string, n int) string {
		if slack {
			return CutEscaped(Clean(s), n)
		}
		return Cut(Clean(s), n)
	}
	bold := func(s string) string {
		if slack {
			return "*" + s + "*"
		}
		return s
	}
	status := g.Status
	if status == "" {
		status = map[bool]string{true: "new", false: "resolved"}[a.Open()]
	}
	emoji := map[string]string{"new": ":large_green_circle: ", "inProgress": ":large_yellow_circle: ", "resolved": ":white_check_mark: "}[status]
	s := bold(esc(words(status), 40))
	if slack {
		s = emoji + s
	}
	if status == "resolved" {
		var how []string
		if g.Classification != "" {
			how = append(how, esc(words(g.Classification), 60))
		}
		if g.Determination != "" {
			how = append(how, esc(words(g.Determination), 60))
		}
		if len(how) > 0 {
			s += ": " + strings.Join(how, " — ")
		}
	}
	if g.AssignedTo != "" {
		s += " · assigned to " + esc(g.AssignedTo, 80)
	}
	if status == "resolved" && !a.ResolveTime.IsZero() {
		s += " · " + utc(a.ResolveTime) + " UTC"
	}
	return s
}

// incidentLink is the card's link to an alert's Defender XDR incident.
func incidentLink(a source.Alert, slack bool) string {
	if a.Graph == nil {
		return ""
	}
	name := "Incident"
	if id := Clean(a.Graph.IncidentID); id != "" {
		name += " " + Cut(id, 40)
	}
	u := SafeURL(a.Graph.IncidentURL)
	switch {
	case !slack && u != "":
		return name + " " + u
	case u != "":
		return "<" + u + "|" + Escape(name) + ">"
	case a.Graph.IncidentID != "":
		if slack {
			return Escape(name)
		}
		return name
	}
	return ""
}

// portalText names where an alert's link opens.
func portalText(a source.Alert) string {
	if a.Graph != nil {
		return "Open in Microsoft Defender XDR"
	}
	return "Open in Defender for Cloud Apps"
}

// digestState is what a digest entry adds for a Graph alert after its
// tenant and time: its product, and its state once someone took it up.
func digestState(a source.Alert) string {
	var s string
	if p := ProductName(a); p != "" {
		s += " · " + Escape(p)
	}
	if g := a.Graph; g != nil && (g.Status == "inProgress" || g.AssignedTo != "") {
		s += " · " + CutEscaped(Clean(words(orNew(g.Status))), 20)
		if g.AssignedTo != "" {
			s += ", assigned to " + CutEscaped(Clean(g.AssignedTo), 60)
		}
	}
	return s
}

func orNew(status string) string {
	if status == "" {
		return "new"
	}
	return status
}
