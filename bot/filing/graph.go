package filing

import (
	"fmt"
	"strings"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/source"
)

// graphRows are what an issue adds for an alert read through Microsoft
// Graph: its product (when not Defender for Cloud Apps), its state in
// Defender XDR and its incident. MCAS alerts add nothing.
func graphRows(b *strings.Builder, a source.Alert, row func(k, v string)) {
	row("Product", formatting.ProductName(a))
	g := a.Graph
	if g == nil {
		return
	}
	state := formatting.Clean(g.Status)
	if g.AssignedTo != "" {
		state += ", assigned to " + formatting.Clean(g.AssignedTo)
	}
	row("Defender XDR status", strings.TrimPrefix(state, ", "))
	name := "Incident"
	if id := formatting.Clean(g.IncidentID); id != "" {
		name += " " + formatting.Cut(id, 40)
	}
	if u := formatting.SafeURL(g.IncidentURL); u != "" {
		fmt.Fprintf(b, "||Incident|%s|\n", jira.Link(name, u))
	} else if g.IncidentID != "" {
		row("Incident", name)
	}
}

func portalText(a source.Alert) string {
	if a.Graph != nil {
		return "Open in Microsoft Defender XDR"
	}
	return "Open in Defender for Cloud Apps"
}
