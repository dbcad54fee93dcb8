package formatting

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/soc/mcasbot/bot/commands"
)

// Plain renders a result for a terminal: the same facts as the Slack reply,
// as an aligned table.
func Plain(res commands.Result) string {
	var b strings.Builder
	switch r := res.(type) {
	case commands.AlertsResult:
		plainHead(&b, r.Title, r.Tenants, r.Selection, r.Filters, len(r.Alerts), r.More, "alert", "alerts")
		plainCoverage(&b, len(r.Tenants), r.Matched, r.Empty, len(r.Pending) > 0)
		plainFailures(&b, r.Failures, len(r.Tenants))
		plainInterim(&b, r.Pending, len(r.Tenants), r.AsOf)
		if len(r.Alerts) == 0 && len(r.Pending) == 0 {
			b.WriteString(strings.TrimPrefix(emptyText(r.Failures, len(r.Tenants), "No alerts match these filters."), ":white_check_mark: ") + "\n")
			break
		}
		rows := make([][]string, len(r.Alerts))
		for i, a := range r.Alerts {
			rows[i] = plainRow(alertColumns, a)
		}
		plainTable(&b, titles(alertColumns), rows)
		plainRelated(&b, r.Related)
	case commands.IPResult:
		plainHead(&b, "Activity from "+r.Addr.String(), r.Tenants, r.Selection, r.Filters, len(r.Activities), r.More, "activity", "activities")
		plainCoverage(&b, len(r.Tenants), r.Matched, r.Empty, len(r.Pending) > 0)
		if r.Reputation != nil {
			rep := *r.Reputation
			fmt.Fprintf(&b, "AbuseIPDB: confidence %d%%, %d reports from %d users, ISP %s, usage %s, country %s, Tor %v, last reported %s\n",
				rep.Score, rep.Reports, rep.DistinctUsers, Clean(orDash(rep.ISP)), Clean(orDash(rep.UsageType)), Clean(orDash(rep.Country)), rep.Tor, lastReported(rep.LastReported.IsZero(), utc(rep.LastReported)))
		} else {
			fmt.Fprintf(&b, "AbuseIPDB: %s\n", r.RepNote)
		}
		plainFailures(&b, r.Failures, len(r.Tenants))
		plainInterim(&b, r.Pending, len(r.Tenants), r.AsOf)
		plainIPRelated(&b, r)
		if len(r.Activities) == 0 && len(r.Pending) == 0 {
			b.WriteString("No recent activity from this address.\n")
			break
		}
		rows := make([][]string, len(r.Activities))
		for i, a := range r.Activities {
			rows[i] = plainRow(activityColumns, a)
		}
		plainTable(&b, titles(activityColumns), rows)
	case commands.AlertResult:
		plainAlertResult(&b, r)
	case commands.TenantsResult:
		plainTenants(&b, r)
	case commands.HelpResult:
		if r.Problem != nil {
			fmt.Fprintf(&b, "error: %s\n", Clean(r.Problem.Problem))
			if r.Problem.Def != nil {
				fmt.Fprintf(&b, "usage: %s\n", r.Problem.Def.Usage())
			}
			b.WriteString("Type `/mcas help` for every command.\n")
			break
		}
		for _, d := range commands.Definitions {
			fmt.Fprintf(&b, "%s\n    %s\n", d.Usage(), d.Summary)
			for _, e := range d.Examples {
				fmt.Fprintf(&b, "    e.g. %s\n", e)
			}
		}
		b.WriteString("Pick tenants with tenant=contoso, tenant=contoso,fabrikam or tenant=group:emea (or mixed); /mcas tenants lists them.\n")
	}
	return b.String()
}

func lastReported(never bool, s string) string {
	if never {
		return "never"
	}
	return s + " UTC"
}

func plainHead(b *strings.Builder, title string, tenants []string, sel string, filters []commands.Filter, n int, more bool, one, many string) {
	fmt.Fprintf(b, "%s\n", Clean(title))
	parts := []string{tenantsText(tenants, sel, "tenants: ")}
	for _, f := range filters {
		parts = append(parts, f.Key+" "+f.Value)
	}
	summary := fmt.Sprintf("%d %s", n, plural(n, one, many))
	if more {
		summary += " shown, more match"
	}
	parts = append(parts, summary)
	fmt.Fprintf(b, "%s\n", Clean(strings.Join(parts, " · ")))
}

func plainCoverage(b *strings.Builder, tenants, matched, empty int, interim bool) {
	if many(tenants) && matched+empty > 0 {
		fmt.Fprintf(b, "%s\n", coverage(matched, empty, interim))
	}
}

func plainFailures(b *strings.Builder, fs []commands.Failure, tenants int) {
	if len(fs) > 0 && many(tenants) {
		fmt.Fprintf(b, "WARNING: %s\n", failureLine(fs, Clean, Clean))
		return
	}
	for _, f := range fs {
		if na, ok := errors.AsType[*commands.NotAnswering](f.Err); ok {
			fmt.Fprintf(b, "WARNING: %s\n", NotAnsweringText(na, tenants == 1, Clean))
			continue
		}
		fmt.Fprintf(b, "WARNING: tenant %s could not be queried: %s\n", Clean(f.Tenant), Clean(f.Reason()))
	}
}

// plainInterim writes the pending tenants and the age of reused answers.
func plainInterim(b *strings.Builder, pending []commands.Pending, tenants int, at time.Time) {
	if !at.IsZero() {
		fmt.Fprintf(b, "as of %s UTC (reused answer)\n", at.UTC().Format("15:04:05"))
	}
	if len(pending) > 0 && many(tenants) {
		fmt.Fprintf(b, "WAITING: %s\n", pendingLine(pending, Clean))
		return
	}
	for _, p := range pending {
		fmt.Fprintf(b, "WAITING: %s\n", PendingText(p, tenants == 1, Clean))
	}
}

func titles[T any](cols []column[T]) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.title
	}
	return out
}

// plainRow shows link columns as the URL itself.
func plainRow[T any](cols []column[T], it T) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.value(it)
		if c.url != nil {
			out[i] = orDash(SafeURL(c.url(it)))
		}
	}
	return out
}

func plainTable(b *strings.Builder, head []string, rows [][]string) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
}
