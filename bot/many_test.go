package bot_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot"
	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/tenants"
)

// Many tenants end to end (issue #18): 20 tenants from one fake fleet, the
// first 6 with alerts, customer-006 and customer-007 failing; group emea
// is customer-000…006.

type fleetHarness struct {
	*harness
	fleet *mcasfake.Fleet
	fakes []*mcasfake.Server
}

const fleetSize, withAlerts = 20, 6

// fleetOpts shape a fleet: how far away its tenants are and their request
// budget (per minute; -1 unlimited).
type fleetOpts struct {
	Latency time.Duration
	Budget  int
}

// fleetBot starts a bot over n tenants of one fake fleet.
func fleetBot(t testing.TB, n int, cfg bot.Config, o fleetOpts, setup func(*fleetHarness)) *fleetHarness {
	t.Helper()
	if o.Budget == 0 {
		o.Budget = -1
	}
	fh := &fleetHarness{fleet: mcasfake.NewFleet()}
	t.Cleanup(fh.fleet.Close)
	fh.harness = startWith(t, cfg, nil, func(h *harness) {
		fh.harness = h
		var ts []source.Tenant
		emea := []string{}
		for i := range n {
			name := fmt.Sprintf("customer-%03d", i)
			f := fh.fleet.Add(name, mcasToken)
			f.SetLatency(o.Latency)
			if i < withAlerts {
				f.AddAlerts(mcasfake.Generate(name, 30, now, 5*24*time.Hour, uint64(i+1))...)
			}
			if i <= withAlerts {
				emea = append(emea, name)
			}
			c, err := mcas.New(mcas.Config{Name: name, URL: f.URL, Token: mcasToken, Timeout: 5 * time.Second, RequestsPerMinute: o.Budget, Attempts: 1},
				fh.fleet.Client(), h.logger)
			if err != nil {
				t.Fatal(err)
			}
			fh.fakes, ts = append(fh.fakes, f), append(ts, c)
		}
		h.runner.Tenants = tenants.NewDirectory(ts, map[string][]string{"emea": emea}, nil)
		if setup != nil {
			setup(fh)
		}
	}, "contoso")
	return fh
}

func (fh *fleetHarness) fleetCalls() int {
	n := 0
	for _, f := range fh.fakes {
		n += len(f.Requests())
	}
	return n
}

// reply runs a command in channel and returns its last response_url post
// as Slack reads it.
func (fh *fleetHarness) reply(t *testing.T, channel, text string) string {
	t.Helper()
	id, _ := fh.commandAs(t, analyst, channel, text)
	posts, err := fh.slack.Responses(id, 1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return rendered(posts[len(posts)-1])
}

func (fh *fleetHarness) failTwo() {
	for range 20 {
		fh.fakes[6].Fail(mcasfake.Fault{Status: 401})
		fh.fakes[7].Fail(mcasfake.Fault{Status: 403})
	}
}

func TestManyTenantsEndToEnd(t *testing.T) {
	fh := fleetBot(t, fleetSize, bot.Config{}, fleetOpts{}, func(fh *fleetHarness) {
		hostile := mcasfake.Hostile("customer-000", now)
		hostile.Title = `=HYPERLINK("https://evil.example","Reset password") <!channel>`
		fh.fakes[0].AddAlerts(hostile)
	})
	fh.failTwo()

	// The summary: 20 tenants counted, who matched, the failures in one line.
	s := fh.reply(t, socChannel, "alerts")
	for _, want := range []string{
		`"text":"20 tenants · severity all · status open · since 7d · limit 20 · 20 alerts shown, more match"`,
		`"text":"6 tenants matched · 12 tenants had nothing"`,
		`"text":":warning: 2 tenants failed: *customer-006* (HTTP 401), *customer-007* (HTTP 403)"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("reply lacks %s:\n%.3000s", want, s)
		}
	}
	if strings.Contains(s, "Full answer") || len(fh.slack.Files()) != 0 {
		t.Error("an answer that fits posted a CSV")
	}

	// A group.
	before := fh.fleetCalls()
	s = fh.reply(t, socChannel, "alerts tenant=group:emea")
	if !strings.Contains(s, `"text":"group:emea: 7 tenants · severity all`) || fh.fleetCalls()-before != 7 {
		t.Errorf("group answer after %d calls:\n%.2000s", fh.fleetCalls()-before, s)
	}

	// A wrong selection is answered in the ack, with a suggestion, and
	// calls nothing.
	before = fh.fleetCalls()
	id, ack := fh.command(t, "alerts tenant=group:emae")
	if a := string(ack.Payload); !strings.Contains(a, `no group \"emae\" (did you mean group:emea?)`) {
		t.Errorf("ack %s", a)
	}
	if _, err := fh.slack.Responses(id, 1, 200*time.Millisecond); err == nil || fh.fleetCalls() != before {
		t.Error("a wrong selection was looked up")
	}

	// Bigger than a message: one channel message, the CSV in its thread,
	// and the reply says where.
	s = fh.reply(t, socChannel, "alerts limit=100")
	if !strings.Contains(s, "more alerts not shown (Slack's message size limit). :paperclip: The full answer (181 alerts from 20 tenants; 2 failed) is a CSV in the thread of mcasbot's message in <#C0SOC>.") {
		t.Fatalf("reply does not say where the whole answer is:\n%.4000s", s)
	}
	files := fh.slack.Files()
	posts, _ := fh.slack.WaitPosts(1, time.Second, func(p slackfake.Post) bool { return p.Method == "chat.postMessage" })
	if len(files) != 1 || len(posts) != 1 {
		t.Fatalf("%d files, %d channel messages", len(files), len(posts))
	}
	f, p := files[0], posts[0]
	if p.Channel != socChannel || !strings.Contains(unescaped(string(p.Blocks)), ":paperclip: Full answer to <@U0ANALYST>'s `/mcas alerts limit=100`: 181 alerts from 20 tenants; 2 failed") {
		t.Fatalf("channel message %s", p.Blocks)
	}
	if f.Channel != socChannel || f.Thread != p.TS || f.Name != "mcas-alerts.csv" {
		t.Fatalf("file %s in %s thread %s (message %s)", f.Name, f.Channel, f.Thread, p.TS)
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(f.Bytes, []byte("\ufeff")))).ReadAll()
	if err != nil || len(rows) != 182 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	found := false
	for _, r := range rows[1:] {
		if strings.Contains(r[4], "HYPERLINK") {
			found = r[4] == `'=HYPERLINK("https://evil.example","Reset password") <!channel>`
		}
	}
	if !found {
		t.Error("the hostile title is missing or not neutralised in the CSV")
	}
	if !strings.Contains(fh.logs.String(), `"msg":"audit: full answer posted"`) {
		t.Error("no audit line for the channel message")
	}

	// Asked in a DM, or where mcasbot is not a member: nothing posted, and
	// the reply says why.
	s = fh.reply(t, "D0DM", "alerts limit=100")
	if !strings.Contains(s, "could not be posted as a CSV: this question was asked in a direct message") {
		t.Errorf("DM reply:\n%.3000s", s)
	}
	fh.slack.NotIn("C0ELSE")
	s = fh.reply(t, "C0ELSE", "alerts limit=100")
	if !strings.Contains(s, "could not be posted as a CSV: mcasbot is not in this channel. Invite it (/invite @mcasbot) and ask again to get the CSV.") {
		t.Errorf("not-in-channel reply:\n%.3000s", s)
	}
	if len(fh.slack.Files()) != 1 {
		t.Error("a CSV was posted from a DM or a channel mcasbot is not in")
	}

	// The upload fails: the reply says so and still shows what fits; the
	// channel message says the file is missing.
	fh.slack.FailUpload("files.completeUploadExternal", "missing_scope")
	s = fh.reply(t, socChannel, "alerts limit=100")
	if !strings.Contains(s, "could not be posted as a CSV: missing_scope: the app needs the files:write scope") || !strings.Contains(s, `"type":"table"`) {
		t.Errorf("upload failure reply:\n%.3000s", s)
	}
	if _, err := fh.slack.WaitPosts(1, 5*time.Second, func(p slackfake.Post) bool {
		return p.Method == "chat.update" && strings.Contains(p.Text+string(p.Blocks), "The CSV could not be attached: missing_scope")
	}); err != nil {
		t.Error("the channel message does not say its CSV is missing")
	}

	// /mcas tenants: answered in the ack, problems first, nothing called.
	before = fh.fleetCalls()
	_, ack = fh.command(t, "tenants")
	a := string(ack.Payload)
	for _, want := range []string{"20 tenants · 1 group", "failed on their last call", "customer-006", "authentication failed (HTTP 401)", "*Groups:* `emea` (7)"} {
		if !strings.Contains(a, want) {
			t.Errorf("tenants ack lacks %q:\n%.3000s", want, a)
		}
	}
	if strings.Index(a, "customer-006") > strings.Index(a, "customer-000") {
		t.Error("failing tenants are not listed first")
	}
	if fh.fleetCalls() != before {
		t.Error("/mcas tenants called upstream")
	}
}

// 150 tenants' listing is bigger than a message: a summary and the rows
// that fit, and every tenant in a CSV in a thread.
func TestTenantsListingBeyondAMessage(t *testing.T) {
	fh := fleetBot(t, 150, bot.Config{}, fleetOpts{}, nil)
	id, ack := fh.command(t, "tenants")
	if !strings.Contains(string(ack.Payload), "Listing 150 tenants") {
		t.Fatalf("ack %s", ack.Payload)
	}
	posts, err := fh.slack.Responses(id, 1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s := rendered(posts[0])
	if !strings.Contains(s, "150 tenants · 1 group") || !strings.Contains(s, "The full answer (150 tenants, 1 group) is a CSV in the thread") {
		t.Fatalf("reply:\n%.3000s", s)
	}
	files := fh.slack.Files()
	if len(files) != 1 || files[0].Name != "mcas-tenants.csv" || bytes.Count(files[0].Bytes, []byte("\r\n")) != 151 {
		t.Fatalf("files %+v", files)
	}
}

// unescaped is JSON as Slack reads it, without Go's HTML escapes.
func unescaped(s string) string {
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(s)
}
