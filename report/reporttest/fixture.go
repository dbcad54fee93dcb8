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

// Week returns the fixture week [from, to), its activity and the week before's.
func Week() (from, to time.Time, cur, prev store.Activity) {
	none := time.Time{}
	week := []alert{
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
	before := []alert{
		{"contoso", "p1", "high", "Impossible travel", "alice@contoso.com", nil, at(-7, 8, 0), "", none},
		{"contoso", "p2", "medium", "Mass download", "bob@contoso.com", nil, at(-6, 8, 0), "", none},
		{"contoso", "p3", "medium", "Mass download", "bob@contoso.com", nil, at(-2, 8, 0), "SEC-0", at(0, 9, 0)},
		{"fabrikam", "p4", "high", "Leaked credentials", "dave@fabrikam.com", nil, at(-5, 8, 0), "", none},
		{"fabrikam", "p5", "high", "Leaked credentials", "dave@fabrikam.com", nil, at(-4, 8, 0), "", none},
		{"fabrikam", "p6", "low", "Mass download", "erin@fabrikam.com", nil, at(-3, 8, 0), "", none},
	}
	cur.Posted, prev.Posted = posted(week), posted(before)
	for _, a := range append(before, week...) {
		if a.key != "" && !a.filed.Before(From) && a.filed.Before(at(7, 0, 0)) {
			cur.Filed = append(cur.Filed, store.IssueRecord{Tenant: a.tenant, AlertID: a.id, State: store.IssueCreated, Key: a.key,
				URL: "https://jira.example/browse/" + a.key, By: "U0LEAD", FiledAt: a.filed})
		}
	}
	// A digest every morning; fabrikam failed Tuesday and Thursday,
	// northwind Saturday.
	fails := map[string]string{
		"fabrikam/1": "throttled (HTTP 429)", "fabrikam/3": "timed out",
		"northwind/5": "authentication failed (HTTP 401): Invalid token",
	}
	for d := range 7 {
		for _, tenant := range []string{"contoso", "fabrikam", "northwind"} {
			why, failed := fails[fmt.Sprintf("%s/%d", tenant, d)]
			cur.Runs = append(cur.Runs, store.TenantRun{At: at(d, 8, 0), Tenant: tenant, Failed: failed, Reason: why})
		}
	}
	return From, at(7, 0, 0), cur, prev
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
