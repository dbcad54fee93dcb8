package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/closing"
	"github.com/soc/mcasbot/console"
	"github.com/soc/mcasbot/ops"
	"github.com/soc/mcasbot/report"
	"github.com/soc/mcasbot/schedule"
)

// jiraSync builds the Jira status sync posting through api.
func (a *app) jiraSync(api *slack.Client, m *ops.Metrics) *schedule.JiraSync {
	s := &schedule.JiraSync{Store: a.store, Jira: a.jira, Users: api, Redraw: a.redrawer(api), Logger: a.logger,
		Owner: schedule.DefaultOwner(), Interval: a.cfg.JiraSync.Interval, Days: a.cfg.JiraSync.Days}
	if m != nil {
		s.OnRun = func(o string) { m.JiraSyncRuns.WithLabelValues(o).Inc() }
		s.OnChanges = func(n int) { m.JiraSyncChanges.Add(float64(n)) }
	}
	if kind := a.cfg.DoneCloses(); kind != "" {
		d := &closing.JiraDone{Service: a.closer(), Classification: kind, Logger: a.logger}
		if m != nil {
			d.OnOutcome = func(o string) { m.JiraSyncCloses.WithLabelValues(o).Inc() }
		}
		s.Closer = d
	}
	return s
}

// report builds the periodic report posting with api (nil for a dry run).
func (a *app) report(api *slack.Client) *schedule.PeriodicReport {
	r := &schedule.PeriodicReport{Store: a.store, Channel: a.cfg.ReportChannel(), Period: a.cfg.Report.period, Logger: a.logger}
	if api != nil {
		r.Slack = api
	}
	return r
}

// scheduleReport runs the report on REPORT_SCHEDULE, once per period
// across replicas, retrying a failed post; at start it resumes the last
// period's retries a stopped replica left.
func (a *app) scheduleReport(ctx context.Context, api *slack.Client, m *ops.Metrics) (*schedule.SlotJob, error) {
	r := a.report(api)
	j, err := schedule.NewSlotJob(&schedule.SlotJob{Name: "report", Store: a.store, Logger: a.logger,
		Run: func(ctx context.Context, slot time.Time) (string, error) {
			_, outcome, err := r.RunScheduled(ctx, slot)
			return outcome, err
		},
		Resume: func(ctx context.Context, slot time.Time) {
			if outcome, ran := r.Resume(ctx, slot); ran {
				m.ReportRuns.WithLabelValues(outcome).Inc()
			}
		},
		OnRun: func(o string) { m.ReportRuns.WithLabelValues(o).Inc() }}, a.cfg.Report.Schedule, a.cfg.DigestTimezone)
	if err != nil {
		return nil, err
	}
	j.Start(ctx)
	return j, nil
}

// reportCmd builds the report now, up to now (today so far) or with
// --until=midnight the last whole days: posts it, or with --dry-run prints
// the message JSON and writes the chart. It posts whether or not the
// scheduled report was sent, and says when that was.
func reportCmd(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dry := fs.Bool("dry-run", false, "print the message JSON and write the chart; post nothing")
	period := fs.String("period", "", "how far back, e.g. 7d or 30d (default REPORT_PERIOD)")
	untilFlag := fs.String("until", string(schedule.UntilNow), "now: up to now, today so far; midnight: whole days up to last midnight UTC, as scheduled")
	out := fs.String("out", "", "also write the chart PNG here (a dry run writes report.png by default)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bot report takes no arguments, only flags (got %q)\n", fs.Arg(0))
		return exitUsage
	}
	until, err := schedule.ParseUntil(*untilFlag)
	if err != nil {
		fmt.Fprintln(stderr, "--until:", err)
		return exitUsage
	}
	cfg, tenants, _, ok := loadOrExplain(environ, needs{slack: !*dry}, stderr)
	if !ok {
		return exitUsage
	}
	if *period != "" {
		p, err := schedule.ParsePeriod(*period)
		if err != nil {
			fmt.Fprintln(stderr, "--period:", err)
			return exitUsage
		}
		cfg.Report.period = p
	}
	if !*dry && cfg.ReportChannel() == "" {
		fmt.Fprintln(stderr, "REPORT_CHANNEL (or DIGEST_CHANNEL) is not set: where should the report go? (--dry-run posts nothing)")
		return exitUsage
	}
	if *dry && *out == "" {
		*out = "report.png"
	}
	logger := newLogger(stderr, cfg.LogLevel, cfg.LogFormat, secretsOf(cfg, tenants))
	a, err := wire(ctx, cfg, nil, logger, true)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	defer a.Close()
	var api *slack.Client
	if !*dry {
		api = slackAPI(cfg, a.hc)
	}
	res, outcome, err := a.report(api).RunByHand(ctx, until, *dry)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return exitUpstream
	}
	if *dry {
		console.WriteJSON(stdout, res.Message)
	}
	if *out != "" {
		if err := os.WriteFile(*out, res.Chart, 0o644); err != nil {
			fmt.Fprintln(stderr, "error:", err)
			return exitUpstream
		}
	}
	s := res.Stats
	fmt.Fprintf(stderr, "report %s: %d alerts, %d became issues, %d issues filed", s.Title(), s.Alerts.Total(), s.Ticketed, s.Filed)
	if *out != "" {
		fmt.Fprintf(stderr, "; chart written to %s", *out)
	}
	if !*dry {
		fmt.Fprintf(stderr, "; posted to %s", cfg.ReportChannel())
	}
	fmt.Fprintln(stderr)
	if sc := res.Scheduled; sc != nil {
		also := ""
		if !*dry {
			also = "; this one was posted as well, by hand"
		}
		fmt.Fprintf(stderr, "the scheduled report of %s was sent at %s to %s (attempt %d)%s\n", scheduledTitle(sc.Period),
			sc.EndedAt.Format("2006-01-02 15:04 MST"), sc.Channel, sc.Attempts, also)
	}
	if outcome == "chart_failed" {
		fmt.Fprintln(stderr, "the chart could not be attached:", res.ChartProblem)
		return exitUpstream
	}
	return exitOK
}

// scheduledTitle names a scheduled period from its key ("16–22 Nov 2026").
func scheduledTitle(period string) string {
	a, b, _ := strings.Cut(period, "/")
	from, err1 := time.Parse(time.RFC3339, a)
	to, err2 := time.Parse(time.RFC3339, b)
	if err1 != nil || err2 != nil {
		return period
	}
	return report.Stats{From: from, To: to}.Title()
}
