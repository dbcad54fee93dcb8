package report_test

import (
	"testing"
	"time"

	"github.com/soc/mcasbot/report"
	"github.com/soc/mcasbot/store"
)

// A group of repeats is one issue recorded for each of its alerts (issue
// #11): it counts once among the issues filed, and each alert as ticketed.
func TestGroupIssueCountsOnce(t *testing.T) {
	from := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, 7)
	at := from.Add(30 * time.Hour)
	var cur store.Activity
	for _, id := range []string{"g1", "g2", "g3"} {
		cur.Posted = append(cur.Posted, store.PostedAlert{Posting: store.Posting{Tenant: "contoso", AlertID: id, Severity: "high", PostedAt: at}, IssueKey: "SEC-7", FiledAt: at.Add(time.Hour)})
		cur.Filed = append(cur.Filed, store.IssueRecord{Tenant: "contoso", AlertID: id, State: store.IssueCreated, Key: "SEC-7", FiledAt: at.Add(time.Hour)})
	}
	cur.Filed = append(cur.Filed, store.IssueRecord{Tenant: "contoso", AlertID: "x", State: store.IssueCreated, Key: "SEC-8", FiledAt: at.Add(2 * time.Hour)})
	s := report.Compute(from, to, cur, store.Activity{})
	if s.Filed != 2 || s.Ticketed != 3 || s.Days[1].Filed != 2 {
		t.Fatalf("filed %d, ticketed %d, day %+v", s.Filed, s.Ticketed, s.Days[1])
	}
}
