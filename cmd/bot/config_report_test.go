package main

import (
	"strings"
	"testing"
	"time"
)

func TestReportAndSyncDefaults(t *testing.T) {
	cfg, _, ps := Load(with(good, "DIGEST_CHANNEL=C0DIGEST", "JIRA_URL=https://acme.atlassian.net", "JIRA_USER=soc@acme.example",
		"JIRA_API_TOKEN=jira-secret", "JIRA_PROJECT=SEC"), needs{slack: true, tenants: true})
	if err := ps.Err(); err != nil {
		t.Fatal(err)
	}
	if !cfg.SyncEnabled() || cfg.JiraSync.Interval != 5*time.Minute || cfg.JiraSync.Days != 14 {
		t.Fatalf("sync %+v", cfg.JiraSync)
	}
	if !cfg.ReportEnabled() || cfg.Report.Schedule != "0 9 * * MON" || cfg.ReportChannel() != "C0DIGEST" || cfg.Report.period != 7*24*time.Hour {
		t.Fatalf("report %+v", cfg.Report)
	}
	// Off switches: an empty schedule and a zero interval.
	cfg, _, ps = Load(with(good, "DIGEST_CHANNEL=C0DIGEST", "REPORT_SCHEDULE=", "JIRA_SYNC_INTERVAL=0", "REPORT_CHANNEL=C0LEADS", "REPORT_PERIOD=30d"),
		needs{slack: true, tenants: true})
	if err := ps.Err(); err != nil {
		t.Fatal(err)
	}
	if cfg.ReportEnabled() || cfg.SyncEnabled() || cfg.ReportChannel() != "C0LEADS" || cfg.Report.period != 30*24*time.Hour {
		t.Fatalf("off: %+v %+v", cfg.Report, cfg.JiraSync)
	}
	// No channel at all: no report (and no error).
	cfg, _, _ = Load(good, needs{slack: true, tenants: true})
	if cfg.ReportEnabled() {
		t.Fatal("report without a channel")
	}
}

func TestReportAndSyncErrors(t *testing.T) {
	_, _, ps := Load(with(good, "REPORT_SCHEDULE=every monday", "REPORT_CHANNEL=#soc-leads", "REPORT_PERIOD=1w",
		"JIRA_SYNC_INTERVAL=10s", "JIRA_SYNC_DAYS=365"), needs{slack: true, tenants: true})
	err := ps.Err()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"REPORT_SCHEDULE: schedule \"every monday\"", "REPORT_CHANNEL \"#soc-leads\" is not a channel ID",
		"REPORT_PERIOD: \"1w\" is not a period", "JIRA_SYNC_INTERVAL must be 0 (off) or from 1m to 24h, not 10s", "JIRA_SYNC_DAYS must be from 1 to 90, not 365"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nlacks %q", err, want)
		}
	}
	_, _, ps = Load(with(good, "REPORT_SCHEDULE=0 9 * * MON"), needs{slack: true, tenants: true})
	if ps.Err() != nil || !strings.Contains(fmtProblems(ps), "warning: REPORT_SCHEDULE is set but neither REPORT_CHANNEL nor DIGEST_CHANNEL is") {
		t.Fatalf("no warning: %v", ps)
	}
}

func TestDoneClosesAlert(t *testing.T) {
	jiraOn := with(good, "JIRA_URL=https://acme.atlassian.net", "JIRA_USER=soc@acme.example", "JIRA_API_TOKEN=jira-secret", "JIRA_PROJECT=SEC")
	for value, want := range map[string]string{"": "", "off": "", "true_positive": "true_positive", "Benign": "benign", "false-positive": "false_positive"} {
		cfg, _, ps := Load(with(jiraOn, "JIRA_DONE_CLOSES_ALERT="+value), needs{slack: true, tenants: true})
		if err := ps.Err(); err != nil || string(cfg.DoneCloses()) != want {
			t.Errorf("%q: %q %v", value, cfg.DoneCloses(), err)
		}
	}
	_, _, ps := Load(with(jiraOn, "JIRA_DONE_CLOSES_ALERT=resolved"), needs{slack: true, tenants: true})
	if err := ps.Err(); err == nil || !strings.Contains(err.Error(), `JIRA_DONE_CLOSES_ALERT must be true_positive, benign or false_positive`) ||
		!strings.Contains(err.Error(), `not "resolved"`) {
		t.Fatalf("%v", err)
	}
	// Set with the sync off: a warning, and nothing closes.
	cfg, _, ps := Load(with(jiraOn, "JIRA_DONE_CLOSES_ALERT=benign", "JIRA_SYNC_INTERVAL=0"), needs{slack: true, tenants: true})
	if ps.Err() != nil || cfg.DoneCloses() != "" || !strings.Contains(fmtProblems(ps), "warning: JIRA_DONE_CLOSES_ALERT is set but the Jira sync is off") {
		t.Fatalf("%q %v", cfg.DoneCloses(), ps)
	}
}

func fmtProblems(ps Problems) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.String() + "\n")
	}
	return b.String()
}
