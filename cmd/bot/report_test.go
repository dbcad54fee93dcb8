package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/report"
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
