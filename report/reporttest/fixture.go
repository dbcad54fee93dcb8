// Package reporttest is a week of recorded activity whose report was
// worked out by hand (report_test.go shows the arithmetic), shared by the
// report, its rendering and its chart tests.
package reporttest

import (
	"fmt"
	"time"

	"github.com/soc/mcasbot/store"
)

// From is the fixture week's Monday.
var From = time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)

func at(day, hour, minute int) time.Time {
	return From.AddDate(0, 0, day).Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
}

type alert struct {
	tenant, id, sev, policy, user string
	ips                           []string
	posted                        time.Time
	key                           string
	filed                         time.Time
}

var none = time.Time{}

// alerts are the fixture's alerts: the week's, and the week before's.
func alerts() (week, before []alert) {
	week = []alert{
		{"contoso", "a1", "high", "Impossible travel", "alice@contoso.com", []string{"185.220.101.4"}, at(0, 8, 0), "SEC-1", at(0, 8, 30)},
		{"contoso", "a2", "high", "Leaked credentials", "carol@contoso.com", []string{"45.155.205.233", "10.20.30.40"}, at(0, 8, 0), "SEC-2", at(0, 10, 0)},
		{"contoso", "a3", "medium", "Impossible travel", "Alice@contoso.com", []string{"185.220.101.4"}, at(1, 8, 0), "SEC-3", at(1, 8, 10)},
		{"contoso", "a4", "low", "Mass download", "bob@contoso.com", nil, at(1, 8, 0), "", none},
		{"fabrikam", "b1", "high", "Impossible travel", "dave@fabrikam.com", []string{"185.220.101.4"}, at(2, 8, 0), "SEC-4", at(3, 8, 0)},
		{"fabrikam", "b2", "medium", "Ransomware activity", "erin@fabrikam.com", []string{"192.168.1.20"}, at(2, 8, 0), "", none},
		{"fabrikam", "b3", "medium", "Leaked credentials", "dave@fabrikam.com", []string{"45.155.205.233"}, at(4, 8, 0), "SEC-5", at(4, 9, 0)},
		{"contoso", "a5", "informational", "Activity from infrequent country", "alice@contoso.com", nil, at(5, 8, 0), "", none},
		// Filed the Monday after the week: a ticket of this week's alert,
		// but not an issue filed this week.
		{"contoso", "a6", "medium", "Impossible travel", "bob@contoso.com", []string{"185.220.101.4", "185.220.101.4"}, at(6, 8, 0), "SEC-6", at(7, 7, 0)},
		{"northwind", "c1", "low", "", "", nil, at(6, 8, 0), "", none},
	}
	before = []alert{
		{"contoso", "p1", "high", "Impossible travel", "alice@contoso.com", nil, at(-7, 8, 0), "", none},
		{"contoso", "p2", "medium", "Mass download", "bob@contoso.com", nil, at(-6, 8, 0), "", none},
		{"contoso", "p3", "medium", "Mass download", "bob@contoso.com", nil, at(-2, 8, 0), "SEC-0", at(0, 9, 0)},
		{"fabrikam", "p4", "high", "Leaked credentials", "dave@fabrikam.com", nil, at(-5, 8, 0), "", none},
		{"fabrikam", "p5", "high", "Leaked credentials", "dave@fabrikam.com", nil, at(-4, 8, 0), "", none},
		{"fabrikam", "p6", "low", "Mass download", "erin@fabrikam.com", nil, at(-3, 8, 0), "", none},
	}
	return week, before
}

// Week returns the fixture week [from, to), its activity and the week
// before's, as the store answers the report sent the Monday after at 09:00.
func Week() (from, to time.Time, cur, prev store.Activity) {
	week, before := alerts()
	cur.Posted, prev.Posted = posted(week), posted(before)
	for _, a := range append(before, week...) {
		if a.key != "" && !a.filed.Before(From) && a.filed.Before(at(7, 0, 0)) {
			cur.Filed = append(cur.Filed, store.IssueRecord{Tenant: a.tenant, AlertID: a.id, State: store.IssueCreated, Key: a.key,
				URL: "https://jira.example/browse/" + a.key, By: "U0LEAD", FiledAt: a.filed})
		}
	}
	cur.Runs = runs()
	cur.Closed = closes(week, before)
	return From, at(7, 0, 0), cur, prev
}

// runs are a digest every morning of the week; fabrikam failed Tuesday
// and Thursday, northwind Saturday.
func runs() []store.TenantRun {
	fails := map[string]string{
		"fabrikam/1": "throttled (HTTP 429)", "fabrikam/3": "timed out",
		"northwind/5": "authentication failed (HTTP 401): Invalid token",
	}
	var out []store.TenantRun
	for d := range 7 {
		for _, tenant := range []string{"contoso", "fabrikam", "northwind"} {
			why, failed := fails[fmt.Sprintf("%s/%d", tenant, d)]
			out = append(out, store.TenantRun{At: at(d, 8, 0), Tenant: tenant, Failed: failed, Reason: why})
		}
	}
	return out
}

func closes(week, before []alert) []store.ClosedAlert {
	// Closed from Slack (issue #8): a1 benign an hour after its digest,
	// a4 false positive after 30 minutes, b2 true positive after 12 hours,
	// p2 (last week's) true positive with no digest time known; b3 was
	// found already resolved in MCAS, which is no close from Slack.
	closed := func(a alert, kind, reason string, at time.Time, posted time.Time) store.ClosedAlert {
		return store.ClosedAlert{CloseRecord: store.CloseRecord{Tenant: a.tenant, AlertID: a.id, State: store.CloseDone, By: "U0CAROL",
			Classification: kind, Reason: reason, ClaimedAt: at.Add(-time.Minute), ClosedAt: at}, PostedAt: posted}
	}
	out := []store.ClosedAlert{
		closed(week[0], "benign", "confirmed_with_end_user", at(0, 9, 0), week[0].posted),
		closed(week[3], "false_positive", "not_of_interest", at(1, 8, 30), week[3].posted),
		closed(week[5], "true_positive", "", at(2, 20, 0), week[5].posted),
		closed(before[1], "true_positive", "", at(3, 9, 0), none),
	}
	elsewhere := closed(week[6], "resolved", "", at(4, 12, 0), week[6].posted)
	elsewhere.Elsewhere, elsewhere.HandledBy = true, "erin@fabrikam.com"
	return append(out, elsewhere)
}

// Recorded is what the store answers for [from, to) when asked at asOf
// (a report by hand at asOf): the fixture's alerts posted, issues filed,
// digest runs and closes in [from, to), an alert's issue only if it was
// filed before asOf.
func Recorded(from, to, asOf time.Time) store.Activity {
	week, before := alerts()
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	var a store.Activity
	for _, p := range posted(append(before, week...)) {
		if !in(p.PostedAt) {
			continue
		}
		if !p.FiledAt.Before(asOf) {
			p.IssueKey, p.FiledAt = "", time.Time{}
		}
		a.Posted = append(a.Posted, p)
	}
	for _, al := range append(before, week...) {
		if al.key != "" && in(al.filed) && al.filed.Before(asOf) {
			a.Filed = append(a.Filed, store.IssueRecord{Tenant: al.tenant, AlertID: al.id, State: store.IssueCreated, Key: al.key,
				URL: "https://jira.example/browse/" + al.key, By: "U0LEAD", FiledAt: al.filed})
		}
	}
	for _, r := range runs() {
		if in(r.At) {
			a.Runs = append(a.Runs, r)
		}
	}
	for _, c := range closes(week, before) {
		if in(c.ClosedAt) {
			a.Closed = append(a.Closed, c)
		}
	}
	return a
}

// Empty is a period with nothing recorded.
func Empty() store.Activity { return store.Activity{} }

func posted(as []alert) []store.PostedAlert {
	out := make([]store.PostedAlert, len(as))
	for i, a := range as {
		out[i] = store.PostedAlert{
			Posting: store.Posting{Tenant: a.tenant, AlertID: a.id, Channel: "C0DIGEST", TS: fmt.Sprintf("%d.000100", a.posted.Unix()),
				PostedAt: a.posted, Severity: a.sev, Title: a.policy, Policy: a.policy, User: a.user, IPs: a.ips, AlertTime: a.posted.Add(-time.Hour)},
			IssueKey: a.key, FiledAt: a.filed,
		}
	}
	return out
}
