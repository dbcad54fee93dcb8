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
	From time.Time `json:"from"` // [From, To), whole UTC days
	To   time.Time `json:"to"`
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
// before. period is rounded up to whole days.
func Window(now time.Time, period time.Duration) (from, to time.Time) {
	days := max(1, int(math.Ceil(period.Hours()/24)))
	to = now.UTC().Truncate(24 * time.Hour)
	return to.AddDate(0, 0, -days), to
}

// Compute builds the report of [from, to) from what the store recorded in
// it (cur) and in the period before (prev).
func Compute(from, to time.Time, cur, prev store.Activity) Stats {
	s := Stats{From: from.UTC(), To: to.UTC()}
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

// Length is the period's length in days.
func (s Stats) Length() int { return int(s.To.Sub(s.From) / (24 * time.Hour)) }

// Title names the period, e.g. "16–22 Nov 2026".
func (s Stats) Title() string {
	last := s.To.AddDate(0, 0, -1)
	switch {
	case s.From.Equal(last):
		return s.From.Format("2 Jan 2006")
	case s.From.Year() != last.Year():
		return s.From.Format("2 Jan 2006") + " – " + last.Format("2 Jan 2006")
	case s.From.Month() != last.Month():
		return s.From.Format("2 Jan") + " – " + last.Format("2 Jan 2006")
	}
	return fmt.Sprintf("%d–%s", s.From.Day(), last.Format("2 Jan 2006"))
}
