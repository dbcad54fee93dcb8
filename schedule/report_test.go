package schedule_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/report"
	"github.com/soc/mcasbot/schedule"
)

const reportChannel = "C0REPORT"

// reportWorld has a week of digests behind it: one run today.
func reportWorld(t *testing.T) (*world, *schedule.PeriodicReport) {
	t.Helper()
	w := newWorld(t, 40)
	d, st := w.digest(t)
	if rep, err := d.Run(context.Background(), false); err != nil || rep.Posted == 0 {
		t.Fatalf("%+v %v", rep, err)
	}
	r := &schedule.PeriodicReport{Store: st, Slack: slack.New("xoxb-test", slack.OptionAPIURL(w.slack.APIURL())), Channel: reportChannel,
		Now: func() time.Time { return w.now.AddDate(0, 0, 1) }}
	return w, r
}

func TestReportPostsAndAttachesItsChart(t *testing.T) {
	t.Parallel()
	w, r := reportWorld(t)
	res, outcome, err := r.Run(context.Background(), false)
	if err != nil || outcome != "ok" || res.ChartProblem != "" || res.Stats.Alerts.Total() == 0 {
		t.Fatalf("%q %+v %v", outcome, res.Stats, err)
	}
	var msgs []string
	for _, p := range w.slack.Posts() {
		if p.Channel == reportChannel {
			msgs = append(msgs, p.Method)
			if !strings.Contains(string(p.Blocks), "alerts* posted by the digest") || p.TS != res.TS {
				t.Fatalf("report %s", p.Blocks)
			}
		}
	}
	if len(msgs) != 1 || msgs[0] != "chat.postMessage" {
		t.Fatalf("report messages %v", msgs)
	}
	files := w.slack.Files()
	if len(files) != 1 || files[0].Channel != reportChannel || files[0].Thread != res.TS || !strings.HasPrefix(files[0].Title, "MCAS alerts per day") ||
		!strings.HasSuffix(files[0].Name, ".png") || files[0].AltText == "" {
		t.Fatalf("files %+v", files)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(files[0].Bytes))
	if err != nil || cfg.Width != report.ChartWidth || cfg.Height != report.ChartHeight || !bytes.Equal(files[0].Bytes, res.Chart) {
		t.Fatalf("uploaded chart %+v %v", cfg, err)
	}
}

func TestReportStandsWhenTheChartCannotBeAttached(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ step, err, want string }{
		{"files.getUploadURLExternal", "missing_scope", "(the app needs the files:write scope)"},
		{"upload", "", "500"},
		{"files.completeUploadExternal", "not_in_channel", "not_in_channel"},
	} {
		t.Run(tc.step, func(t *testing.T) {
			t.Parallel()
			w, r := reportWorld(t)
			w.slack.FailUpload(tc.step, tc.err)
			res, outcome, err := r.Run(context.Background(), false)
			if err != nil || outcome != "chart_failed" || !strings.Contains(res.ChartProblem, tc.want) {
				t.Fatalf("%q %q %v", outcome, res.ChartProblem, err)
			}
			if len(w.slack.Files()) != 0 {
				t.Fatal("a file was shared")
			}
			updated := ""
			for _, p := range w.slack.Posts() {
				if p.Method == "chat.update" && p.Channel == reportChannel && p.TS == res.TS {
					updated = string(p.Blocks)
				}
			}
			if !strings.Contains(updated, "The chart could not be attached") || !strings.Contains(updated, "alerts* posted by the digest") {
				t.Fatalf("the report does not say the chart is missing: %s", updated)
			}
		})
	}
}

func TestReportDryRunPostsNothing(t *testing.T) {
	t.Parallel()
	w, r := reportWorld(t)
	before := len(w.slack.Posts())
	r.Slack = nil
	res, _, err := r.Run(context.Background(), true)
	if err != nil || res.Message == nil || len(res.Chart) == 0 || res.TS != "" {
		t.Fatalf("%+v %v", res, err)
	}
	if len(w.slack.Posts()) != before || len(w.slack.Files()) != 0 {
		t.Fatal("dry run posted")
	}
	if _, err := json.Marshal(res.Message); err != nil {
		t.Fatal(err)
	}
}

func TestReportOncePerSlotAcrossReplicas(t *testing.T) {
	t.Parallel()
	w, r := reportWorld(t)
	var mu sync.Mutex
	var outcomes []string
	var jobs []*schedule.SlotJob
	for _, owner := range []string{"replica-a", "replica-b"} {
		j, err := schedule.NewSlotJob(&schedule.SlotJob{Name: "report", Store: r.Store, Owner: owner, Logger: slog.New(slog.DiscardHandler),
			Run: func(ctx context.Context) (string, error) {
				_, o, err := r.Run(ctx, false)
				return o, err
			},
			OnRun: func(o string) { mu.Lock(); outcomes = append(outcomes, o); mu.Unlock() }}, "0 9 * * MON", "UTC")
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	fired := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() { j.RunSlot(context.Background(), fired.Add(5*time.Millisecond)) })
	}
	wg.Wait()
	jobs[1].RunSlot(context.Background(), fired.Add(time.Minute))
	slices.Sort(outcomes)
	if strings.Join(outcomes, ",") != "ok,skipped,skipped" {
		t.Fatalf("outcomes %v", outcomes)
	}
	if len(w.slack.Files()) != 1 {
		t.Fatalf("%d charts", len(w.slack.Files()))
	}
}

func TestParsePeriod(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour, "168h": 7 * 24 * time.Hour, " 1d ": 24 * time.Hour} {
		if got, err := schedule.ParsePeriod(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "0d", "-7d", "36h", "1w", "7 d", "400d", "d", "7.5d"} {
		if _, err := schedule.ParsePeriod(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
