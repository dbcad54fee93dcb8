package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/slackfake"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestRunServesAndShutsDownCleanly(t *testing.T) {
	srv, env := fakeTenant(t)
	slack := slackfake.New()
	defer slack.Close()
	env = append(env, "SLACK_BOT_TOKEN=xoxb-run-secret", "SLACK_APP_TOKEN=xapp-run-secret", "SLACK_API_URL="+slack.APIURL(),
		"SLACK_ALLOWED_CHANNELS=C0SOC", "LOG_LEVEL=debug", "LOG_FORMAT=json")
	ctx, cancel := context.WithCancel(context.Background())
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"run"}, nil, &bytes.Buffer{}, &stderr, env) }()
	if err := slack.WaitConnections(1, 5*time.Second); err != nil {
		t.Fatal(err, stderr.String())
	}
	srv.Fail(fault401())
	for _, text := range []string{"alerts limit=2", "alerts limit=2"} {
		id, err := slack.SlashCommand("U0A", "C0SOC", text)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := slack.Responses(id, 1, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop")
	}
	logs := stderr.String()
	if !strings.Contains(logs, "mcasbot stopped") || !strings.Contains(logs, "authentication failed") {
		t.Fatalf("logs:\n%s", logs)
	}
	for _, s := range []string{"xoxb-run-secret", "xapp-run-secret", "tok-exec-secret"} {
		if strings.Contains(logs, s) {
			t.Fatalf("secret %q in logs", s)
		}
	}
}
