package formatting

import (
	"fmt"
	"math"
	"strings"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/tenants"
)

// Answers across many tenants (issue #18): beyond a handful of tenants a
// reply counts them instead of naming them, says how many matched and how
// many had nothing, and names the failed or late ones in one line, cut
// with a count. Up to a handful, replies are as they always were.

// handful is how many tenants a reply names one by one.
const handful = 5

// many reports whether a reply over these tenants counts them.
func many(tenants int) bool { return tenants > handful }

// tenantsText says which tenants were asked: "Tenants: contoso, fabrikam",
// "100 tenants", "group:emea: 12 tenants", "group:emea: contoso, fabrikam".
// named is the prefix before a list of names ("Tenants: "). Not escaped.
func tenantsText(names []string, sel, named string) string {
	n := len(names)
	count := fmt.Sprintf("%d %s", n, plural(n, "tenant", "tenants"))
	if strings.Contains(sel, tenants.GroupPrefix) {
		sel = Cut(sel, 100)
		if many(n) || n == 0 {
			return sel + ": " + count
		}
		return sel + ": " + strings.Join(names, ", ")
	}
	if many(n) {
		return count
	}
	return named + strings.Join(names, ", ")
}

// coverage is the line under a many-tenant reply's context: "13 tenants
// matched · 84 tenants had nothing".
func coverage(matched, empty int, interim bool) string {
	s := fmt.Sprintf("%d %s matched · %d %s nothing", matched, plural(matched, "tenant", "tenants"), empty, plural(empty, "tenant had", "tenants had"))
	if interim {
		s += " (so far)"
	}
	return s
}

// oneLine names items (already formatted) until a handful or about
// budget characters, then "… and N more".
func oneLine(items []string, budget int) string { return listCut(items, handful, budget) }

// listCut joins up to most items within about budget characters, then
// "… and N more".
func listCut(items []string, most, budget int) string {
	var b strings.Builder
	for i, it := range items {
		if i == most || i > 0 && b.Len()+len(it) > budget {
			fmt.Fprintf(&b, ", … and %d more", len(items)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(it)
	}
	return b.String()
}

// failureLine names the failed tenants in one line: "3 tenants failed:
// contoso (timed out), fabrikam (HTTP 401), … and 1 more". bold marks a
// tenant's name (and escapes it for mrkdwn); esc escapes a reason.
func failureLine(fs []commands.Failure, bold, esc func(string) string) string {
	items := make([]string, len(fs))
	for i, f := range fs {
		items[i] = fmt.Sprintf("%s (%s)", bold(f.Tenant), esc(f.Short()))
	}
	return fmt.Sprintf("%d %s failed: %s", len(fs), plural(len(fs), "tenant", "tenants"), oneLine(items, 600))
}

// pendingLine names the tenants that have not answered yet in one line.
func pendingLine(ps []commands.Pending, bold func(string) string) string {
	items := make([]string, len(ps))
	for i, p := range ps {
		items[i] = bold(p.Tenant)
		if p.Queued > 0 {
			items[i] += fmt.Sprintf(" (queued, about %s)", seconds(p.Queued, math.Ceil))
		}
	}
	return fmt.Sprintf("%d %s not answered yet: %s", len(ps), plural(len(ps), "tenant has", "tenants have"), oneLine(items, 600))
}

// boldName is a tenant's name in mrkdwn, cleaned, cut and escaped.
func boldName(s string) string { return "*" + CutEscaped(Clean(s), 60) + "*" }

func escapeClean(s string) string { return CutEscaped(Clean(s), 80) }

// coverageBlock is the many-tenant reply's count of who matched; nil for
// a handful of tenants or before anyone answered.
func coverageBlock(tenants, matched, empty int, interim bool) slack.Block {
	if !many(tenants) || matched+empty == 0 {
		return nil
	}
	return context("coverage", coverage(matched, empty, interim))
}
