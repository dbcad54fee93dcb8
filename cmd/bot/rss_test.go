package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
)

// TestMeasureRSSAfterADigest measures the real binary: `run` with 100
// tenants (a tenants file on one Fleet, 30 of them on Entra ID) and
// SQLite, one scheduled digest of 100 × 20 alerts into the fake Slack,
// then its resident memory once idle. It takes a few minutes (the digest
// is paced at Slack's one message a second per channel), so it runs only
// with MCASBOT_MEASURE_RSS=1; CI does not need it.
func TestMeasureRSSAfterADigest(t *testing.T) {
	if os.Getenv("MCASBOT_MEASURE_RSS") != "1" {
		t.Skip("set MCASBOT_MEASURE_RSS=1 to build the bot and measure its memory (minutes)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bot")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	fleet := mcasfake.NewFleet()
	defer fleet.Close()
	authority := entrafake.New()
	defer authority.Close()
	ca := filepath.Join(dir, "entra-ca.pem")
	if err := authority.WriteCA(ca); err != nil {
		t.Fatal(err)
	}
	slack := slackfake.New()
	defer slack.Close()
	env := hundredTenants(t, fleet, authority, 100, 20)
	// The digest fires at the next whole minute at least 20 s away, once.
	at := time.Now().UTC().Add(20 * time.Second).Truncate(time.Minute).Add(time.Minute)
	env = append(env, "SSL_CERT_FILE="+ca, "SLACK_API_URL="+slack.APIURL(), "HTTP_ADDR=127.0.0.1:0", "LOG_FORMAT=json",
		"DIGEST_MIN_SEVERITY=informational", fmt.Sprintf("DIGEST_SCHEDULE=%d %d * * *", at.Minute(), at.Hour()), "DIGEST_TIMEZONE=UTC",
		"PATH="+os.Getenv("PATH"))
	cmd := exec.Command(bin, "run")
	cmd.Env = env
	var logs lockedBuffer
	cmd.Stderr = &logs
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }()
	if err := slack.WaitConnections(1, 60*time.Second); err != nil {
		t.Fatal(err, logs.String())
	}
	connected := time.Since(began)
	// status reads a line of /proc/<pid>/status in MB: VmRSS now, VmHWM
	// the peak.
	status := func(key string) int {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(key + `:\s+(\d+) kB`).FindSubmatch(b)
		n, _ := strconv.Atoi(string(m[1]))
		return n / 1024
	}
	rss := func() int { return status("VmRSS") }
	time.Sleep(3 * time.Second) // idle: what is measured, not a wait for something
	atStart := rss()
	deadline := time.Now().Add(time.Until(at) + 8*time.Minute)
	for !strings.Contains(logs.String(), `"msg":"digest done"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no digest:\n%s", logs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	posted := 0
	for _, p := range slack.Posts() {
		if p.Method == "chat.postMessage" {
			posted++
		}
	}
	time.Sleep(5 * time.Second) // idle again
	after := rss()
	base := opsURL(t, logs.String)
	_, metrics := httpGet(t, base+"/metrics")
	gauge := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(metrics)
		if m == nil {
			return "?"
		}
		f, _ := strconv.ParseFloat(m[1], 64)
		return fmt.Sprintf("%.1f MB", f/1e6)
	}
	var done string
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, `"msg":"digest done"`) {
			done = strings.TrimSpace(line)
		}
	}
	t.Logf("100 tenants: Socket Mode connected %v after exec; RSS %d MB idle at start, %d MB at the peak, %d MB idle after the digest (%d messages posted); heap in use %s, Go sys %s\n%s",
		connected.Round(time.Millisecond), atStart, status("VmHWM"), after, posted, gauge("go_memstats_heap_inuse_bytes"), gauge("go_memstats_sys_bytes"), done)
	if !strings.Contains(done, `"new":2000`) {
		t.Errorf("the digest did not post 2,000 new alerts")
	}
	if after > 80 {
		t.Errorf("RSS %d MB after the digest, over 80 MB", after)
	}
}
