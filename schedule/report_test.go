package schedule_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

// reportWorld has one digest run behind it, just now; the report is asked
// for by hand a minute later.
func reportWorld(t *testing.T) (*world, *schedule.PeriodicReport) {
	t.Helper()
	w := newWorld(t, 40)
	d, st := w.digest(t)
	if rep, err := d.Run(context.Background(), false); err != nil || rep.Posted == 0 {
		t.Fatalf("%+v %v", rep, err)
	}
	r := &schedule.PeriodicReport{Store: st, Slack: slack.New("xoxb-test", slack.OptionAPIURL(w.slack.APIURL())), Channel: reportChannel,
		Now: func() time.Time { return w.now.Add(time.Minute) }}
	return w, r
}

func TestReportPostsAndAttachesItsChart(t *testing.T) {
	t.Parallel()
	w, r := reportWorld(t)
	res, outcome, err := r.RunByHand(context.Background(), schedule.UntilNow, false)
	// By hand, up to now: the digest of a minute ago counts, today so far.
	if err != nil || outcome != "ok" || res.ChartProblem != "" || res.Stats.Alerts.Total() == 0 {
		t.Fatalf("%q %+v %v", outcome, res.Stats, err)
	}
	now := w.now.Add(time.Minute)
	title := fmt.Sprintf("(%s so far, to %s UTC)", now.Format("2 Jan"), now.Format("15:04"))
	posted := res.Stats.Days[int(w.now.Sub(res.Stats.From)/(24*time.Hour))] // today, or yesterday a minute before midnight
	if !strings.HasSuffix(res.Stats.Title(), title) || posted.Alerts.Total() != res.Stats.Alerts.Total() || res.Scheduled != nil {
		t.Fatalf("title %q, day of the digest %+v", res.Stats.Title(), posted)
	}
	var msgs []string
	for _, p := range w.slack.Posts() {
		if p.Channel == reportChannel {
			msgs = append(msgs, p.Method)
			if !strings.Contains(string(p.Blocks), "alerts* posted by the digest") || !strings.Contains(string(p.Blocks), title) ||
				!strings.Contains(string(p.Blocks), now.Format("2 Jan")+", so far") || p.TS != res.TS {
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
			res, outcome, err := r.RunByHand(context.Background(), schedule.UntilNow, false)
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
	res, _, err := r.RunByHand(context.Background(), schedule.UntilMidnight, true)
	if err != nil || res.Message == nil || len(res.Chart) == 0 || res.TS != "" {
		t.Fatalf("%+v %v", res, err)
	}
	if len(w.slack.Posts()) != before || len(w.slack.Files()) != 0 {
		t.Fatal("dry run posted")
	}
	if _, err := json.Marshal(res.Message); err != nil {
		t.Fatal(err)
	}
	// --until=midnight: the last whole days, which hold none of today's
	// digest (unless it ran a minute before midnight).
	inWindow := w.now.Before(res.Stats.To)
	if res.Stats.Partial() || !res.Stats.To.Equal(w.now.Add(time.Minute).Truncate(24*time.Hour)) || (res.Stats.Alerts.Total() > 0) != inWindow {
		t.Fatalf("until midnight: %v – %v, %d alerts", res.Stats.From, res.Stats.To, res.Stats.Alerts.Total())
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
			Run: func(ctx context.Context, slot time.Time) (string, error) {
				_, o, err := r.RunScheduled(ctx, slot)
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

// At start the job hands the last slot to Resume (the report's retries a
// stopped replica left), and Stop waits for it.
func TestSlotJobResumesTheLastSlotAtStart(t *testing.T) {
	t.Parallel()
	done := make(chan time.Time, 1)
	j, err := schedule.NewSlotJob(&schedule.SlotJob{Name: "report", Run: func(context.Context, time.Time) (string, error) { return "ok", nil },
		Resume: func(_ context.Context, slot time.Time) { done <- slot }}, "0 9 * * MON", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	j.Start(context.Background())
	j.Stop()
	select {
	case slot := <-done:
		if slot.Weekday() != time.Monday || slot.Hour() != 9 || slot.Minute() != 0 || slot.After(before.Add(time.Minute)) || before.Sub(slot) > 7*24*time.Hour {
			t.Fatalf("resumed slot %v at %v", slot, before)
		}
	default:
		t.Fatal("Stop returned before Resume ran")
	}
}

// The slot of a weekly or monthly schedule between firings is the last
// firing, not the next (what Resume hands the report at start).
func TestSlotBetweenWeeklyFirings(t *testing.T) {
	weekly, loc, _ := schedule.ParseSchedule("0 9 * * MON", "Europe/Paris")
	friday := time.Date(2026, 11, 27, 15, 0, 0, 0, loc)
	if got, want := schedule.Slot(weekly, friday), time.Date(2026, 11, 23, 9, 0, 0, 0, loc); !got.Equal(want) {
		t.Fatalf("weekly slot %v, want %v", got, want)
	}
	monthly, _, _ := schedule.ParseSchedule("0 9 1 * *", "UTC")
	if got, want := schedule.Slot(monthly, time.Date(2028, 2, 29, 23, 0, 0, 0, time.UTC)), time.Date(2028, 2, 1, 9, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("monthly slot %v, want %v", got, want)
	}
}
