package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/store"
)

// seedState writes a store of 40 alerts posted ten days apart, counting
// back from now (`bot prune` runs on the wall clock), each in its own
// message.
func seedState(t *testing.T, path string) {
	t.Helper()
	s, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	var ps []store.Posting
	for i := range 40 {
		ps = append(ps, store.Posting{Tenant: "contoso", AlertID: fmt.Sprintf("a%d", i), Channel: "C0DIGEST", TS: fmt.Sprintf("%d.1", i),
			PostedAt: now.AddDate(0, 0, -10*i)})
	}
	if err := s.MarkPosted(context.Background(), ps); err != nil {
		t.Fatal(err)
	}
}

func TestPruneCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	seedState(t, path)
	env := []string{"DATABASE_URL=sqlite:" + path, "STATE_RETENTION=100d"}
	// Alerts posted 0, 10, … 390 days ago: those older than 100 days go
	// (the 11th on), the first 10 stay.
	code, out, errs := runCLI(env, "prune", "--dry-run")
	if code != exitOK || strings.TrimSpace(out) != "posted_alerts  30" || !strings.Contains(errs, "would prune (dry run, nothing deleted) 30 rows older than") ||
		!strings.Contains(errs, "now 40 rows (posted_alerts 40)") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runCLI(env, "prune")
	if code != exitOK || strings.TrimSpace(out) != "posted_alerts  30" || !strings.Contains(errs, "pruned 30 rows older than") ||
		!strings.Contains(errs, "(STATE_RETENTION=100d, the report's two periods kept)") || !strings.Contains(errs, "now 10 rows (posted_alerts 10)") ||
		!strings.Contains(errs, `msg="audit: state pruned by bot prune" rows=30`) {
		t.Fatalf("prune: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs = runCLI(env, "prune"); code != exitOK || out != "" || !strings.Contains(errs, "pruned 0 rows") {
		t.Fatalf("second prune: exit %d\n%s%s", code, out, errs)
	}
	// Keeping everything prunes nothing of it.
	if code, out, errs = runCLI(with(env, "STATE_RETENTION=0"), "prune"); code != exitOK || out != "" ||
		!strings.Contains(errs, "(STATE_RETENTION=0 keeps history)") {
		t.Fatalf("keep forever: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs = runCLI(with(env, "STATE_RETENTION=7d"), "prune"); code != exitUsage || !strings.Contains(errs, "STATE_RETENTION must be 0 (keep everything) or at least 15d") {
		t.Fatalf("short retention: exit %d %s", code, errs)
	}
	if code, _, _ = runCLI(env, "prune", "--now"); code != exitUsage {
		t.Fatalf("bad flag: exit %d", code)
	}
}

func TestPruneCommandHidesTheDatabasePassword(t *testing.T) {
	code, out, errs := runCLI([]string{"DATABASE_URL=postgres://mcas:hunter2@127.0.0.1:1/mcasbot?connect_timeout=2"}, "prune")
	if code != exitUpstream || strings.Contains(out+errs, "hunter2") || !strings.Contains(errs, "state store postgres (127.0.0.1/mcasbot)") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
}

func TestCheckPrintsTheStoreSize(t *testing.T) {
	w := newCheckWorld(t)
	var path string
	for _, kv := range w.env {
		if v, ok := strings.CutPrefix(kv, "DATABASE_URL=sqlite:"); ok {
			path = v
		}
	}
	seedState(t, path)
	code, out, errs := runCLI(w.env, "check")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	var line string
	for l := range strings.Lines(out) {
		if strings.HasPrefix(l, "store      ok    40 rows") {
			line = l
		}
	}
	if !strings.Contains(line, "40 rows (posted_alerts 40), ") || !strings.Contains(line, " kB; pruned daily of what is older than 180d") {
		t.Fatalf("no size line:\n%s", out)
	}
}

// The running bot exports the store's size from the start.
func TestRunningBotExportsTheStoreSize(t *testing.T) {
	_, env := fakeTenant(t)
	fake := slackfake.New()
	defer fake.Close()
	path := filepath.Join(t.TempDir(), "s.db")
	seedState(t, path)
	env = append(env, "SLACK_BOT_TOKEN=xoxb-ops", "SLACK_APP_TOKEN=xapp-ops", "SLACK_API_URL="+fake.APIURL(),
		"HTTP_ADDR=127.0.0.1:0", "LOG_FORMAT=json", "DATABASE_URL=sqlite:"+path)
	ctx, cancel := context.WithCancel(context.Background())
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"run"}, nil, &bytes.Buffer{}, &stderr, env) }()
	defer func() { cancel(); <-done }()
	var metrics string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		m := addrRE.FindStringSubmatch(stderr.String())
		if m == nil {
			continue
		}
		resp, err := http.Get("http://" + m[1] + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if metrics = string(b); strings.Contains(metrics, `mcasbot_store_rows{table="posted_alerts"} 40`) {
			break
		}
	}
	if !strings.Contains(metrics, `mcasbot_store_rows{table="posted_alerts"} 40`) || !strings.Contains(metrics, "mcasbot_store_bytes ") {
		t.Fatalf("no store size in the metrics:\n%s\n%s", metrics, stderr.String())
	}
	if !strings.Contains(stderr.String(), `"msg":"prune scheduled"`) {
		t.Fatalf("the prune is not scheduled:\n%s", stderr.String())
	}
}
