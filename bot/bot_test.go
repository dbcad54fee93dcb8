package bot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot"
	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/abuseipdb/abusefake"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/tenants"
)

const (
	botToken   = "xoxb-BOT-SECRET-111"
	appToken   = "xapp-APP-SECRET-222"
	mcasToken  = "MCAS-SECRET-333"
	abuseToken = "ABUSE-SECRET-444"
	socChannel = "C0SOC"
	analyst    = "U0ANALYST"
)

var now = time.Now().UTC()

type harness struct {
	slack   *slackfake.Server
	tenants []*mcasfake.Server
	clients []*mcas.Client
	runner  *commands.Runner
	abuse   *abusefake.Server
	rep     *abuseipdb.Client
	logger  *slog.Logger
	bot     *bot.Bot
	logs    *syncBuffer
	cancel  context.CancelFunc
	done    chan error
	// graph serves the tenants named "graph:<name>" (graph_test.go).
	graph *graphWorld
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t testing.TB, cfg bot.Config, names ...string) *harness {
	return startWith(t, cfg, nil, nil, names...)
}

// startWith can reuse a fake Slack (a restarted bot) and runs setup
// before the bot starts.
func startWith(t testing.TB, cfg bot.Config, fake *slackfake.Server, setup func(*harness), names ...string) *harness {
	t.Helper()
	if len(names) == 0 {
		names = []string{"contoso", "fabrikam"}
	}
	if fake == nil {
		fake = slackfake.New()
		t.Cleanup(fake.Close)
	}
	h := &harness{slack: fake, logs: &syncBuffer{}, done: make(chan error, 1)}
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	runner := &commands.Runner{Tenants: tenants.Static(), Timeout: 5 * time.Second}
	h.runner = runner
	for i, n := range names {
		if g, ok := strings.CutPrefix(n, "graph:"); ok {
			runner.Tenants.Put(h.graphTenant(t, g, uint64(i+1), logger))
			continue
		}
		srv := mcasfake.New(mcasToken)
		t.Cleanup(srv.Close)
		srv.AddAlerts(mcasfake.Generate(n, 30, now, 5*24*time.Hour, uint64(i+1))...)
		srv.AddAlerts(mcasfake.Hostile(n, now.Add(-time.Minute)))
		srv.AddActivities(mcasfake.GenerateActivities(n, 50, now, 48*time.Hour, uint64(i+1))...)
		c, err := mcas.New(mcas.Config{Name: n, URL: srv.URL, Token: mcasToken, Timeout: 3 * time.Second, RequestsPerMinute: -1, Attempts: 2}, srv.Client(), logger)
		if err != nil {
			t.Fatal(err)
		}
		h.tenants = append(h.tenants, srv)
		h.clients = append(h.clients, c)
		runner.Tenants.Put(c)
	}
	h.logger = logger
	h.abuse = abusefake.New(abuseToken, 1000)
	t.Cleanup(h.abuse.Close)
	rep, _ := abuseipdb.New(abuseipdb.Config{APIKey: abuseToken, URL: h.abuse.URL}, h.abuse.Client(), logger)
	runner.Reputation = rep
	h.rep = rep

	api := slack.New(botToken, slack.OptionAppLevelToken(appToken), slack.OptionAPIURL(h.slack.APIURL()))
	if cfg.PingInterval == 0 {
		cfg.PingInterval = 2 * time.Second
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 200 * time.Millisecond
	}
	h.bot = bot.New(cfg, api, runner, nil, logger)
	if setup != nil {
		setup(h)
	}
	// Count greetings, not open connections: a previous bot on the same
	// fake may still be closing its socket, and would be counted.
	before := h.slack.Accepted()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.bot.Run(ctx) }()
	t.Cleanup(func() { h.stop(t) })
	if err := h.slack.WaitAccepted(before+1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) stop(t testing.TB) {
	h.cancel()
	select {
	case <-h.done:
		h.done <- nil // stopping twice is fine
	case <-time.After(10 * time.Second):
		t.Error("bot did not stop")
	}
}

func (h *harness) command(t testing.TB, text string) (string, slackfake.Ack) {
	t.Helper()
	return h.commandAs(t, analyst, socChannel, text)
}

func (h *harness) commandAs(t testing.TB, user, channel, text string) (string, slackfake.Ack) {
	t.Helper()
	id, err := h.slack.SlashCommand(user, channel, text)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := h.slack.WaitAck(id, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return id, ack
}

func (h *harness) upstreamCalls() int {
	n := h.abuse.TotalCalls()
	for _, f := range h.tenants {
		n += len(f.Requests())
	}
	return n
}

type message struct {
	Text            string `json:"text"`
	ResponseType    string `json:"response_type"`
	ReplaceOriginal bool   `json:"replace_original"`
	Blocks          []struct {
		Type    string `json:"type"`
		BlockID string `json:"block_id"`
		Text    *struct {
			Text string `json:"text"`
		} `json:"text"`
	} `json:"blocks"`
	Attachments []struct {
		Blocks []struct {
			Type string              `json:"type"`
			Rows [][]json.RawMessage `json:"rows"`
		} `json:"blocks"`
	} `json:"attachments"`
}

func decode(t testing.TB, raw any) message {
	t.Helper()
	var b []byte
	switch v := raw.(type) {
	case json.RawMessage:
		b = v
	default:
		b, _ = json.Marshal(v)
	}
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

func TestAlertsCommandEndToEnd(t *testing.T) {
	h := start(t, bot.Config{AllowedChannels: []string{socChannel}})
	id, ack := h.command(t, "alerts limit=10")
	if ack.Latency > 500*time.Millisecond {
		t.Errorf("ack took %v", ack.Latency)
	}
	a := decode(t, ack.Payload)
	if a.ResponseType != "ephemeral" || !strings.Contains(a.Text, "Looking up alerts in 2 tenants") {
		t.Fatalf("ack payload %+v", a)
	}
	posts, err := h.slack.Responses(id, 1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, posts[0].Raw)
	if m.ResponseType != "ephemeral" || !m.ReplaceOriginal {
		t.Fatalf("reply is not an ephemeral replacement: %+v", m)
	}
	if len(m.Blocks) < 2 || m.Blocks[0].Type != "header" || len(m.Attachments) != 1 {
		t.Fatalf("reply shape %+v", m)
	}
	tbl := m.Attachments[0].Blocks[0]
	if tbl.Type != "table" || len(tbl.Rows) != 11 {
		t.Fatalf("table %s with %d rows, want header + 10", tbl.Type, len(tbl.Rows))
	}
	raw, _ := json.Marshal(posts[0].Raw)
	if m.Blocks[1].Type != "context" || !strings.Contains(string(raw), "Tenants: contoso, fabrikam") {
		t.Fatalf("context line missing: %s", raw)
	}
	// The hostile alert's title is in the table as raw_text (never parsed)
	// and nowhere in mrkdwn.
	if !strings.Contains(string(raw), `"text":"\u003c!channel\u003e Urgent: \u003chttps://evil.example/login|Reset your password\u003e \u0026 win","type":"raw_text"`) {
		t.Fatalf("hostile alert missing from table: %s", raw)
	}
}

func TestIPCommandWithReputation(t *testing.T) {
	h := start(t, bot.Config{})
	id, _ := h.command(t, "ip 185.220.101.4")
	posts, err := h.slack.Responses(id, 1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, posts[0].Raw)
	var rep string
	for _, b := range m.Blocks {
		if b.BlockID == "reputation" && b.Text != nil {
			rep = b.Text.Text
		}
	}
	if !strings.Contains(rep, "AbuseIPDB:") || h.abuse.Calls("185.220.101.4") != 1 {
		t.Fatalf("reputation block %q, calls %d", rep, h.abuse.Calls("185.220.101.4"))
	}
}

func TestBadInputGetsUsageAndNoUpstreamCall(t *testing.T) {
	h := start(t, bot.Config{})
	for _, text := range []string{"ip 999.1.1.1", "alerts limit=500", "frobnicate", "ip <!channel>", "alerts tenant=initech"} {
		id, ack := h.command(t, text)
		a := decode(t, ack.Payload)
		if len(a.Blocks) == 0 || !strings.HasPrefix(a.Blocks[0].Text.Text, ":x: ") {
			t.Fatalf("%q: ack %s", text, ack.Payload)
		}
		if strings.Contains(string(ack.Payload), "<!channel>") {
			t.Fatalf("%q: echoed input unescaped: %s", text, ack.Payload)
		}
		time.Sleep(50 * time.Millisecond)
		if n := len(h.slackResponses(id)); n != 0 {
			t.Fatalf("%q: %d response_url posts for bad input", text, n)
		}
	}
	if n := h.upstreamCalls(); n != 0 {
		t.Fatalf("bad input made %d upstream calls", n)
	}
}

func (h *harness) slackResponses(envID string) []slackfake.Post {
	var out []slackfake.Post
	for _, p := range h.slack.Posts() {
		if p.Method == "response_url" && p.Target == h.slack.ResponseID(envID) {
			out = append(out, p)
		}
	}
	return out
}

func TestHelpIsAnsweredInTheAck(t *testing.T) {
	h := start(t, bot.Config{})
	for _, text := range []string{"", "help"} {
		_, ack := h.command(t, text)
		if !strings.Contains(string(ack.Payload), "/mcas alerts [limit=1-100]") {
			t.Fatalf("help for %q: %s", text, ack.Payload)
		}
	}
}

func TestUnauthorizedIsRefusedByID(t *testing.T) {
	h := start(t, bot.Config{AllowedChannels: []string{socChannel}, AllowedUsers: []string{analyst}})
	cases := []struct{ user, channel, want string }{
		{analyst, "C0RANDOM", "only answers in the SOC channels"},
		{"U0INTRUDER", socChannel, "not on the list of users"},
	}
	for _, tc := range cases {
		_, ack := h.commandAs(t, tc.user, tc.channel, "alerts")
		if !strings.Contains(string(ack.Payload), tc.want) {
			t.Fatalf("%+v: ack %s", tc, ack.Payload)
		}
	}
	if n := h.upstreamCalls(); n != 0 {
		t.Fatalf("refused commands made %d upstream calls", n)
	}
	if !strings.Contains(h.logs.String(), "audit: command refused") {
		t.Fatal("refusal not in the audit log")
	}
}

func TestFailingTenantIsNamedInReply(t *testing.T) {
	h := start(t, bot.Config{})
	h.tenants[1].Fail(mcasfake.Fault{Status: 401})
	id, _ := h.command(t, "alerts")
	posts, err := h.slack.Responses(id, 1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(posts[0].Raw)
	if !strings.Contains(string(raw), "*fabrikam*: authentication failed (HTTP 401)") {
		t.Fatalf("reply does not name the failed tenant: %s", raw)
	}
	if m := decode(t, posts[0].Raw); len(m.Attachments) != 1 {
		t.Fatal("the healthy tenant's table is missing")
	}
}

func TestReconnectsAfterDisconnectWithoutLosingCommands(t *testing.T) {
	h := start(t, bot.Config{})
	h.slack.Disconnect("refresh_requested")
	if err := h.slack.WaitConnections(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	id, _ := h.command(t, "alerts limit=3")
	if _, err := h.slack.Responses(id, 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// An abrupt drop, too.
	h.slack.DropConnections()
	if err := h.slack.WaitConnections(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	id, _ = h.command(t, "alerts limit=3")
	if _, err := h.slack.Responses(id, 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestRetriesWhenSlackRejectsTheConnection(t *testing.T) {
	h := start(t, bot.Config{})
	h.slack.FailOpen("invalid_auth") // RunContext returns on this
	h.slack.DropConnections()
	deadline := time.Now().Add(5 * time.Second)
	for h.slack.Opens() < 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if h.bot.Connected() {
		t.Fatal("reports connected while Slack refuses")
	}
	h.slack.FailOpen("")
	if err := h.slack.WaitConnections(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	id, _ := h.command(t, "alerts limit=1")
	if _, err := h.slack.Responses(id, 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.logs.String(), "check SLACK_APP_TOKEN") {
		t.Fatal("the log does not say why the connection failed")
	}
}

func TestShutdownFinishesRepliesInFlight(t *testing.T) {
	h := start(t, bot.Config{})
	for _, f := range h.tenants {
		f.SetLatency(400 * time.Millisecond)
	}
	id, _ := h.command(t, "alerts")
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("did not shut down")
	}
	h.done <- nil // for cleanup
	if n := len(h.slackResponses(id)); n != 1 {
		t.Fatalf("in-flight command got %d replies, want 1", n)
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	h := start(t, bot.Config{})
	h.tenants[0].Fail(mcasfake.Fault{Status: 401}, mcasfake.Fault{Status: 500})
	h.abuse.Fail(abusefake.Fault{Status: 401})
	for _, text := range []string{"alerts", "ip 185.220.101.4", "user alice@contoso.com", "ip 1.2.3"} {
		id, _ := h.command(t, text)
		if strings.HasPrefix(text, "ip 1.2.3") {
			continue
		}
		if _, err := h.slack.Responses(id, 1, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	h.slack.Disconnect("warning")
	_ = h.slack.WaitConnections(1, 5*time.Second)
	logs := h.logs.String()
	all := logs
	for _, p := range h.slack.Posts() {
		raw, _ := json.Marshal(p.Raw)
		all += string(raw)
	}
	for _, secret := range []string{botToken, appToken, mcasToken, abuseToken} {
		if strings.Contains(all, secret) {
			t.Errorf("secret %q appears in logs or Slack messages", secret)
		}
	}
	if !strings.Contains(logs, "tenant failed") {
		t.Fatal("expected failures to be logged (test is not exercising errors)")
	}
}

// BenchmarkAckLatency measures envelope→ack time while every upstream
// takes 2 s: the ack must not wait for them.
func BenchmarkAckLatency(b *testing.B) {
	h := start(b, bot.Config{Workers: 4, Queue: 4096})
	for _, f := range h.tenants {
		f.SetLatency(2 * time.Second)
	}
	var lat []time.Duration
	for b.Loop() {
		id, err := h.slack.SlashCommand(analyst, socChannel, "alerts limit=1")
		if err != nil {
			b.Fatal(err)
		}
		ack, err := h.slack.WaitAck(id, 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, ack.Latency)
	}
	b.StopTimer()
	slicesSort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "µs-median-ack")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "µs-p99-ack")
	for _, f := range h.tenants {
		f.SetLatency(0)
	}
}

// Every log line of a command carries its request id, user and channel,
// and the lines about a tenant name it.
func TestCommandLogLinesCarryTheRequest(t *testing.T) {
	h := start(t, bot.Config{})
	h.tenants[1].Fail(mcasfake.Fault{Status: 503}, mcasfake.Fault{Status: 401})
	id, _ := h.command(t, "alerts")
	if _, err := h.slack.Responses(id, 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Second); !strings.Contains(h.logs.String(), "command answered") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	var n int
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if !strings.Contains(line, `"request_id":"`+id+`"`) {
			continue
		}
		n++
		if !strings.Contains(line, `"user":"`+analyst+`"`) || !strings.Contains(line, `"channel":"`+socChannel+`"`) {
			t.Errorf("line without user or channel: %s", line)
		}
	}
	logs := h.logs.String()
	if n < 3 || !strings.Contains(logs, `"msg":"retrying upstream call","request_id":"`+id) || !strings.Contains(logs, `"msg":"tenant failed","request_id":"`+id) {
		t.Fatalf("%d lines for the request; retry and failure lines must carry it:\n%s", n, logs)
	}
}
