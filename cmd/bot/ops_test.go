package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
)

var addrRE = regexp.MustCompile(`"msg":"serving /healthz, /readyz and /metrics","addr":"([^"]+)"`)

func TestHealthReadinessAndMetricsOfTheRunningBot(t *testing.T) {
	srv, env := fakeTenant(t)
	fake := slackfake.New()
	defer fake.Close()
	env = append(env, "SLACK_BOT_TOKEN=xoxb-ops", "SLACK_APP_TOKEN=xapp-ops", "SLACK_API_URL="+fake.APIURL(),
		"HTTP_ADDR=127.0.0.1:0", "LOG_FORMAT=json", "DATABASE_URL=sqlite:"+filepath.Join(t.TempDir(), "s.db"))
	ctx, cancel := context.WithCancel(context.Background())
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"run"}, nil, &bytes.Buffer{}, &stderr, env) }()
	defer func() { cancel(); <-done }()
	if err := fake.WaitConnections(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	var base string
	for deadline := time.Now().Add(5 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(stderr.String()); m != nil {
			base = "http://" + m[1]
		}
	}
	if base == "" {
		t.Fatalf("no HTTP address in logs:\n%s", stderr.String())
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitReady := func(want int) string {
		var body string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			var code int
			if code, body = get("/readyz"); code == want {
				return body
			}
		}
		t.Fatalf("readyz never answered %d; last %s", want, body)
		return ""
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	waitReady(200)

	// Real events: a command, a failing tenant, a refused connection.
	id, _ := fake.SlashCommand("U0A", "C0SOC", "alerts limit=2")
	if _, err := fake.Responses(id, 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	srv.Fail(mcasfake.Fault{Status: 401})
	id, _ = fake.SlashCommand("U0A", "C0SOC", "alerts limit=2 high")
	if _, err := fake.Responses(id, 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	id, _ = fake.SlashCommand("U0A", "C0SOC", "alerts limit=2") // reused from the first
	if _, err := fake.Responses(id, 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	id, _ = fake.SlashCommand("U0A", "C0SOC", "ip 999.1.1.1")
	if _, err := fake.WaitAck(id, 5*time.Second); err != nil {
		t.Fatal(err)
	}

	// Socket down → 503 naming it; back → 200.
	fake.FailOpen("invalid_auth")
	fake.DropConnections()
	body := waitReady(503)
	var ready struct{ Down []string }
	_ = json.Unmarshal([]byte(body), &ready)
	if len(ready.Down) != 1 || ready.Down[0] != "slack_socket_mode" {
		t.Fatalf("readyz body %s", body)
	}
	fake.FailOpen("")
	waitReady(200)

	_, metrics := get("/metrics")
	for _, want := range []string{
		`mcasbot_commands_total{command="alerts",outcome="ok"} 2`,
		`mcasbot_query_cache_total{result="hit"} 1`,
		`mcasbot_query_cache_total{result="miss"} 2`,
		`mcasbot_commands_total{command="alerts",outcome="upstream_error"} 1`,
		`mcasbot_commands_total{command="invalid",outcome="bad_input"} 1`,
		`mcasbot_upstream_requests_total{integration="mcas",status="200"} 1`,
		`mcasbot_upstream_requests_total{integration="mcas",status="401"} 1`,
		`mcasbot_ack_seconds_count{kind="slash_command"} 4`,
		`mcasbot_reply_seconds_count{command="alerts"} 3`,
		`mcasbot_socketmode_reconnects_total 1`,
		`mcasbot_socketmode_connected 1`,
		`mcasbot_store_up 1`,
		`mcasbot_tenant_state{tenant="contoso"} 0`, // a 401 is an answer: contoso is not skipped
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
