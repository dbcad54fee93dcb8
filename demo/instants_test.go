package demo

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/console"
)

// The whole demo script (digest, Create Jira, Details, Close…, the Jira
// sync to Done, the report, a command) at instants far apart: just after a
// month end, late on a leap day, a minute before the new year. Every date
// the sandbox shows follows its clock, so each instant checks the same
// things, with the dates worked out by hand below.
func TestDemoScriptOnAnyDate(t *testing.T) {
	cases := []struct {
		at time.Time
		// bob.smith's eight Tor repeats: the newest at the instant, the
		// others 40 minutes before it and every 50 minutes further back.
		groupSpan, groupDay, second, secondCard string
		// The report by hand: the seven days up to the instant (plus the
		// seconds the script took, well within its minute), today so far,
		// against the same span a week before.
		report, soFar, prev string
	}{
		{
			at:        time.Date(2027, 3, 1, 0, 30, 0, 0, time.UTC),
			groupSpan: "first 02-28 18:50, last 03-01 00:30 UTC", groupDay: "contoso · 2027-03-01 · policy:",
			second: "Details for… 02-28 23:50 ·", secondCard: "Time (UTC):   2027-02-28 23:50",
			report: "MCAS weekly report: 23 Feb – 1 Mar 2027 (1 Mar so far, to 00:30 UTC)", soFar: "1 Mar, so far (to 00:30 UTC): ",
			prev: "in the same span a week before (16 Feb 00:00 – 22 Feb 00:30 UTC).",
		},
		{
			at:        time.Date(2028, 2, 29, 23, 50, 0, 0, time.UTC),
			groupSpan: "first 18:10, last 23:50 UTC", groupDay: "contoso · 2028-02-29 · policy:",
			second: "Details for… 02-29 23:10 ·", secondCard: "Time (UTC):   2028-02-29 23:10",
			report: "MCAS weekly report: 23–29 Feb 2028 (29 Feb so far, to 23:50 UTC)", soFar: "29 Feb, so far (to 23:50 UTC): ",
			prev: "in the same span a week before (16 Feb 00:00 – 22 Feb 23:50 UTC).",
		},
		{
			at:        time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC),
			groupSpan: "first 18:19, last 23:59 UTC", groupDay: "contoso · 2026-12-31 · policy:",
			second: "Details for… 12-31 23:19 ·", secondCard: "Time (UTC):   2026-12-31 23:19",
			report: "MCAS weekly report: 25–31 Dec 2026 (31 Dec so far, to 23:59 UTC)", soFar: "31 Dec, so far (to 23:59 UTC): ",
			prev: "in the same span a week before (18 Dec 00:00 – 24 Dec 23:59 UTC).",
		},
	}
	for _, c := range cases {
		t.Run(c.at.Format("2006-01-02T15:04"), func(t *testing.T) {
			var out, errb bytes.Buffer
			script := "digest\njira 2\ndetails 2\nclose 2 benign confirmed_with_end_user checked\ndetails 1 2\n" +
				"jira 1\nprogress\nprogress\nreport\n/mcas alerts 3 high\n"
			if code := run(context.Background(), c.at, nil, strings.NewReader(script), &out, &errb); code != console.ExitOK {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			s := out.String()
			for _, want := range []string{
				"×8 Activity from a Tor IP address — bob.smith@contoso.com, " + c.groupSpan, c.groupDay,
				c.second, c.secondCard,
				"The digest message now shows: ✅ SEC-1 filed by @you",
				"✅ Closed as benign (confirmed with end user) by @U0DEMO in contoso.",
				"SEC-2 moved to In Progress", "Done (Fixed)",
				"the sync closed the 8 alerts of the group in contoso, all 8 ids in one POST /api/v1/alerts/close_true_positive/",
				c.report, c.soFar, c.prev, "↳ in thread: 📊 MCAS alerts per day, " + strings.TrimPrefix(c.report, "MCAS weekly report: "), "Chart saved to ",
				"tenants: contoso, fabrikam · severity high",
			} {
				if !strings.Contains(s, want) {
					t.Errorf("demo output lacks %q", want)
				}
			}
			// Times the sandbox stamps as it goes (the close's Jira comment)
			// are the instant plus the seconds the script took.
			m := regexp.MustCompile(`from Slack by u0demo \(U0DEMO\) on (\d{4}-\d\d-\d\d \d\d:\d\d) UTC`).FindStringSubmatch(s)
			if m == nil {
				t.Error("no Jira comment for the close")
			} else if at, err := time.Parse("2006-01-02 15:04", m[1]); err != nil || at.Before(c.at) || at.After(c.at.Add(2*time.Minute)) {
				t.Errorf("the close's comment is dated %s, not the sandbox's %s", m[1], c.at)
			}
			if today := time.Now().UTC().Format("2006-01-02"); !strings.HasPrefix(c.at.Format("2006-01-02"), today) && strings.Contains(s, today) {
				t.Errorf("the sandbox at %s shows today's date %s", c.at, today)
			}
			_, path, _ := strings.Cut(s, "Chart saved to ")
			path, _, _ = strings.Cut(path, "\n")
			_ = os.Remove(strings.TrimSpace(path))
			if t.Failed() {
				t.Log(s)
			}
		})
	}
}
