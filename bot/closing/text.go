package closing

import (
	"fmt"
	"strings"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// JiraComment is the comment a close adds to the alert's Jira issue, in
// wiki markup; every value is escaped with jira.Escape, the one rule for
// everything Jira renders.
func JiraComment(rec store.CloseRecord) string {
	kind := source.Classification(rec.Classification)
	name := formatting.Clean(rec.ByName)
	if name == "" {
		name = rec.By
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Alert closed in Defender for Cloud Apps from Slack by %s (%s) on %s UTC.\n",
		jira.Escape(name), jira.Escape(rec.By), rec.ClosedAt.UTC().Format("2006-01-02 15:04"))
	fmt.Fprintf(&b, "* Classification: %s\n", jira.Escape(kind.Label()))
	if label := source.ReasonLabel(kind, rec.Reason); label != "" {
		fmt.Fprintf(&b, "* Reason: %s\n", jira.Escape(label))
	}
	if c := strings.TrimSpace(rec.Comment); c != "" {
		b.WriteString("* Comment:\n\n")
		b.WriteString(jira.Escape(c))
	}
	return strings.TrimRight(b.String(), "\n")
}
