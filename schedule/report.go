package schedule

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/report"
	"github.com/soc/mcasbot/store"
)

// ReportSlack posts the report and uploads its chart (*slack.Client).
type ReportSlack interface {
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slack.MsgOption) (string, string, string, error)
	UploadFileContext(ctx context.Context, params slack.UploadFileParameters) (*slack.FileSummary, error)
}

// PeriodicReport posts the periodic report: one message with the
// numbers, and the chart uploaded into its thread.
type PeriodicReport struct {
	Store   store.Store
	Slack   ReportSlack // nil for a dry run
	Channel string
	// Period is how far back the report looks (default 7 days), in whole
	// UTC days ending at the start of today.
	Period time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// ReportResult is what a report run made.
type ReportResult struct {
	Stats   report.Stats
	Message *slack.WebhookMessage
	Chart   []byte // PNG
	TS      string // the posted message
	// ChartProblem says why the chart could not be attached ("" if it was).
	ChartProblem string
}

// Build computes the report and its chart from the store.
func (r *PeriodicReport) Build(ctx context.Context) (ReportResult, error) {
	r.defaults()
	from, to := report.Window(r.Now(), r.Period)
	cur, err := r.Store.Activity(ctx, from, to)
	if err != nil {
		return ReportResult{}, fmt.Errorf("reading the period's records: %w", err)
	}
	prev, err := r.Store.Activity(ctx, from.Add(-to.Sub(from)), from)
	if err != nil {
		return ReportResult{}, fmt.Errorf("reading the previous period's records: %w", err)
	}
	res := ReportResult{Stats: report.Compute(from, to, cur, prev)}
	if res.Chart, err = report.Chart(res.Stats); err != nil {
		return res, err
	}
	res.Message = formatting.Report(formatting.ReportInput{Stats: res.Stats})
	return res, nil
}

// Run builds the report and, unless dry, posts it and uploads the chart
// into its thread. A chart that cannot be uploaded leaves the report
// standing, updated to say so; the outcome is then "chart_failed".
func (r *PeriodicReport) Run(ctx context.Context, dryRun bool) (ReportResult, string, error) {
	res, err := r.Build(ctx)
	if err != nil || dryRun {
		return res, "ok", err
	}
	if res.TS, err = r.post(ctx, res.Message); err != nil {
		return res, "failed", err
	}
	r.Logger.Info("report posted", "channel", r.Channel, "ts", res.TS, "alerts", res.Stats.Alerts.Total(), "from", res.Stats.From, "to", res.Stats.To)
	err = r.upload(ctx, res)
	if err == nil {
		return res, "ok", nil
	}
	res.ChartProblem = chartProblem(err)
	r.Logger.Warn("the report's chart could not be attached", "error", err)
	res.Message = formatting.Report(formatting.ReportInput{Stats: res.Stats, ChartProblem: res.ChartProblem})
	if _, _, _, err := r.Slack.UpdateMessageContext(ctx, r.Channel, res.TS, slack.MsgOptionText(res.Message.Text, false),
		slack.MsgOptionBlocks(res.Message.Blocks.BlockSet...)); err != nil {
		r.Logger.Warn("could not note the missing chart on the report", "error", err)
	}
	return res, "chart_failed", nil
}

func (r *PeriodicReport) upload(ctx context.Context, res ReportResult) error {
	s := res.Stats
	_, err := r.Slack.UploadFileContext(ctx, slack.UploadFileParameters{
		Reader: bytes.NewReader(res.Chart), FileSize: len(res.Chart),
		Filename: "mcas-report-" + s.From.Format("2006-01-02") + ".png", Title: "MCAS alerts per day, " + s.Title(),
		AltTxt: fmt.Sprintf("Stacked bars of MCAS alerts per day by severity and a line of Jira issues filed per day, %s: %d alerts, %d issues filed.",
			s.Title(), s.Alerts.Total(), s.Filed),
		Channel: r.Channel, ThreadTimestamp: res.TS,
	})
	return err
}

// chartProblem says in a few words why the upload failed.
func chartProblem(err error) string {
	msg := err.Error()
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && (se.Err == "missing_scope" || se.Err == "not_allowed_token_type") {
		return msg + " (the app needs the files:write scope)"
	}
	return msg
}

// post sends the report, waiting out Slack's 429 a few times.
func (r *PeriodicReport) post(ctx context.Context, msg *slack.WebhookMessage) (string, error) {
	for attempt := 0; ; attempt++ {
		_, ts, err := r.Slack.PostMessageContext(ctx, r.Channel, slack.MsgOptionText(msg.Text, false),
			slack.MsgOptionBlocks(msg.Blocks.BlockSet...), slack.MsgOptionDisableLinkUnfurl())
		var rl *slack.RateLimitedError
		if err == nil || !errors.As(err, &rl) || attempt == 3 {
			if err != nil {
				return "", fmt.Errorf("posting the report to %s: %w", r.Channel, err)
			}
			return ts, nil
		}
		if err := httpx.Sleep(ctx, max(rl.RetryAfter, time.Second)); err != nil {
			return "", err
		}
	}
}

func (r *PeriodicReport) defaults() {
	if r.Period <= 0 {
		r.Period = 7 * 24 * time.Hour
	}
	if r.Now == nil {
		r.Now = func() time.Time { return time.Now().UTC() }
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
}

// ParsePeriod reads a report period: "7d", "30d", or a Go duration of
// whole days ("168h"), from 1 to 366 days.
func ParsePeriod(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err != nil || fmt.Sprint(days) != n {
			return 0, fmt.Errorf("%q is not a number of days like 7d", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a period like 7d or 30d", s)
		}
	}
	if d%(24*time.Hour) != 0 || d < 24*time.Hour || d > 366*24*time.Hour {
		return 0, fmt.Errorf("%q must be whole days from 1d to 366d", s)
	}
	return d, nil
}
