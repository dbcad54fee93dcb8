package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/report"
	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/store"
)

func TestReportDryRunPrintsAndWritesTheChart(t *testing.T) {
	dir := t.TempDir()
	env := []string{"DATABASE_URL=sqlite:" + filepath.Join(dir, "s.db")}
	out := filepath.Join(dir, "month.png")
	code, stdout, stderr := runCLI(env, "report", "--dry-run", "--period=30d", "--out="+out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var msg struct {
		Text   string            `json:"text"`
		Blocks []json.RawMessage `json:"blocks"`
	}
	if err := json.Unmarshal([]byte(stdout), &msg); err != nil || !strings.HasPrefix(msg.Text, "MCAS report: ") || len(msg.Blocks) < 5 {
		t.Fatalf("stdout %q: %v", stdout, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(b)); err != nil || cfg.Width != report.ChartWidth {
		t.Fatalf("chart %+v %v", cfg, err)
	}
	if !strings.Contains(stderr, "chart written to "+out) {
		t.Fatalf("stderr %q", stderr)
	}
	if code, _, stderr := runCLI(env, "report", "--dry-run", "--period=1w"); code != exitUsage || !strings.Contains(stderr, "--period") {
		t.Fatalf("bad period: exit %d %q", code, stderr)
	}
}

func TestReportPostsWithItsChart(t *testing.T) {
	fake := slackfake.New()
	defer fake.Close()
	env := []string{"SLACK_BOT_TOKEN=xoxb-report-secret", "SLACK_APP_TOKEN=xapp-report-secret", "SLACK_API_URL=" + fake.APIURL(),
		"DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "s.db")}
	if code, _, stderr := runCLI(env, "report"); code != exitUsage || !strings.Contains(stderr, "REPORT_CHANNEL (or DIGEST_CHANNEL) is not set") {
		t.Fatalf("no channel: exit %d %q", code, stderr)
	}
	env = append(env, "DIGEST_CHANNEL=C0DIGEST", "REPORT_CHANNEL=C0LEADS")
	code, _, stderr := runCLI(env, "report")
	if code != exitOK || !strings.Contains(stderr, "posted to C0LEADS") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	posts, files := fake.Posts(), fake.Files()
	if len(posts) != 1 || posts[0].Channel != "C0LEADS" || len(files) != 1 || files[0].Thread != posts[0].TS {
		t.Fatalf("posts %+v files %+v", posts, files)
	}
	fake.FailUpload("files.getUploadURLExternal", "missing_scope")
	code, _, stderr = runCLI(env, "report")
	if code != exitUpstream || !strings.Contains(stderr, "files:write") || strings.Contains(stderr, "xoxb-report-secret") {
		t.Fatalf("upload failure: exit %d %q", code, stderr)
	}
}

// By hand the report runs up to now, today so far; --until=midnight is the
// scheduled window; anything else is a usage error.
func TestReportUntil(t *testing.T) {
	dir := t.TempDir()
	env := []string{"DATABASE_URL=sqlite:" + filepath.Join(dir, "s.db")}
	out := filepath.Join(dir, "r.png")
	titles := func(at ...time.Time) []string {
		var ts []string
		for _, now := range at {
			from, to := report.UpToNow(now, 7*24*time.Hour)
			ts = append(ts, report.Stats{From: from, To: to}.Title())
		}
		return ts
	}
	before := time.Now()
	code, stdout, stderr := runCLI(env, "report", "--dry-run", "--out="+out)
	after := time.Now()
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := titles(before, after); !strings.Contains(stdout, "MCAS weekly report: "+want[0]) && !strings.Contains(stdout, "MCAS weekly report: "+want[1]) ||
		!strings.Contains(stderr, "report "+want[0]) && !strings.Contains(stderr, "report "+want[1]) || !strings.Contains(stdout, ", so far") {
		t.Fatalf("not up to now (%q): stdout %.300s\nstderr %s", want, stdout, stderr)
	}
	code, stdout, stderr = runCLI(env, "report", "--dry-run", "--until=midnight", "--out="+out)
	from, to := report.Window(time.Now(), 7*24*time.Hour)
	if code != exitOK || strings.Contains(stdout, "so far") || !strings.Contains(stderr, "report "+report.Stats{From: from, To: to}.Title()+":") {
		t.Fatalf("until midnight: exit %d %q", code, stderr)
	}
	for _, bad := range []string{"noon", "", "2026-12-06"} {
		code, _, stderr := runCLI(env, "report", "--dry-run", "--until="+bad)
		if code != exitUsage || !strings.Contains(stderr, "--until:") || !strings.Contains(stderr, "is not now") {
			t.Errorf("--until=%q: exit %d %q", bad, code, stderr)
		}
	}
	if code, _, stderr := runCLI(env, "report", "--dry-run", "now"); code != exitUsage || !strings.Contains(stderr, "only flags") {
		t.Errorf("stray argument: exit %d %q", code, stderr)
	}
}

// bot report does not consult the scheduled report's record, but says
// when the scheduled one was sent.
func TestReportSaysTheScheduledOneWasSent(t *testing.T) {
	fake := slackfake.New()
	defer fake.Close()
	db := filepath.Join(t.TempDir(), "s.db")
	env := []string{"SLACK_BOT_TOKEN=xoxb-report-secret", "SLACK_APP_TOKEN=xapp-report-secret", "SLACK_API_URL=" + fake.APIURL(),
		"DATABASE_URL=sqlite:" + db, "REPORT_CHANNEL=C0LEADS"}
	st, err := store.Open(context.Background(), "sqlite:"+db)
	if err != nil {
		t.Fatal(err)
	}
	// The scheduled report of the last whole week was sent (both weeks if
	// the test straddles midnight).
	var titles []string
	var sentAt time.Time
	for _, at := range []time.Time{time.Now(), time.Now().Add(time.Minute)} {
		from, to := report.Window(at, 7*24*time.Hour)
		period := schedule.PeriodKey(from, to)
		if _, ok, _ := st.ClaimReport(context.Background(), period, "replica-a", time.Minute); ok {
			_, _ = st.ReportPosted(context.Background(), period, "replica-a", "C0LEADS", "1700000000.000100")
			_, _ = st.FinishReport(context.Background(), period, "replica-a", store.ReportSent, "")
			rec, _, _ := st.ReportSend(context.Background(), period)
			titles, sentAt = append(titles, report.Stats{From: from, To: to}.Title()), rec.EndedAt
		}
	}
	_ = st.Close()
	code, _, stderr := runCLI(env, "report")
	want := " was sent at " + sentAt.Format("2006-01-02 15:04") + " UTC to C0LEADS (attempt 1); this one was posted as well, by hand"
	if code != exitOK || !strings.Contains(stderr, want) || !slices.ContainsFunc(titles, func(title string) bool { return strings.Contains(stderr, "the scheduled report of "+title+" was sent") }) {
		t.Fatalf("exit %d: %q\nwant %q, one of %q", code, stderr, want, titles)
	}
	if posts := fake.Posts(); len(posts) != 1 || posts[0].Channel != "C0LEADS" || len(fake.Files()) != 1 {
		t.Fatalf("not posted by hand: %+v", posts)
	}
}
