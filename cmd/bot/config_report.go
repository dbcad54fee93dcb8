package main

import (
	"strings"
	"time"

	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/source"
)

// SyncSettings mirror Jira's progress into the digest (issue #13).
type SyncSettings struct {
	Interval time.Duration `env:"JIRA_SYNC_INTERVAL" envDefault:"5m"`
	Days     int           `env:"JIRA_SYNC_DAYS" envDefault:"14"`
	// DoneCloses closes an alert as this when its issue reaches done.
	DoneCloses string `env:"JIRA_DONE_CLOSES_ALERT"`

	doneCloses source.Classification
}

// ReportSettings schedule the periodic report (issue #13).
// reportScheduleVar is read by hand: its empty value turns the report off.
const reportScheduleVar = "REPORT_SCHEDULE"

type ReportSettings struct {
	// Schedule is read by hand: caarlos0/env would turn an empty value
	// (which switches the report off) into the default.
	Schedule string `env:"-"`
	Channel  string `env:"REPORT_CHANNEL"`
	Period   string `env:"REPORT_PERIOD" envDefault:"7d"`

	period time.Duration
}

// DefaultReportSchedule is Monday 09:00 in DIGEST_TIMEZONE.
const DefaultReportSchedule = "0 9 * * MON"

// SyncEnabled reports whether the Jira sync runs.
func (c *Config) SyncEnabled() bool { return c.JiraEnabled() && c.JiraSync.Interval > 0 }

// DoneCloses is the classification the Jira sync closes the alerts of
// done issues as; "" when it closes none.
func (c *Config) DoneCloses() source.Classification {
	if !c.SyncEnabled() {
		return ""
	}
	return c.JiraSync.doneCloses
}

// ReportChannel is where the report goes: REPORT_CHANNEL, else the digest's.
func (c *Config) ReportChannel() string {
	if c.Report.Channel != "" {
		return c.Report.Channel
	}
	return c.DigestChannel
}

// ReportEnabled reports whether the report is scheduled.
func (c *Config) ReportEnabled() bool { return c.Report.Schedule != "" && c.ReportChannel() != "" }

func validateReport(cfg *Config, vars map[string]string, fatal, warn func(string, ...any)) {
	s := &cfg.JiraSync
	if s.Interval != 0 && (s.Interval < time.Minute || s.Interval > 24*time.Hour) {
		fatal("JIRA_SYNC_INTERVAL must be 0 (off) or from 1m to 24h, not %s", s.Interval)
	}
	if s.Days < 1 || s.Days > 90 {
		fatal("JIRA_SYNC_DAYS must be from 1 to 90, not %d", s.Days)
	}
	switch v := strings.ToLower(strings.TrimSpace(s.DoneCloses)); v {
	case "", "off":
	default:
		kind := source.Classification(strings.NewReplacer("-", "_", " ", "_").Replace(v))
		if !kind.Valid() {
			fatal("JIRA_DONE_CLOSES_ALERT must be true_positive, benign or false_positive (how the alert of an issue that reaches done is closed), or empty (off), not %q", s.DoneCloses)
			break
		}
		s.doneCloses = kind
		if !cfg.SyncEnabled() {
			warn("JIRA_DONE_CLOSES_ALERT is set but the Jira sync is off (JIRA_URL is not set or JIRA_SYNC_INTERVAL is 0): no alert is closed")
		}
	}

	r := &cfg.Report
	spec, set := vars[reportScheduleVar]
	r.Schedule = strings.TrimSpace(spec)
	if !set {
		r.Schedule = DefaultReportSchedule
	}
	if r.Schedule == "off" {
		r.Schedule = ""
	}
	if r.Schedule != "" {
		if _, _, err := schedule.ParseSchedule(r.Schedule, cfg.DigestTimezone); err != nil {
			fatal("REPORT_SCHEDULE: %v", err)
		}
	}
	if r.Channel != "" && !slackID.MatchString(r.Channel) {
		fatal("REPORT_CHANNEL %q is not a channel ID (like C0123ABCD)", r.Channel)
	}
	p, err := schedule.ParsePeriod(r.Period)
	if err != nil {
		fatal("REPORT_PERIOD: %v", err)
	}
	r.period = p
	if set && r.Schedule != "" && cfg.ReportChannel() == "" {
		warn("REPORT_SCHEDULE is set but neither REPORT_CHANNEL nor DIGEST_CHANNEL is: the report is off")
	}
}
