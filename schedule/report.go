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
// numbers, and the chart uploaded into its thread. The scheduled report
// covers whole UTC days and is sent once per period across replicas,
// retried when Slack fails; a report by hand (bot report) runs up to now.
type PeriodicReport struct {
	Store   store.Store
	Slack   ReportSlack // nil for a dry run
	Channel string
	// Period is how far back the report looks (default 7 days), in whole
	// UTC days.
	Period time.Duration
	Now    func() time.Time
	Logger *slog.Logger
	// Owner names this replica in the period's send record (default
	// DefaultOwner()).
	Owner string
	// Backoff are the waits between a scheduled report's attempts (default
	// 1m, 5m, 15m: four attempts). A Slack 429 waits its Retry-After
	// instead. No attempt starts a period or more after the slot.
	Backoff []time.Duration
	// Lease is how long an attempt holds the period (default 10m); an
	// attempt is cut off at half of it, so no other replica takes over a
	// live one.
	Lease time.Duration
	// Sleep waits between attempts (default: a timer); tests move their
	// clock instead.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Until says where a report by hand ends.
type Until string

const (
	// UntilNow runs up to now: whole days and today so far (the default).
	UntilNow Until = "now"
	// UntilMidnight is the scheduled report's window: whole days up to
	// last midnight UTC.
	UntilMidnight Until = "midnight"
)

// ParseUntil reads bot report's --until.
func ParseUntil(s string) (Until, error) {
	switch u := Until(strings.ToLower(strings.TrimSpace(s))); u {
	case UntilNow, UntilMidnight:
		return u, nil
	}
	return "", fmt.Errorf("%q is not now (up to now, today so far) or midnight (whole days up to last midnight UTC, as scheduled)", s)
}

// ReportResult is what a report run made.
type ReportResult struct {
	Stats   report.Stats
	Message *slack.WebhookMessage
	Chart   []byte // PNG
	Channel string // where the message is
	TS      string // the posted message
	// ChartProblem says why the chart could not be attached ("" if it was).
	ChartProblem string
	// Attempt is the scheduled report's attempt that ended the run.
	Attempt int
	// Scheduled is the record of the scheduled report of the last whole
	// period, when it was sent (a report by hand says so).
	Scheduled *store.ReportSend
}

// PeriodKey names a period in the send records.
func PeriodKey(from, to time.Time) string {
	return from.UTC().Format(time.RFC3339) + "/" + to.UTC().Format(time.RFC3339)
}

// Build computes the report of [from, to) and its chart from the store,
// compared with report.Previous(from, to).
func (r *PeriodicReport) Build(ctx context.Context, from, to time.Time) (ReportResult, error) {
	r.defaults()
	cur, err := r.Store.Activity(ctx, from, to)
	if err != nil {
		return ReportResult{}, fmt.Errorf("reading the period's records: %w", err)
	}
	pfrom, pto := report.Previous(from, to)
	prev, err := r.Store.Activity(ctx, pfrom, pto)
	if err != nil {
		return ReportResult{}, fmt.Errorf("reading the previous period's records: %w", err)
	}
	res := ReportResult{Stats: report.Compute(from, to, cur, prev), Channel: r.Channel}
	if res.Chart, err = report.Chart(res.Stats); err != nil {
		return res, err
	}
	res.Message = formatting.Report(formatting.ReportInput{Stats: res.Stats})
	return res, nil
}

// RunByHand builds the report now (bot report) up to until and, unless
// dry, posts it and uploads the chart into its thread, whether or not the
// scheduled one was sent (Scheduled says when it was). A chart that
// cannot be uploaded leaves the report standing, updated to say so; the
// outcome is then "chart_failed".
func (r *PeriodicReport) RunByHand(ctx context.Context, until Until, dryRun bool) (ReportResult, string, error) {
	r.defaults()
	now := r.Now()
	from, to := report.UpToNow(now, r.Period)
	if until == UntilMidnight {
		from, to = report.Window(now, r.Period)
	}
	res, err := r.Build(ctx, from, to)
	if err != nil {
		return res, "failed", err
	}
	if rec, ok, err := r.Store.ReportSend(ctx, PeriodKey(report.Window(now, r.Period))); err != nil {
		r.Logger.Warn("cannot read whether the scheduled report was sent", "error", err)
	} else if ok && rec.State == store.ReportSent {
		res.Scheduled = &rec
	}
	if dryRun {
		return res, "ok", nil
	}
	if res.TS, err = r.post(ctx, res.Message, 3); err != nil {
		return res, "failed", err
	}
	err = r.upload(ctx, res)
	r.audit(res, PeriodKey(from, to), "hand", err == nil)
	if err == nil {
		return res, "ok", nil
	}
	r.Logger.Warn("the report's chart could not be attached", "error", err)
	r.noteMissingChart(ctx, &res, err)
	return res, "chart_failed", nil
}

// RunScheduled sends the scheduled report of the slot that fired at slot:
// the whole days before it, once across replicas. Each attempt is claimed
// in the store; one that fails is retried after Backoff (a message posted
// but whose chart failed gets only the chart, in its thread). After the
// last attempt it gives up loudly: outcome "failed" with no message, or
// "chart_failed" when the message stands without its chart. "skipped"
// when the period was sent or given up already.
func (r *PeriodicReport) RunScheduled(ctx context.Context, slot time.Time) (ReportResult, string, error) {
	r.defaults()
	from, to := report.Window(slot, r.Period)
	period := PeriodKey(from, to)
	log := r.Logger.With("period", period)
	deadline := slot.Add(r.Period)
	var res ReportResult
	for {
		rec, ok, err := r.Store.ClaimReport(ctx, period, r.Owner, r.Lease)
		if err != nil {
			return res, "store_error", fmt.Errorf("claiming the report of %s: %w", period, err)
		}
		var wait time.Duration
		switch {
		case !ok && rec.State == store.ReportSent:
			log.Info("report already sent", "channel", rec.Channel, "ts", rec.TS, "sent_at", rec.EndedAt, "attempt", rec.Attempts, "by", rec.Owner)
			return res, "skipped", nil
		case !ok && rec.State == store.ReportFailed:
			log.Info("report was given up", "attempt", rec.Attempts, "by", rec.Owner, "error", rec.Error)
			return res, "skipped", nil
		case !ok:
			// Another replica's attempt is under way: look again later, to
			// take over if it dies.
			wait = r.step(rec.Attempts)
			log.Info("report being sent elsewhere", "by", rec.Owner, "attempt", rec.Attempts)
		default:
			res.Attempt = rec.Attempts
			actx, cancel := context.WithTimeout(ctx, r.Lease/2)
			err = r.attempt(actx, &res, from, to, rec)
			cancel()
			if err == nil {
				r.finish(ctx, log, period, store.ReportSent, "")
				r.audit(res, period, "schedule", true)
				return res, "ok", nil
			}
			wait = r.step(rec.Attempts)
			var rl *slack.RateLimitedError
			if errors.As(err, &rl) {
				wait = max(rl.RetryAfter, time.Second)
			}
			if ctx.Err() != nil {
				// Shutting down mid-attempt: a restarted replica resumes.
				r.finish(ctx, log, period, store.ReportSending, err.Error())
				log.Info("report attempt interrupted", "attempt", rec.Attempts, "error", err)
				return res, "interrupted", nil
			}
			if rec.Attempts > len(r.Backoff) || r.Now().Add(wait).After(deadline) {
				return r.giveUp(ctx, log, res, period, err)
			}
			r.finish(ctx, log, period, store.ReportSending, err.Error())
			log.Warn("report attempt failed; trying again", "attempt", rec.Attempts, "in", wait.String(), "error", err)
		}
		if r.Now().Add(wait).After(deadline) {
			log.Warn("report still being sent elsewhere; no longer watching it", "by", rec.Owner)
			return res, "skipped", nil
		}
		if err := r.Sleep(ctx, wait); err != nil {
			// Shutting down: a restarted replica resumes the period.
			log.Info("report retry interrupted", "error", err)
			return res, "interrupted", nil
		}
	}
}

// Resume finishes the scheduled report of slot that a stopped replica
// left claimed but neither sent nor given up, while its retries may still
// run. It does nothing for a period no replica started. ran is false when
// there was nothing to do.
func (r *PeriodicReport) Resume(ctx context.Context, slot time.Time) (outcome string, ran bool) {
	r.defaults()
	period := PeriodKey(report.Window(slot, r.Period))
	rec, ok, err := r.Store.ReportSend(ctx, period)
	if err != nil {
		r.Logger.Warn("cannot read the last scheduled report's record", "period", period, "error", err)
		return "store_error", false
	}
	if !ok || rec.State != store.ReportSending || !r.Now().Before(slot.Add(r.Period)) {
		return "", false
	}
	r.Logger.Info("resuming the scheduled report", "period", period, "attempts", rec.Attempts, "by", rec.Owner)
	_, outcome, err = r.RunScheduled(ctx, slot)
	if err != nil {
		r.Logger.Error("report not resumed", "period", period, "error", err)
	}
	return outcome, true
}

// attempt builds the report (once per run), posts it unless an earlier
// attempt did, and uploads the chart into its thread.
func (r *PeriodicReport) attempt(ctx context.Context, res *ReportResult, from, to time.Time, rec store.ReportSend) error {
	if rec.TS != "" {
		// An earlier attempt posted it: only the chart is missing. (An
		// attempt of this run that posted but could not record it left
		// res.TS set.)
		res.Channel, res.TS = rec.Channel, rec.TS
	}
	if res.Message == nil {
		built, err := r.Build(ctx, from, to)
		if err != nil {
			return err
		}
		res.Stats, res.Message, res.Chart = built.Stats, built.Message, built.Chart
	}
	if res.TS == "" {
		ts, err := r.post(ctx, res.Message, 0)
		if err != nil {
			return err
		}
		res.Channel, res.TS = r.Channel, ts
		r.Logger.Info("report posted", "channel", r.Channel, "ts", ts, "alerts", res.Stats.Alerts.Total(), "attempt", rec.Attempts)
		held, err := r.Store.ReportPosted(context.WithoutCancel(ctx), rec.Period, r.Owner, r.Channel, ts)
		switch {
		case err != nil:
			r.Logger.Error("report posted but not recorded: if this replica stops, another could post it again", "ts", ts, "error", err)
		case !held:
			r.Logger.Error("report posted after this replica's claim ended", "ts", ts, "period", rec.Period)
		}
	}
	if err := r.upload(ctx, *res); err != nil {
		return &chartError{err}
	}
	return nil
}

// chartError is an attempt that posted the report but not its chart.
type chartError struct{ err error }

func (e *chartError) Error() string { return "attaching the chart: " + e.err.Error() }
func (e *chartError) Unwrap() error { return e.err }

// giveUp ends the period after the last attempt: the message, if posted,
// stands and says the chart is missing.
func (r *PeriodicReport) giveUp(ctx context.Context, log *slog.Logger, res ReportResult, period string, err error) (ReportResult, string, error) {
	ctx = context.WithoutCancel(ctx)
	if res.TS == "" {
		r.finish(ctx, log, period, store.ReportFailed, err.Error())
		log.Error("report not sent: gave up after the last attempt; bot report sends it by hand", "attempt", res.Attempt, "channel", r.Channel, "error", err)
		return res, "failed", nil
	}
	problem := err
	if ce := (*chartError)(nil); errors.As(err, &ce) {
		problem = ce.err
	}
	r.noteMissingChart(ctx, &res, problem)
	r.finish(ctx, log, period, store.ReportSent, err.Error())
	log.Error("report's chart not attached: gave up after the last attempt; the report stands without it", "attempt", res.Attempt,
		"channel", res.Channel, "ts", res.TS, "error", err)
	r.audit(res, period, "schedule", false)
	return res, "chart_failed", nil
}

func (r *PeriodicReport) finish(ctx context.Context, log *slog.Logger, period string, state store.ReportState, why string) {
	held, err := r.Store.FinishReport(context.WithoutCancel(ctx), period, r.Owner, state, why)
	switch {
	case err != nil:
		log.Error("could not record the report's attempt", "state", string(state), "error", err)
	case !held:
		log.Warn("the report's attempt was taken over before it ended", "state", string(state))
	}
}

// step is the wait after the attempt-th attempt.
func (r *PeriodicReport) step(attempt int) time.Duration {
	return r.Backoff[min(max(attempt, 1), len(r.Backoff))-1]
}

func (r *PeriodicReport) audit(res ReportResult, period, by string, chart bool) {
	r.Logger.Info("audit: weekly report posted", "channel", res.Channel, "ts", res.TS, "period", period, "attempt", max(res.Attempt, 1),
		"by", by, "chart", chart, "alerts", res.Stats.Alerts.Total())
}

// noteMissingChart updates the posted report to say why its chart is missing.
func (r *PeriodicReport) noteMissingChart(ctx context.Context, res *ReportResult, err error) {
	res.ChartProblem = chartProblem(err)
	res.Message = formatting.Report(formatting.ReportInput{Stats: res.Stats, ChartProblem: res.ChartProblem})
	if _, _, _, err := r.Slack.UpdateMessageContext(ctx, res.Channel, res.TS, slack.MsgOptionText(res.Message.Text, false),
		slack.MsgOptionBlocks(res.Message.Blocks.BlockSet...)); err != nil {
		r.Logger.Warn("could not note the missing chart on the report", "error", err)
	}
}

func (r *PeriodicReport) upload(ctx context.Context, res ReportResult) error {
	s := res.Stats
	_, err := r.Slack.UploadFileContext(ctx, slack.UploadFileParameters{
		Reader: bytes.NewReader(res.Chart), FileSize: len(res.Chart),
		Filename: "mcas-report-" + s.From.Format("2006-01-02") + ".png", Title: "MCAS alerts per day, " + s.Title(),
		AltTxt: fmt.Sprintf("Stacked bars of MCAS alerts per day by severity and a line of Jira issues filed per day, %s: %d alerts, %d issues filed.",
			s.Title(), s.Alerts.Total(), s.Filed),
		Channel: res.Channel, ThreadTimestamp: res.TS,
	})
	return err
}

// chartProblem says in a few words why the upload failed.
func chartProblem(err error) string {
	if err == nil {
		return "unknown error"
	}
	msg := err.Error()
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && (se.Err == "missing_scope" || se.Err == "not_allowed_token_type") {
		return msg + " (the app needs the files:write scope)"
	}
	return msg
}

// post sends the report, waiting out up to retries of Slack's 429.
func (r *PeriodicReport) post(ctx context.Context, msg *slack.WebhookMessage, retries int) (string, error) {
	for attempt := 0; ; attempt++ {
		_, ts, err := r.Slack.PostMessageContext(ctx, r.Channel, slack.MsgOptionText(msg.Text, false),
			slack.MsgOptionBlocks(msg.Blocks.BlockSet...), slack.MsgOptionDisableLinkUnfurl())
		var rl *slack.RateLimitedError
		if err == nil || !errors.As(err, &rl) || attempt == retries {
			if err != nil {
				return "", fmt.Errorf("posting the report to %s: %w", r.Channel, err)
			}
			return ts, nil
		}
		if err := r.Sleep(ctx, max(rl.RetryAfter, time.Second)); err != nil {
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
	if r.Owner == "" {
		r.Owner = DefaultOwner()
	}
	if len(r.Backoff) == 0 {
		r.Backoff = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute}
	}
	if r.Lease <= 0 {
		r.Lease = 10 * time.Minute
	}
	if r.Sleep == nil {
		r.Sleep = httpx.Sleep
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
