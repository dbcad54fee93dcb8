package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
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
		"SLACK_ALLOWED_CHANNELS=C0SOC", "LOG_LEVEL=debug", "LOG_FORMAT=json", "HTTP_ADDR=off", "DATABASE_URL=sqlite:"+filepath.Join(t.TempDir(), "s.db"))
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

func TestDigestAndJiraWiredEndToEnd(t *testing.T) {
	srv, env := fakeTenant(t)
	srv.AddAlerts(mcasfake.Hostile("contoso", time.Now().UTC()))
	fake := slackfake.New()
	defer fake.Close()
	js := jirafake.New(jirafake.Options{Cloud: true, User: "soc@example.com", Token: "jira-wired-secret",
		Fields: []jirafake.CustomField{{ID: "customfield_10050", Name: "Alert URL", Type: jirafake.URLField, OnScreen: true}}})
	defer js.Close()
	db := filepath.Join(t.TempDir(), "s.db")
	env = append(env, "SLACK_BOT_TOKEN=xoxb-w", "SLACK_APP_TOKEN=xapp-w", "SLACK_API_URL="+fake.APIURL(),
		"SLACK_ALLOWED_CHANNELS=C0SOC", "SLACK_ACTION_USERS=U0LEAD", "DIGEST_CHANNEL=C0DIGEST", "DIGEST_MIN_SEVERITY=high",
		"DATABASE_URL=sqlite:"+db, "HTTP_ADDR=off", "JIRA_URL="+js.URL, "JIRA_USER=soc@example.com", "JIRA_API_TOKEN=jira-wired-secret",
		"JIRA_PROJECT=SEC", "JIRA_FIELD_ALERT_URL=customfield_10050", "JIRA_PRIORITY_RULES=title~Urgent=Highest")

	// A dry run prints the digest and records nothing.
	code, out, errs := runCLI(env, "digest", "--dry-run")
	if code != exitOK || !strings.Contains(out, "MCAS digest:") || !strings.Contains(out, "create_jira:") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errs)
	}
	if len(fake.Posts()) != 0 {
		t.Fatal("dry run posted")
	}
	// A real run posts; a second posts nothing.
	if code, _, errs := runCLI(env, "digest"); code != exitOK {
		t.Fatalf("digest: exit %d: %s", code, errs)
	}
	posted := len(fake.Posts())
	if posted == 0 {
		t.Fatal("nothing posted")
	}
	if code, _, errs := runCLI(env, "digest"); code != exitOK || len(fake.Posts()) != posted || !strings.Contains(errs, "0 new") {
		t.Fatalf("second digest: exit %d, %d new posts: %s", code, len(fake.Posts())-posted, errs)
	}

	// The bot serves the Create Jira button of that digest.
	ctx, cancel := context.WithCancel(context.Background())
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"run"}, nil, &bytes.Buffer{}, &stderr, env) }()
	defer func() { cancel(); <-done }()
	if err := fake.WaitConnections(1, 5*time.Second); err != nil {
		t.Fatal(err, stderr.String())
	}
	parent := fake.Posts()[0]
	var blocks slack.Blocks
	_ = json.Unmarshal(parent.Blocks, &blocks)
	action := ""
	for key := range formatting.ButtonsOf(blocks.BlockSet) {
		action = formatting.ActionCreateJira + ":" + key
	}
	if _, err := fake.Click("U0LEAD", parent, action); err != nil {
		t.Fatal(err)
	}
	if _, err := fake.WaitPosts(1, 5*time.Second, func(p slackfake.Post) bool { return p.Method == "chat.update" }); err != nil {
		t.Fatal(err, stderr.String())
	}
	if n := len(js.Issues()); n != 1 {
		t.Fatalf("%d issues", n)
	}
	if strings.Contains(stderr.String(), "jira-wired-secret") {
		t.Fatal("Jira token logged")
	}
}
