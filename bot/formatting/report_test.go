package formatting_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/report"
	"github.com/soc/mcasbot/report/reporttest"
	"github.com/soc/mcasbot/store"
)

func fixtureStats() report.Stats {
	from, to, cur, prev := reporttest.Week()
	return report.Compute(from, to, cur, prev)
}

func TestGoldenReport(t *testing.T) {
	msg := formatting.Report(formatting.ReportInput{Stats: fixtureStats()})
	if err := formatting.Check(msg); err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(msg, "", "  ")
	golden(t, "report.golden.json", append(js, '\n'))
	assertNoLiveMarkup(t, js)
	text := string(js)
	for _, want := range []string{
		"MCAS weekly report: 16–22 Nov 2026",
		"*10 alerts* posted by the digest, ▲4 against the previous 7 days (6).",
		"*6* became Jira issues (60%) · 6 issues filed in the period.",
		"median *1h*, 90th percentile *24h* (6 tickets)",
		"*contoso*: 6 (▲3) — 🔴 high 2 (▲1) · 🟠 medium 2 (=) · 🟡 low 1 (▲1) · ⚪ info 1 (▲1)",
		"*fabrikam*: 3 (=) — 🔴 high 1 (▼1) · 🟠 medium 2 (▲2) · 🟡 low 0 (▼1)",
		"1. Impossible travel — 4",
		"1. 185.220.101.4 — 4",
		"• *fabrikam*: 2 of 7 runs — last: timed out",
		"Closed from Slack: *4* (true positive 2 · benign 1 · false positive 1) · from the digest to a close: median 1h, 90th percentile 12h",
		"The chart of alerts and issues per day is in the thread.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// soFar is the fixture's report asked for by hand at now: seven days up
// to now, compared with the same span a week before.
func soFar(now time.Time) report.Stats {
	from, to := report.UpToNow(now, 7*24*time.Hour)
	pfrom, pto := report.Previous(from, to)
	return report.Compute(from, to, reporttest.Recorded(from, to, now), reporttest.Recorded(pfrom, pto, now))
}

// The partial-day case of report/partial_test.go (Saturday 07:00, worked
// out there by hand) as the message shows it.
func TestGoldenReportSoFar(t *testing.T) {
	msg := formatting.Report(formatting.ReportInput{Stats: soFar(reporttest.From.AddDate(0, 0, 5).Add(7 * time.Hour))})
	if err := formatting.Check(msg); err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(msg, "", "  ")
	golden(t, "report-so-far.golden.json", append(js, '\n'))
	assertNoLiveMarkup(t, js)
	text := string(js)
	for _, want := range []string{
		"MCAS weekly report: 15–21 Nov 2026 (21 Nov so far, to 07:00 UTC)",
		// 7 alerts against 5 (last Saturday's p3 came at 08:00, after 07:00).
		"*7 alerts* posted by the digest, ▲2 against 5 in the same span a week before (8 Nov 00:00 – 14 Nov 07:00 UTC).",
		// 5 of 7 ticketed: (5·100+3)/7 = 71.
		"*5* became Jira issues (71%) · 6 issues filed in the period.",
		"*21 Nov, so far* (to 07:00 UTC): 0 alerts · 0 issues filed.",
		"*Alerts per tenant and severity* (change against the same span a week before)",
		"*contoso*: 4 (▲2) — 🔴 high 2 (▲1) · 🟠 medium 1 (=) · 🟡 low 1 (▲1)",
		"*fabrikam*: 3 (=) — 🔴 high 1 (▼1) · 🟠 medium 2 (▲2) · 🟡 low 0 (▼1)",
		"• *fabrikam*: 2 of 5 runs — last: timed out",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(text, "northwind") || strings.Contains(text, "previous 7 days") {
		t.Errorf("northwind (nothing before Sunday, failure on Saturday 08:00) or whole-week wording shown:\n%s", text)
	}
	// Sunday 15:00: today's 08:00 digest counts, as the digest posted it.
	js, _ = json.Marshal(formatting.Report(formatting.ReportInput{Stats: soFar(reporttest.From.AddDate(0, 0, 6).Add(15 * time.Hour))}))
	for _, want := range []string{"MCAS weekly report: 16–22 Nov 2026 (22 Nov so far, to 15:00 UTC)", "*22 Nov, so far* (to 15:00 UTC): 2 alerts · 0 issues filed.",
		"*10 alerts* posted by the digest, ▲4 against 6 in the same span a week before (9 Nov 00:00 – 15 Nov 15:00 UTC)."} {
		if !strings.Contains(string(js), want) {
			t.Errorf("Sunday's report lacks %q: %s", want, js)
		}
	}
}

func TestReportSaysWhenTheChartIsMissing(t *testing.T) {
	msg := formatting.Report(formatting.ReportInput{Stats: fixtureStats(), ChartProblem: "files.completeUploadExternal: not_in_channel <@U1>"})
	js, _ := json.Marshal(msg)
	assertNoLiveMarkup(t, js)
	if !strings.Contains(string(js), "The chart could not be attached: files.completeUploadExternal: not_in_channel") ||
		strings.Contains(string(js), "is in the thread") {
		t.Fatalf("%s", js)
	}
}

func TestReportOfAQuietPeriod(t *testing.T) {
	from, to := report.Window(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), 30*24*time.Hour)
	msg := formatting.Report(formatting.ReportInput{Stats: report.Compute(from, to, store.Activity{}, store.Activity{}), NoChart: true})
	js, _ := json.Marshal(msg)
	for _, want := range []string{"MCAS report: 24 Oct – 22 Nov 2026", "No alerts were posted by the digest (the previous 30 days: 0).",
		"none recorded", "Every digest run could read every tenant."} {
		if !strings.Contains(string(js), want) {
			t.Errorf("lacks %q: %s", want, js)
		}
	}
	if strings.Contains(string(js), "thread") {
		t.Error("a report without a chart points at it")
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		40 * time.Second: "under 1m", 25 * time.Minute: "25m", time.Hour: "1h", 200 * time.Minute: "3h 20m",
		47 * time.Hour: "47h", 52 * time.Hour: "2d 4h", 72 * time.Hour: "3d",
	} {
		if got := formatting.HumanDuration(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}

func FuzzReport(f *testing.F) {
	h := hostile()
	f.Add(h.Tenant, h.Title, "<@U0ADMIN>", "<!here>", 3)
	f.Add(strings.Repeat("t", 500), strings.Repeat("p", 3000), strings.Repeat("u", 900), "1.2.3.4", 200)
	f.Fuzz(func(t *testing.T, tenant, policy, user, reason string, n int) {
		n = min(max(n, 0), 300)
		var cur store.Activity
		for i := range n {
			cur.Posted = append(cur.Posted, store.PostedAlert{Posting: store.Posting{Tenant: tenant + string(rune('a'+i%26)), Severity: []string{"high", "low", ""}[i%3],
				Policy: policy + string(rune('a'+i%26)), User: user, IPs: []string{reason}, PostedAt: reporttest.From.Add(time.Duration(i) * time.Hour)}})
			cur.Runs = append(cur.Runs, store.TenantRun{Tenant: tenant + string(rune('a'+i%26)), Failed: true, Reason: reason, At: reporttest.From})
		}
		msg := formatting.Report(formatting.ReportInput{Stats: report.Compute(reporttest.From, reporttest.From.AddDate(0, 0, 7), cur, store.Activity{}), ChartProblem: reason})
		if err := formatting.Check(msg); err != nil {
			t.Fatalf("limit broken: %v", err)
		}
		js, _ := json.Marshal(msg)
		assertNoLiveMarkup(t, js)
	})
}

// The closes line, escaped, and when none were made.
func TestReportCloses(t *testing.T) {
	s := fixtureStats()
	s.Closes = report.Closes{Recorded: true, Total: 3, ByClassification: []report.Count{{Name: "true positive", Count: 2}, {Name: "benign <b>", Count: 1}},
		ToClose: report.Durations{N: 3, Median: 90 * time.Minute, P90: 50 * time.Hour}}
	js, _ := json.Marshal(formatting.Report(formatting.ReportInput{Stats: s}))
	assertNoLiveMarkup(t, js)
	if want := "Closed from Slack: *3* (true positive 2 · benign \\u0026lt;b\\u0026gt; 1) · from the digest to a close: median 1h 30m, 90th percentile 2d 2h"; !strings.Contains(string(js), want) {
		t.Fatalf("lacks %s: %s", want, js)
	}
	s.Closes = report.Closes{Recorded: true}
	if js, _ := json.Marshal(formatting.Report(formatting.ReportInput{Stats: s})); !strings.Contains(string(js), "Closed from Slack: none in this period.\"") {
		t.Fatalf("%s", js)
	}
	s.Closes = report.Closes{Recorded: true, ByJiraSync: 2}
	if js, _ := json.Marshal(formatting.Report(formatting.ReportInput{Stats: s})); !strings.Contains(string(js), "Closed from Slack: none in this period.\\nClosed by the Jira sync when their issue was done: *2*") {
		t.Fatalf("%s", js)
	}
}
