package formatting

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/commands"
)

// /mcas tenants (issue #18): every tenant with its source, groups, budget
// and how the questions this replica asked it lately went; problems first.

// tenantRow is a tenant as of the listing.
type tenantRow struct {
	commands.TenantInfo
	now time.Time
}

var tenantColumns = []column[tenantRow]{
	{title: "Tenant", width: 30, text: func(t tenantRow) string { return t.Name }},
	{title: "Source", width: 6, text: func(t tenantRow) string { return t.Source }},
	{title: "Groups", width: 40, text: func(t tenantRow) string { return strings.Join(t.Groups, ", ") }},
	{title: "Last answer", width: 20, text: func(t tenantRow) string { return lastAnswer(t.TenantInfo, t.now) }},
	{title: "Last failure", width: 80, text: func(t tenantRow) string { return lastFailure(t.TenantInfo, t.now) }},
	{title: "Questions", width: 50, text: func(t tenantRow) string { return questionsText(t.TenantInfo) }},
	{title: "Budget", width: 12, text: func(t tenantRow) string { return orWord(t.Budget, "unlimited") }},
}

func orWord(s, word string) string {
	if s == "" {
		return word
	}
	return s
}

// Ago says how long ago t was, from now: "just now", "12 s ago", "3 min
// ago", "5 h ago", "2 d ago".
func Ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d d ago", int(d.Hours()/24))
}

func lastAnswer(t commands.TenantInfo, now time.Time) string {
	if t.LastOK.IsZero() {
		return "none yet"
	}
	return Ago(t.LastOK, now)
}

func lastFailure(t commands.TenantInfo, now time.Time) string {
	if t.LastFail.IsZero() {
		return ""
	}
	return Ago(t.LastFail, now) + ": " + t.Failure
}

// questionsText is what questions do with the tenant now (its breaker).
func questionsText(t commands.TenantInfo) string {
	switch {
	case t.State == commands.TenantChecking:
		return "one question checks whether it answers again"
	case t.State == commands.TenantNotAnswering && t.Skipped != nil && t.Skipped.RetryIn > 0:
		return fmt.Sprintf("skipped: not answering; asked again in %s", seconds(t.Skipped.RetryIn, math.Ceil))
	case t.State == commands.TenantNotAnswering:
		return "skipped: not answering"
	}
	return "asked"
}

// attention orders tenants for the listing: not answering, being checked,
// last call failed, then the rest.
func attention(t commands.TenantInfo) int {
	switch {
	case t.State == commands.TenantNotAnswering:
		return 0
	case t.State == commands.TenantChecking:
		return 1
	case t.Failing():
		return 2
	}
	return 3
}

// tenantCounts are the listing's summary.
type tenantCounts struct{ answering, failing, notAnswering, notAsked int }

func countTenants(ts []commands.TenantInfo) tenantCounts {
	var c tenantCounts
	for _, t := range ts {
		switch {
		case t.State != commands.TenantAnswering:
			c.notAnswering++
		case t.Failing():
			c.failing++
		case t.LastOK.IsZero():
			c.notAsked++
		default:
			c.answering++
		}
	}
	return c
}

func (c tenantCounts) text(emoji bool) string {
	icon := func(e string) string {
		if emoji {
			return e + " "
		}
		return ""
	}
	parts := []string{fmt.Sprintf("%s%d answering", icon(":white_check_mark:"), c.answering)}
	if c.failing > 0 {
		parts = append(parts, fmt.Sprintf("%s%d failed on their last call", icon(":warning:"), c.failing))
	}
	if c.notAnswering > 0 {
		parts = append(parts, fmt.Sprintf("%s%d not answering (skipped by questions)", icon(":no_entry:"), c.notAnswering))
	}
	if c.notAsked > 0 {
		parts = append(parts, fmt.Sprintf("%s%d not asked yet", icon(":grey_question:"), c.notAsked))
	}
	return strings.Join(parts, " · ")
}

func groupsText(gs []commands.GroupInfo, esc func(string) string) string {
	items := make([]string, len(gs))
	for i, g := range gs {
		items[i] = fmt.Sprintf("%s (%d)", esc(g.Name), len(g.Tenants))
	}
	return listCut(items, 40, 2500)
}

// sortedTenants are the rows, problems first, else in configuration order.
func sortedTenants(r commands.TenantsResult) []tenantRow {
	rows := make([]tenantRow, len(r.Tenants))
	for i, t := range r.Tenants {
		rows[i] = tenantRow{TenantInfo: t, now: r.Now}
	}
	slices.SortStableFunc(rows, func(a, b tenantRow) int { return attention(a.TenantInfo) - attention(b.TenantInfo) })
	return rows
}

func tenantNames(r commands.TenantsResult) []string {
	names := make([]string, len(r.Tenants))
	for i, t := range r.Tenants {
		names[i] = t.Name
	}
	return names
}

func tenantsMessage(r commands.TenantsResult, full *Full) (*slack.WebhookMessage, int) {
	n := len(r.Tenants)
	head := tenantsText(tenantNames(r), r.Selection, "Tenants: ")
	if !many(n) && !strings.Contains(r.Selection, "group:") {
		head = fmt.Sprintf("%d %s: %s", n, plural(n, "tenant", "tenants"), strings.TrimPrefix(head, "Tenants: "))
	}
	ctx := CutEscaped(Clean(head), 1000) + fmt.Sprintf(" · %d %s · health as the questions to this mcasbot saw it (the digest's calls not counted)",
		len(r.Groups), plural(len(r.Groups), "group", "groups"))
	blocks := []slack.Block{header("title", "Tenants"), context("summary", ctx)}
	counts := countTenants(r.Tenants)
	fallback := fmt.Sprintf("Tenants: %d, %s", n, counts.text(false))
	if n == 0 {
		blocks = append(blocks, section("empty", ":information_source: No tenants are configured."))
		return &slack.WebhookMessage{Text: Escape(fallback), Blocks: &slack.Blocks{BlockSet: blocks}}, 0
	}
	blocks = append(blocks, section("health", counts.text(true)))
	if len(r.Groups) > 0 {
		blocks = append(blocks, section("groups", "*Groups:* "+groupsText(r.Groups, func(s string) string { return "`" + CutEscaped(Clean(s), 40) + "`" })))
	}
	t, spent, left := table("tenants", tenantColumns, sortedTenants(r))
	return withTable(fallback, blocks, t, spent, left, "tenants", full)
}

// plainTenants renders /mcas tenants for a terminal.
func plainTenants(b *strings.Builder, r commands.TenantsResult) {
	fmt.Fprintf(b, "Tenants\n%s · %d %s\n", Clean(tenantsText(tenantNames(r), r.Selection, "tenants: ")), len(r.Groups), plural(len(r.Groups), "group", "groups"))
	if len(r.Tenants) == 0 {
		b.WriteString("No tenants are configured.\n")
		return
	}
	fmt.Fprintf(b, "%s (as the questions to this mcasbot saw it)\n", countTenants(r.Tenants).text(false))
	if len(r.Groups) > 0 {
		fmt.Fprintf(b, "groups: %s\n", groupsText(r.Groups, Clean))
	}
	rows := sortedTenants(r)
	out := make([][]string, len(rows))
	for i, t := range rows {
		out[i] = plainRow(tenantColumns, t)
	}
	plainTable(b, titles(tenantColumns), out)
}
