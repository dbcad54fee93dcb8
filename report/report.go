// Package report computes the weekly report from what the store recorded
// at the source (alerts the digest posted, issues filed, digest runs),
// never from re-reading MCAS history, and draws its chart.
package report

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// Severities in the order the report shows them.
var Severities = []string{"high", "medium", "low", "informational"}

// BySeverity counts alerts per severity. Unknown counts alerts recorded
// without one (by versions before the report existed).
type BySeverity struct {
	High          int `json:"high"`
	Medium        int `json:"medium"`
	Low           int `json:"low"`
	Informational int `json:"informational"`
	Unknown       int `json:"unknown,omitempty"`
}

// Get is the count of one severity name.
func (b BySeverity) Get(sev string) int {
	switch sev {
	case "high":
		return b.High
	case "medium":
		return b.Medium
	case "low":
		return b.Low
	case "informational":
		return b.Informational
	}
	return b.Unknown
}

// Total is every alert counted.
func (b BySeverity) Total() int { return b.High + b.Medium + b.Low + b.Informational + b.Unknown }

func (b *BySeverity) add(sev string) {
	switch sev {
	case "high":
		b.High++
	case "medium":
		b.Medium++
	case "low":
		b.Low++
	case "informational":
		b.Informational++
	default:
		b.Unknown++
	}
}

// Tenant is one tenant's alerts in the period and the one before.
type Tenant struct {
	Tenant string     `json:"tenant"`
	Now    BySeverity `json:"now"`
	Prev   BySeverity `json:"prev"`
}

// Count is a name and how often it occurred.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Durations summarizes a set of waits: nearest-rank percentiles, so every
// figure is a time that was really observed.
type Durations struct {
	N      int           `json:"n"`
	Median time.Duration `json:"-"`
	P90    time.Duration `json:"-"`
}

// MarshalJSON shows the durations readably (golden files).
func (d Durations) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		N      int    `json:"n"`
		Median string `json:"median"`
		P90    string `json:"p90"`
	}{d.N, d.Median.String(), d.P90.String()})
}

// Failure is a tenant that some digest runs could not read.
type Failure struct {
	Tenant     string `json:"tenant"`
	Failed     int    `json:"failed"`
	Runs       int    `json:"runs"`
	LastReason string `json:"last_reason"`
}

// Day is one UTC day of the chart.
type Day struct {
	Date   time.Time  `json:"date"`
	Alerts BySeverity `json:"alerts"`
	Filed  int        `json:"filed"` // Jira issues filed that day
	// Until ends today's day in a report by hand: it is counted so far.
	Until time.Time `json:"until,omitzero"`
}

// Closes are the alerts closed from Slack (issue #8) in the period, by
// classification, and how long after their digest post they were closed.
// Recorded is false for activity from a store that keeps no closes.
type Closes struct {
	Recorded         bool      `json:"recorded"`
	Total            int       `json:"total"`
	ByClassification []Count   `json:"by_classification"`
	ToClose          Durations `json:"to_close"` // digest appearance → close
	// ByJiraSync counts the alerts the Jira sync closed when their issue
	// was done (JIRA_DONE_CLOSES_ALERT): not closes from Slack.
	ByJiraSync int `json:"by_jira_sync,omitempty"`
}

// Stats is the whole report.
type Stats struct {
	// [From, To): whole UTC days, or in a report by hand up to now, whole
	// days and today so far.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// [PrevFrom, PrevTo) is what the period is compared with: as long, and
	// the same number of days before (Previous).
	PrevFrom time.Time `json:"prev_from"`
	PrevTo   time.Time `json:"prev_to"`
	// Alerts posted by the digest in the period and in the one before.
	Alerts     BySeverity `json:"alerts"`
	PrevAlerts BySeverity `json:"prev_alerts"`
	Tenants    []Tenant   `json:"tenants"`
	// Ticketed counts the period's alerts that became Jira issues (filed
	// at any time up to the report); Filed counts issues filed in the
	// period, whichever digest posted their alert.
	Ticketed int       `json:"ticketed"`
	Filed    int       `json:"filed"`
	ToTicket Durations `json:"to_ticket"` // digest appearance → ticket
	Closes   Closes    `json:"closes"`
	Policies []Count   `json:"top_policies"`
	Users    []Count   `json:"top_users"`
	IPs      []Count   `json:"top_ips"`
	Failures []Failure `json:"tenant_failures"`
	Days     []Day     `json:"days"`
}

// TopN is how many policies, users and IPs the report names.
const TopN = 5

// Window is the period of length period that ends at the start of the
// UTC day of now: a report sent Monday 09:00 covers the seven whole days
// before. period is rounded up to whole days. Scheduled reports use it.
func Window(now time.Time, period time.Duration) (from, to time.Time) {
	to = now.UTC().Truncate(24 * time.Hour)
	return to.AddDate(0, 0, -days(period)), to
}

// UpToNow is the period a report asked for by hand covers: as many UTC
// days as period, the last of them today, counted up to now. On Sunday
// 6 Dec at 14:32 a week is 30 Nov 00:00 to 6 Dec 14:32. At midnight it is
// Window's whole days.
func UpToNow(now time.Time, period time.Duration) (from, to time.Time) {
	to = now.UTC()
	today := to.Truncate(24 * time.Hour)
	if to.Equal(today) {
		return Window(now, period)
	}
	return today.AddDate(0, 0, 1-days(period)), to
}

// Previous is the period [from, to) is compared with: as long and that
// many days earlier, so a partial day is compared with the same hours of
// the same weekday (30 Nov – 6 Dec 14:32 with 23 Nov – 29 Nov 14:32).
func Previous(from, to time.Time) (time.Time, time.Time) {
	n := spanDays(from, to)
	return from.AddDate(0, 0, -n), to.AddDate(0, 0, -n)
}

func days(period time.Duration) int { return max(1, int(math.Ceil(period.Hours()/24))) }

// spanDays counts the UTC days [from, to) touches.
func spanDays(from, to time.Time) int {
	return int(math.Ceil(float64(to.Sub(from)) / float64(24*time.Hour)))
}

// Compute builds the report of [from, to) from what the store recorded in
// it (cur) and in the period it is compared with (prev, read over
// Previous(from, to)).
func Compute(from, to time.Time, cur, prev store.Activity) Stats {
	s := Stats{From: from.UTC(), To: to.UTC()}
	s.PrevFrom, s.PrevTo = Previous(s.From, s.To)
	tenants := map[string]*Tenant{}
	tenant := func(name string) *Tenant {
		if t, ok := tenants[name]; ok {
			return t
		}
		t := &Tenant{Tenant: name}
		tenants[name] = t
		return t
	}
	for d := s.From; d.Before(s.To); d = d.AddDate(0, 0, 1) {
		s.Days = append(s.Days, Day{Date: d})
	}
	if s.Partial() {
		s.Days[len(s.Days)-1].Until = s.To
	}
	day := func(t time.Time) *Day {
		i := int(t.UTC().Sub(s.From) / (24 * time.Hour))
		if t.Before(s.From) || i >= len(s.Days) {
			return nil
		}
		return &s.Days[i]
	}
	for _, p := range prev.Posted {
		s.PrevAlerts.add(p.Severity)
		tenant(p.Tenant).Prev.add(p.Severity)
	}
	policies, users, ips := map[string]int{}, map[string]int{}, map[string]int{}
	var waits []time.Duration
	for _, p := range cur.Posted {
		s.Alerts.add(p.Severity)
		tenant(p.Tenant).Now.add(p.Severity)
		if d := day(p.PostedAt); d != nil {
			d.Alerts.add(p.Severity)
		}
		if p.IssueKey != "" {
			s.Ticketed++
			waits = append(waits, max(0, p.FiledAt.Sub(p.PostedAt)))
		}
		count(policies, p.Policy)
		count(users, strings.ToLower(p.User))
		seen := map[string]bool{}
		for _, ip := range p.IPs {
			if !seen[ip] {
				seen[ip] = true
				count(ips, ip)
			}
		}
	}
	issues := map[string]bool{}
	for _, f := range cur.Filed {
		// A group of repeats has one issue for all its alerts (issue #11).
		if f.Key != "" && issues[f.Key] {
			continue
		}
		issues[f.Key] = true
		s.Filed++
		if d := day(f.FiledAt); d != nil {
			d.Filed++
		}
	}
	s.ToTicket = summarize(waits)
	s.Policies, s.Users, s.IPs = top(policies), top(users), top(ips)
	for _, name := range sortedKeys(tenants) {
		s.Tenants = append(s.Tenants, *tenants[name])
	}
	s.Failures = failures(cur.Runs)
	s.Closes = closes(cur.Closed)
	return s
}

// closes counts the period's closes from Slack by classification.
func closes(cs []store.ClosedAlert) Closes {
	out := Closes{Recorded: true}
	by := map[string]int{}
	var waits []time.Duration
	for _, c := range cs {
		if c.Elsewhere {
			continue
		}
		if c.ByBot() {
			out.ByJiraSync++
			continue
		}
		out.Total++
		count(by, source.Classification(c.Classification).Label())
		if !c.PostedAt.IsZero() {
			waits = append(waits, max(0, c.ClosedAt.Sub(c.PostedAt)))
		}
	}
	out.ByClassification = top(by)
	out.ToClose = summarize(waits)
	return out
}

func count(m map[string]int, key string) {
	if key = strings.TrimSpace(key); key != "" {
		m[key]++
	}
}

// top is the TopN most frequent names, ties by name.
func top(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{Name: k, Count: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	return out[:min(TopN, len(out))]
}

// summarize takes nearest-rank percentiles.
func summarize(ds []time.Duration) Durations {
	if len(ds) == 0 {
		return Durations{}
	}
	slices.Sort(ds)
	rank := func(p float64) time.Duration {
		return ds[max(0, int(math.Ceil(p*float64(len(ds))))-1)]
	}
	return Durations{N: len(ds), Median: rank(0.5), P90: rank(0.9)}
}

// failures lists tenants with failed runs, most failures first.
func failures(runs []store.TenantRun) []Failure {
	by := map[string]*Failure{}
	for _, r := range runs { // oldest first, so the last reason wins
		f, ok := by[r.Tenant]
		if !ok {
			f = &Failure{Tenant: r.Tenant}
			by[r.Tenant] = f
		}
		f.Runs++
		if r.Failed {
			f.Failed++
			f.LastReason = r.Reason
		}
	}
	var out []Failure
	for _, name := range sortedKeys(by) {
		if by[name].Failed > 0 {
			out = append(out, *by[name])
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Failed > out[j].Failed })
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Length is the period's length in days, today counted in a report by hand.
func (s Stats) Length() int { return spanDays(s.From, s.To) }

// Partial reports whether the period ends today, so far (a report by hand).
func (s Stats) Partial() bool { return !s.To.Equal(s.To.Truncate(24 * time.Hour)) }

// lastDay is the period's last UTC day.
func (s Stats) lastDay() time.Time {
	if s.Partial() {
		return s.To.Truncate(24 * time.Hour)
	}
	return s.To.AddDate(0, 0, -1)
}

// Title names the period, e.g. "16–22 Nov 2026", or by hand
// "30 Nov – 6 Dec 2026 (6 Dec so far, to 14:32 UTC)".
func (s Stats) Title() string {
	title := span(s.From, s.lastDay())
	if !s.Partial() {
		return title
	}
	if s.Length() == 1 {
		return title + " (so far, to " + s.To.Format("15:04") + " UTC)"
	}
	return title + " (" + s.To.Format("2 Jan") + " so far, to " + s.To.Format("15:04") + " UTC)"
}

// span names the days first to last.
func span(first, last time.Time) string {
	switch {
	case first.Equal(last):
		return first.Format("2 Jan 2006")
	case first.Year() != last.Year():
		return first.Format("2 Jan 2006") + " – " + last.Format("2 Jan 2006")
	case first.Month() != last.Month():
		return first.Format("2 Jan") + " – " + last.Format("2 Jan 2006")
	}
	return fmt.Sprintf("%d–%s", first.Day(), last.Format("2 Jan 2006"))
}

// SoFar labels today in a report by hand, "6 Dec, so far"; "" when the
// period is whole days.
func (s Stats) SoFar() string {
	if !s.Partial() {
		return ""
	}
	return s.To.Format("2 Jan") + ", so far"
}

// Compared names what the period is compared with: "the previous 7
// days", or when today is partial "the same span a week before".
func (s Stats) Compared() string {
	n := s.Length()
	switch {
	case !s.Partial() && n == 1:
		return "the previous day"
	case !s.Partial():
		return fmt.Sprintf("the previous %d days", n)
	case n == 1:
		return "the same span a day before"
	case n == 7:
		return "the same span a week before"
	}
	return fmt.Sprintf("the same span %d days before", n)
}

// PrevTitle is Compared with, when today is partial, the span's times:
// "the same span a week before (23 Nov 00:00 – 29 Nov 14:32 UTC)".
func (s Stats) PrevTitle() string {
	if !s.Partial() {
		return s.Compared()
	}
	layout := "2 Jan 15:04"
	if s.PrevFrom.Year() != s.To.Year() {
		layout = "2 Jan 2006 15:04"
	}
	return fmt.Sprintf("%s (%s – %s UTC)", s.Compared(), s.PrevFrom.Format(layout), s.PrevTo.Format(layout))
}
