package report_test

import (
	"testing"
	"time"

	"github.com/soc/mcasbot/report"
	"github.com/soc/mcasbot/report/reporttest"
)

// A report asked for by hand on the fixture week's Saturday at 07:00, an
// hour before that day's digest: seven days up to now, today so far,
// compared with the same span a week before. Worked out by hand from
// reporttest's alerts; the comments show the arithmetic.
func TestPartialDayByHand(t *testing.T) {
	now := reporttest.From.AddDate(0, 0, 5).Add(7 * time.Hour) // Sat 21 Nov 2026 07:00
	from, to := report.UpToNow(now, 7*24*time.Hour)
	// Sun 15 Nov 00:00 – Sat 21 Nov 07:00: six whole days and Saturday so far.
	if !from.Equal(time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)) || !to.Equal(now) {
		t.Fatalf("window %v – %v", from, to)
	}
	pfrom, pto := report.Previous(from, to)
	// Sun 8 Nov 00:00 – Sat 14 Nov 07:00: as long, a week earlier.
	if !pfrom.Equal(time.Date(2026, 11, 8, 0, 0, 0, 0, time.UTC)) || !pto.Equal(time.Date(2026, 11, 14, 7, 0, 0, 0, time.UTC)) {
		t.Fatalf("previous %v – %v", pfrom, pto)
	}
	s := report.Compute(from, to, reporttest.Recorded(from, to, now), reporttest.Recorded(pfrom, pto, now))

	// Saturday's a5 (08:00) is not posted yet: high a1 a2 b1 · medium a3
	// b2 b3 · low a4. Sunday's a6 c1 are a day away.
	if s.Alerts != (report.BySeverity{High: 3, Medium: 3, Low: 1}) {
		t.Errorf("alerts %+v", s.Alerts)
	}
	// Like with like: last Saturday's p3 (08:00) falls after 07:00 too.
	// high p1 p4 p5 · medium p2 · low p6.
	if s.PrevAlerts != (report.BySeverity{High: 3, Medium: 1, Low: 1}) {
		t.Errorf("previous %+v", s.PrevAlerts)
	}
	want := []report.Tenant{
		{Tenant: "contoso", Now: report.BySeverity{High: 2, Medium: 1, Low: 1}, Prev: report.BySeverity{High: 1, Medium: 1}},
		{Tenant: "fabrikam", Now: report.BySeverity{High: 1, Medium: 2}, Prev: report.BySeverity{High: 2, Low: 1}},
	}
	if len(s.Tenants) != 2 || s.Tenants[0] != want[0] || s.Tenants[1] != want[1] {
		t.Errorf("tenants %+v", s.Tenants)
	}
	// Ticketed a1 a2 a3 b1 b3 (a6 is not posted yet); filed SEC-0…SEC-5,
	// SEC-0 on Monday for last week's p3.
	if s.Ticketed != 5 || s.Filed != 6 {
		t.Errorf("ticketed %d filed %d", s.Ticketed, s.Filed)
	}
	// waits 10m (a3) 30m (a1) 1h (b3) 2h (a2) 24h (b1): median = 3rd of 5, p90 = 5th.
	if s.ToTicket != (report.Durations{N: 5, Median: time.Hour, P90: 24 * time.Hour}) {
		t.Errorf("to ticket %+v", s.ToTicket)
	}
	// Impossible travel a1 a3 b1; Leaked credentials a2 b3; then by name.
	checkCounts(t, "policies", s.Policies, "Impossible travel", 3, "Leaked credentials", 2, "Mass download", 1, "Ransomware activity", 1)
	// alice a1 a3; dave b1 b3; bob a4, carol a2, erin b2
	checkCounts(t, "users", s.Users, "alice@contoso.com", 2, "dave@fabrikam.com", 2, "bob@contoso.com", 1, "carol@contoso.com", 1, "erin@fabrikam.com", 1)
	checkCounts(t, "ips", s.IPs, "185.220.101.4", 3, "45.155.205.233", 2, "10.20.30.40", 1, "192.168.1.20", 1)
	// Five 08:00 digests (Mon–Fri); northwind's Saturday failure is still ahead.
	if len(s.Failures) != 1 || s.Failures[0] != (report.Failure{Tenant: "fabrikam", Failed: 2, Runs: 5, LastReason: "timed out"}) {
		t.Errorf("failures %+v", s.Failures)
	}
	days := []struct {
		alerts report.BySeverity
		filed  int
	}{
		{report.BySeverity{}, 0},                   // Sun 15
		{report.BySeverity{High: 2}, 3},            // Mon: a1 a2; SEC-0 SEC-1 SEC-2
		{report.BySeverity{Medium: 1, Low: 1}, 1},  // Tue: a3 a4; SEC-3
		{report.BySeverity{High: 1, Medium: 1}, 0}, // Wed: b1 b2
		{report.BySeverity{}, 1},                   // Thu: SEC-4
		{report.BySeverity{Medium: 1}, 1},          // Fri: b3; SEC-5
		{report.BySeverity{}, 0},                   // Sat 21, so far
	}
	if len(s.Days) != 7 {
		t.Fatalf("%d days", len(s.Days))
	}
	for i, d := range days {
		got := s.Days[i]
		if got.Alerts != d.alerts || got.Filed != d.filed || !got.Date.Equal(from.AddDate(0, 0, i)) {
			t.Errorf("day %d: %+v, want %+v", i, got, d)
		}
		if partial := i == 6; partial != !got.Until.IsZero() || partial && !got.Until.Equal(now) {
			t.Errorf("day %d ends %v", i, got.Until)
		}
	}
	// All four closes from Slack happened Mon–Thu.
	if s.Closes.Total != 4 || s.Closes.ToClose.N != 3 {
		t.Errorf("closes %+v", s.Closes)
	}
	if got := s.Title(); got != "15–21 Nov 2026 (21 Nov so far, to 07:00 UTC)" {
		t.Errorf("title %q", got)
	}
	if got := s.PrevTitle(); got != "the same span a week before (8 Nov 00:00 – 14 Nov 07:00 UTC)" {
		t.Errorf("compared with %q", got)
	}
	if !s.Partial() || s.Length() != 7 || s.SoFar() != "21 Nov, so far" {
		t.Errorf("partial %v length %d so far %q", s.Partial(), s.Length(), s.SoFar())
	}
	labels := s.DayLabels()
	if len(labels) != 7 || labels[0] != "Sun 15" || labels[5] != "Fri 20" || labels[6] != "21 Nov, so far" {
		t.Errorf("chart labels %q", labels)
	}
	golden(t, "saturday-so-far", s)
}

// Windows by hand, derived from the instant: the week ends now, today is
// partial; at midnight it is the scheduled report's whole days.
func TestUpToNow(t *testing.T) {
	week := 7 * 24 * time.Hour
	for _, c := range []struct {
		now           time.Time
		period        time.Duration
		title, soFar  string
		prev          string
		firstDayLabel string
	}{
		{time.Date(2026, 12, 6, 14, 32, 5, 0, time.UTC), week, "30 Nov – 6 Dec 2026 (6 Dec so far, to 14:32 UTC)", "6 Dec, so far",
			"the same span a week before (23 Nov 00:00 – 29 Nov 14:32 UTC)", "Mon 30"},
		// New Year's Day: the previous span is all last year.
		{time.Date(2027, 1, 1, 10, 0, 0, 0, time.UTC), week, "26 Dec 2026 – 1 Jan 2027 (1 Jan so far, to 10:00 UTC)", "1 Jan, so far",
			"the same span a week before (19 Dec 2026 00:00 – 25 Dec 2026 10:00 UTC)", "Sat 26"},
		// A leap day, late.
		{time.Date(2028, 2, 29, 23, 50, 0, 0, time.UTC), week, "23–29 Feb 2028 (29 Feb so far, to 23:50 UTC)", "29 Feb, so far",
			"the same span a week before (16 Feb 00:00 – 22 Feb 23:50 UTC)", "Wed 23"},
		// One day: today so far, against yesterday up to the same time.
		{time.Date(2026, 12, 6, 14, 32, 0, 0, time.UTC), 24 * time.Hour, "6 Dec 2026 (so far, to 14:32 UTC)", "6 Dec, so far",
			"the same span a day before (5 Dec 00:00 – 5 Dec 14:32 UTC)", "6 Dec, so far"},
		// At midnight nothing of today has happened: seven whole days.
		{time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), week, "30 Nov – 6 Dec 2026", "", "the previous 7 days", "Mon 30"},
		{time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), 24 * time.Hour, "6 Dec 2026", "", "the previous day", "Sun 6"},
	} {
		from, to := report.UpToNow(c.now, c.period)
		s := report.Compute(from, to, reporttest.Empty(), reporttest.Empty())
		if s.Title() != c.title || s.SoFar() != c.soFar || s.PrevTitle() != c.prev || s.DayLabels()[0] != c.firstDayLabel {
			t.Errorf("%v: title %q, so far %q, compared with %q, first label %q", c.now, s.Title(), s.SoFar(), s.PrevTitle(), s.DayLabels()[0])
		}
		if !to.Equal(c.now) || len(s.Days) != s.Length() || s.Length() != int(c.period/(24*time.Hour)) {
			t.Errorf("%v: to %v, %d days, length %d", c.now, to, len(s.Days), s.Length())
		}
	}
}

// A month by hand: dates every few days, and today's label with room
// around it.
func TestDayLabelsOfAMonthSoFar(t *testing.T) {
	now := time.Date(2026, 12, 6, 14, 32, 0, 0, time.UTC)
	from, to := report.UpToNow(now, 30*24*time.Hour) // 7 Nov – 6 Dec: every 2nd day labelled
	labels := report.Compute(from, to, reporttest.Empty(), reporttest.Empty()).DayLabels()
	if len(labels) != 30 || labels[0] != "7 Nov" || labels[2] != "9 Nov" || labels[1] != "" || labels[28] != "" || labels[29] != "6 Dec, so far" {
		t.Fatalf("%q", labels)
	}
}

// The scheduled report's whole days at instants that trip date arithmetic.
func TestScheduledWindowAtInstants(t *testing.T) {
	for _, c := range []struct {
		now    time.Time
		period time.Duration
		title  string
	}{
		{time.Date(2026, 11, 23, 0, 5, 0, 0, time.UTC), 7 * 24 * time.Hour, "16–22 Nov 2026"}, // a Monday 00:05
		{time.Date(2027, 3, 1, 0, 30, 0, 0, time.UTC), 7 * 24 * time.Hour, "22–28 Feb 2027"},  // just after a month end
		{time.Date(2028, 3, 1, 9, 0, 0, 0, time.UTC), 7 * 24 * time.Hour, "23–29 Feb 2028"},   // a week ending on a leap day
		{time.Date(2028, 3, 1, 9, 0, 0, 0, time.UTC), 30 * 24 * time.Hour, "31 Jan – 29 Feb 2028"},
		{time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), 24 * time.Hour, "31 Dec 2026"},
	} {
		from, to := report.Window(c.now, c.period)
		s := report.Compute(from, to, reporttest.Empty(), reporttest.Empty())
		if s.Title() != c.title || s.Partial() || s.SoFar() != "" || !to.Equal(c.now.Truncate(24*time.Hour)) {
			t.Errorf("%v: %q partial %v, to %v", c.now, s.Title(), s.Partial(), to)
		}
	}
}
