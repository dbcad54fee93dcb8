package formatting

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/report"
)

// ReportInput is what the report message shows.
type ReportInput struct {
	Stats report.Stats
	// ChartProblem, when set, says why the chart could not be attached.
	ChartProblem string
	// NoChart leaves out the line pointing at the chart (dry runs).
	NoChart bool
}

var reportSeverities = []struct{ name, label string }{
	{"high", "🔴 high"}, {"medium", "🟠 medium"}, {"low", "🟡 low"}, {"informational", "⚪ info"},
}

// Report renders the periodic report as one message.
func Report(in ReportInput) *slack.WebhookMessage {
	s := in.Stats
	days := s.Length()
	title := "MCAS report: " + s.Title()
	if days == 7 {
		title = "MCAS weekly report: " + s.Title()
	}
	blocks := []slack.Block{
		header("report", title),
		section("report-summary", reportSummary(s)),
		section("report-tenants", reportTenants(s)),
		section("report-top", "*Most frequent* (alerts posted in the period)",
			topField("Policies", s.Policies), topField("Users", s.Users), topField("IPs", s.IPs)),
		section("report-failures", reportFailures(s)),
		context("report-closes", reportCloses(s.Closes)),
	}
	note := ":bar_chart: The chart of alerts and issues per day is in the thread."
	switch {
	case in.ChartProblem != "":
		note = ":warning: The chart could not be attached: " + CutEscaped(Clean(in.ChartProblem), 300)
	case in.NoChart:
		note = ""
	}
	foot := "Counted from mcasbot's own records: alerts the digest posted (times in UTC) and issues filed from Slack."
	if note != "" {
		foot = note + "\n" + foot
	}
	blocks = append(blocks, context("report-foot", foot))
	fallback := fmt.Sprintf("%s: %d %s (%s), %d became Jira issues", title, s.Alerts.Total(), plural(s.Alerts.Total(), "alert", "alerts"),
		delta(s.Alerts.Total(), s.PrevAlerts.Total()), s.Ticketed)
	return &slack.WebhookMessage{Text: Escape(fallback), Blocks: &slack.Blocks{BlockSet: blocks}}
}

func reportSummary(s report.Stats) string {
	n, prev := s.Alerts.Total(), s.PrevAlerts.Total()
	var lines []string
	switch {
	case n == 0 && !s.Partial():
		lines = append(lines, fmt.Sprintf("No alerts were posted by the digest (%s: %d).", s.PrevTitle(), prev))
	case n == 0:
		// Today is partial: compared with the same hours before, said so.
		lines = append(lines, fmt.Sprintf("No alerts were posted by the digest; %d in %s.", prev, s.PrevTitle()))
	case !s.Partial():
		lines = append(lines, fmt.Sprintf("*%d %s* posted by the digest, %s against %s (%d).",
			n, plural(n, "alert", "alerts"), delta(n, prev), s.PrevTitle(), prev))
	default:
		lines = append(lines, fmt.Sprintf("*%d %s* posted by the digest, %s against %d in %s.",
			n, plural(n, "alert", "alerts"), delta(n, prev), prev, s.PrevTitle()))
	}
	if n > 0 {
		lines = append(lines, fmt.Sprintf("*%d* became %s (%d%%) · %d %s filed in the period.",
			s.Ticketed, plural(s.Ticketed, "a Jira issue", "Jira issues"), (s.Ticketed*100+n/2)/n, s.Filed, plural(s.Filed, "issue", "issues")))
	}
	if s.Partial() {
		today := s.Days[len(s.Days)-1]
		a := today.Alerts.Total()
		lines = append(lines, fmt.Sprintf("*%s* (to %s UTC): %d %s · %d %s filed.", s.SoFar(), s.To.Format("15:04"),
			a, plural(a, "alert", "alerts"), today.Filed, plural(today.Filed, "issue", "issues")))
	}
	if t := s.ToTicket; t.N > 0 {
		lines = append(lines, fmt.Sprintf("From the digest to a ticket: median *%s*, 90th percentile *%s* (%d %s).",
			HumanDuration(t.Median), HumanDuration(t.P90), t.N, plural(t.N, "ticket", "tickets")))
	}
	return strings.Join(lines, "\n")
}

func reportTenants(s report.Stats) string {
	against := "the previous period"
	if s.Partial() {
		against = s.Compared()
	}
	lines := []string{"*Alerts per tenant and severity* (change against " + against + ")"}
	line := func(name string, now, prev report.BySeverity) string {
		var parts []string
		for _, sev := range reportSeverities {
			if a, b := now.Get(sev.name), prev.Get(sev.name); a > 0 || b > 0 {
				parts = append(parts, fmt.Sprintf("%s %d (%s)", sev.label, a, delta(a, b)))
			}
		}
		if a, b := now.Unknown, prev.Unknown; a > 0 || b > 0 {
			parts = append(parts, fmt.Sprintf("unknown %d (%s)", a, delta(a, b)))
		}
		return fmt.Sprintf("%s: %d (%s) — %s", name, now.Total(), delta(now.Total(), prev.Total()), strings.Join(parts, " · "))
	}
	for _, t := range s.Tenants {
		lines = append(lines, line("*"+CutEscaped(Clean(t.Tenant), 60)+"*", t.Now, t.Prev))
	}
	if len(s.Tenants) == 0 {
		return lines[0] + "\nNo alerts in this period or the one before."
	}
	if len(s.Tenants) > 1 {
		lines = append(lines, line("*All tenants*", s.Alerts, s.PrevAlerts))
	}
	return strings.Join(lines, "\n")
}

// delta shows a change: ▲3, ▼2, or = when equal.
func delta(now, prev int) string {
	switch {
	case now > prev:
		return fmt.Sprintf("▲%d", now-prev)
	case now < prev:
		return fmt.Sprintf("▼%d", prev-now)
	}
	return "="
}

func topField(title string, cs []report.Count) *slack.TextBlockObject {
	lines := []string{"*" + title + "*"}
	for i, c := range cs {
		lines = append(lines, fmt.Sprintf("%d. %s — %d", i+1, CutEscaped(Clean(c.Name), 120), c.Count))
	}
	if len(cs) == 0 {
		lines = append(lines, "none recorded")
	}
	return slack.NewTextBlockObject(slack.MarkdownType, Cut(strings.Join(lines, "\n"), MaxFieldText), false, false)
}

func reportFailures(s report.Stats) string {
	if len(s.Failures) == 0 {
		return ":white_check_mark: Every digest run could read every tenant."
	}
	lines := []string{":warning: *Tenants the digest could not read* (their alerts came a run later)"}
	for _, f := range s.Failures {
		lines = append(lines, fmt.Sprintf("• *%s*: %d of %d %s — last: %s", CutEscaped(Clean(f.Tenant), 60), f.Failed, f.Runs,
			plural(f.Runs, "run", "runs"), CutEscaped(Clean(f.LastReason), 200)))
	}
	return strings.Join(lines, "\n")
}

func reportCloses(c report.Closes) string {
	if !c.Recorded {
		return "Closed from Slack: no closes recorded."
	}
	bySync := ""
	if c.ByJiraSync > 0 {
		bySync = fmt.Sprintf("\nClosed by the Jira sync when their issue was done: *%d*", c.ByJiraSync)
	}
	if c.Total == 0 {
		return "Closed from Slack: none in this period." + bySync
	}
	var parts []string
	for _, k := range c.ByClassification {
		parts = append(parts, fmt.Sprintf("%s %d", CutEscaped(Clean(k.Name), 40), k.Count))
	}
	text := fmt.Sprintf("Closed from Slack: *%d* (%s)", c.Total, strings.Join(parts, " · "))
	if c.ToClose.N > 0 {
		text += fmt.Sprintf(" · from the digest to a close: median %s, 90th percentile %s", HumanDuration(c.ToClose.Median), HumanDuration(c.ToClose.P90))
	}
	return text + bySync
}

// HumanDuration is a wait as people say it: under 1m, 25m, 3h 20m, 2d 4h.
func HumanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "under 1m"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh %dm", h, m)
	}
	days, h := int(d.Hours())/24, int(d.Hours())%24
	if h == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd %dh", days, h)
}
