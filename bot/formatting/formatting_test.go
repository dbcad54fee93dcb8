package formatting_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/source"
)

var update = flag.Bool("update", false, "rewrite golden files")

var now = time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)

func alert(i int, tenant string) source.Alert {
	return source.Alert{
		ID: fmt.Sprintf("65a1b2c3d4e5f607%08x", i), Tenant: tenant, Time: now.Add(-time.Duration(i) * time.Hour),
		Title: "Impossible travel activity", Severity: source.Severity(i % 3),
		URL: "https://" + tenant + ".portal.cloudappsecurity.com/#/alerts/65a1b2c3",
		Entities: []source.Entity{
			{Type: "account", UPN: "alice@" + tenant + ".com"},
			{Type: "ip", ID: "185.220.101.4"},
			{Type: "country", ID: "NL"},
		},
	}
}

func alerts(n int) []source.Alert {
	out := make([]source.Alert, n)
	for i := range out {
		out[i] = alert(i, []string{"contoso", "fabrikam"}[i%2])
	}
	return out
}

var filters = []commands.Filter{{Key: "severity", Value: "all"}, {Key: "status", Value: "open"}, {Key: "since", Value: "7d"}, {Key: "limit", Value: "20"}}

func hostile() source.Alert {
	return source.Alert{
		ID: "6660000000000000000000ff", Tenant: "contoso<!here>", Time: now, Severity: source.SeverityHigh,
		Title:       "<!channel> Urgent: <https://evil.example/login|Reset your password> & win\u0007",
		Description: `<script>alert(1)</script><p>Click <a href="https://evil.example">here</a></p>__siteIcon__`,
		URL:         "javascript:alert(1)",
		Entities:    []source.Entity{{Type: "account", UPN: "<@U0ADMIN>"}, {Type: "ip", ID: "185.220.101.4"}},
	}
}

func upstreamErr(kind httpx.Kind, status int, detail string) error {
	return &httpx.Error{Service: "mcas fabrikam", Op: "list alerts", Kind: kind, Status: status, Detail: detail}
}

func cases() map[string]commands.Result {
	rep := abuseipdb.Report{IP: "185.220.101.4", Public: true, Score: 100, Reports: 3120, DistinctUsers: 410, ISP: "Zwiebelfreunde e.V.",
		UsageType: "Data Center/Web Hosting/Transit", Country: "DE", Tor: true, LastReported: now.Add(-2 * time.Hour)}
	acts := []source.Activity{
		{ID: "1", Tenant: "contoso", Time: now.Add(-time.Minute), App: "Microsoft Exchange Online", Description: "Create inbox rule <b>forward-all</b>", IP: "185.220.101.4", User: "alice@contoso.com", City: "Berlin", Country: "DE"},
		{ID: "2", Tenant: "fabrikam", Time: now.Add(-time.Hour), App: "Microsoft Entra ID", Description: "Failed log on", IP: "185.220.101.4", User: "bob@fabrikam.com", Country: "DE"},
	}
	_, usage := commands.Parser{Tenants: []string{"contoso"}}.Parse("ip 999.1.1.1")
	var ue *commands.UsageError
	errors.As(usage, &ue)
	m := map[string]commands.Result{
		"alerts": commands.AlertsResult{Title: "MCAS alerts", Filters: filters, Tenants: []string{"contoso", "fabrikam"}, Alerts: alerts(5)},
		"alerts_partial_hostile": commands.AlertsResult{Title: "MCAS alerts", Filters: filters, Tenants: []string{"contoso", "fabrikam"}, Alerts: []source.Alert{hostile()},
			Failures: []commands.Failure{{Tenant: "fabrikam", Err: upstreamErr(httpx.KindThrottled, 429, "<b>Too many</b> requests")}}},
		"alerts_empty":      commands.AlertsResult{Title: "MCAS alerts", Filters: filters, Tenants: []string{"contoso"}},
		"alerts_all_failed": commands.AlertsResult{Title: "MCAS alerts", Filters: filters, Tenants: []string{"fabrikam"}, Failures: []commands.Failure{{Tenant: "fabrikam", Err: upstreamErr(httpx.KindAuth, 401, "Invalid token")}}},
		"alerts_100":        commands.AlertsResult{Title: "MCAS alerts", Filters: filters, Tenants: []string{"contoso", "fabrikam"}, Alerts: alerts(100), More: true},
		"ip":                commands.IPResult{Addr: netip.MustParseAddr("185.220.101.4"), Tenants: []string{"contoso", "fabrikam"}, Activities: acts, Reputation: &rep},
		"ip_private":        commands.IPResult{Addr: netip.MustParseAddr("10.0.0.1"), Tenants: []string{"contoso"}, RepNote: "private or reserved address: not sent to AbuseIPDB"},
		// Interim replies and reused answers (issue #10).
		"alerts_pending": commands.AlertsResult{Title: "MCAS alerts", Filters: filters, Tenants: []string{"contoso", "fabrikam<!here>"}, Alerts: alerts(2)[:1],
			Pending: []commands.Pending{{Tenant: "fabrikam<!here>", After: 8 * time.Second}}},
		"alerts_pending_one": commands.AlertsResult{Title: "MCAS alerts", Filters: filters, Tenants: []string{"contoso"},
			Pending: []commands.Pending{{Tenant: "contoso", After: 8*time.Second + 20*time.Millisecond}}},
		"alerts_queued": commands.AlertsResult{Title: "MCAS alerts", Filters: filters, Tenants: []string{"contoso", "fabrikam"}, Alerts: alerts(2)[1:],
			Pending: []commands.Pending{{Tenant: "contoso", After: time.Second, Queued: 19200 * time.Millisecond, Budget: "25/min"}}},
		"alerts_as_of": commands.AlertsResult{Title: "MCAS alerts", Filters: filters, Tenants: []string{"contoso", "fabrikam"}, Alerts: alerts(2),
			AsOf: time.Date(2026, 11, 24, 14, 2, 11, 0, time.UTC)},
		// A tenant skipped because it timed out lately (issue #16): among
		// others, alone (when it is asked again), alone while one question
		// checks it.
		"alerts_not_answering": commands.AlertsResult{Title: "MCAS alerts", Filters: filters, Tenants: []string{"contoso", "fabrikam<!here>"}, Alerts: alerts(2)[:1],
			Failures: []commands.Failure{{Tenant: "fabrikam<!here>", Err: &commands.NotAnswering{Tenant: "fabrikam<!here>", Ago: 12 * time.Second, RetryIn: 18 * time.Second}}}},
		"alerts_not_answering_one": commands.AlertsResult{Title: "MCAS alerts", Filters: filters, Tenants: []string{"contoso"},
			Failures: []commands.Failure{{Tenant: "contoso", Err: &commands.NotAnswering{Tenant: "contoso", Ago: 12400 * time.Millisecond, RetryIn: 17600 * time.Millisecond}}}},
		"alerts_not_answering_checked": commands.AlertsResult{Title: "MCAS alerts", Filters: filters, Tenants: []string{"contoso"},
			Failures: []commands.Failure{{Tenant: "contoso", Err: &commands.NotAnswering{Tenant: "contoso", Ago: 300 * time.Millisecond}}}},
		"help":        commands.HelpResult{Definitions: commands.Definitions},
		"usage_error": commands.HelpResult{Problem: ue},
	}
	// Many tenants (issue #18, many_test.go).
	for k, v := range manyCases() {
		m[k] = v
	}
	return m
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from golden file; run `go test ./bot/formatting -update` and review the diff\n got: %s", name, got)
	}
}

func TestGoldenSlack(t *testing.T) {
	for name, res := range cases() {
		t.Run(name, func(t *testing.T) {
			msg := formatting.Reply(res)
			if err := formatting.Check(msg); err != nil {
				t.Fatalf("breaks a Slack limit: %v", err)
			}
			js, err := json.MarshalIndent(msg, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name+".golden.json", append(js, '\n'))
			assertNoLiveMarkup(t, js)
		})
	}
}

func TestGoldenPlain(t *testing.T) {
	for _, name := range []string{"alerts", "alerts_partial_hostile", "ip", "usage_error", "alerts_pending", "alerts_queued", "alerts_as_of",
		"alerts_not_answering", "alerts_not_answering_one", "alerts_not_answering_checked",
		"alerts_many", "alerts_group", "alerts_many_pending", "ip_many", "alert_many_none", "tenants"} {
		golden(t, name+".golden.txt", []byte(formatting.Plain(cases()[name])))
	}
}

// ownDate is the one construct the bot writes itself in mrkdwn: a time
// Slack shows relative to the reader ("2 hours ago"), its fallback our own
// UTC time.
var ownDate = regexp.MustCompile(`<!date\^\d+\^\{ago\}\|\d{4}-\d\d-\d\d \d\d:\d\d UTC>`)

// assertNoLiveMarkup fails when any mrkdwn text (or the fallback text)
// holds a <…> that Slack would turn into a mention or link.
func assertNoLiveMarkup(t *testing.T, js []byte) {
	t.Helper()
	var doc any
	_ = json.Unmarshal(js, &doc)
	var walk func(v any, mrkdwn bool)
	walk = func(v any, mrkdwn bool) {
		switch v := v.(type) {
		case map[string]any:
			isMrkdwn := v["type"] == "mrkdwn"
			for k, x := range v {
				if s, ok := x.(string); ok && k == "text" && (isMrkdwn || mrkdwn) && strings.ContainsAny(ownDate.ReplaceAllString(s, ""), "<>") {
					t.Errorf("unescaped markup in mrkdwn text: %q", s)
				}
				walk(x, false)
			}
		case []any:
			for _, x := range v {
				walk(x, false)
			}
		}
	}
	walk(doc, false)
	var top struct{ Text string }
	_ = json.Unmarshal(js, &top)
	if strings.ContainsAny(top.Text, "<>") {
		t.Errorf("unescaped markup in fallback text %q", top.Text)
	}
}

func TestHostileAlertIsDefused(t *testing.T) {
	msg := formatting.Reply(cases()["alerts_partial_hostile"])
	js, _ := json.Marshal(msg)
	s := string(js)
	if strings.Contains(s, "javascript:") {
		t.Error("javascript: URL became a link")
	}
	if strings.Contains(s, "\\u0007") {
		t.Error("control character survived")
	}
	if !strings.Contains(s, "fabrikam") || !strings.Contains(s, "throttled (HTTP 429)") {
		t.Error("partial-result warning does not name the tenant and cause")
	}
}

func TestHundredAlertsSayHowManyWereLeftOut(t *testing.T) {
	// Compact rows: only the 100-row cap (header + 99) applies.
	short := make([]source.Alert, 100)
	for i := range short {
		short[i] = source.Alert{ID: "1", Tenant: "c", Time: now, Title: "t"}
	}
	msg := formatting.Reply(commands.AlertsResult{Title: "MCAS alerts", Tenants: []string{"c"}, Alerts: short})
	size, _ := formatting.Measure(msg)
	if size.TableRows != 100 {
		t.Fatalf("table rows %d, want 100 (header + 99)", size.TableRows)
	}
	js, _ := json.Marshal(msg)
	if !strings.Contains(string(js), "… 1 more alerts not shown (Slack's table limit)") {
		t.Fatal("no note about the row left out")
	}
	// Realistic rows hit the character budget first; the note says how many.
	msg = formatting.Reply(cases()["alerts_100"])
	size, _ = formatting.Measure(msg)
	js, _ = json.Marshal(msg)
	left := 100 - (size.TableRows - 1)
	if left <= 0 || !strings.Contains(string(js), fmt.Sprintf("… %d more alerts not shown", left)) {
		t.Fatalf("%d rows shown, note missing or wrong", size.TableRows-1)
	}
}

func TestLongCellsStayWithinTableBudget(t *testing.T) {
	many := alerts(100)
	for i := range many {
		many[i].Title = strings.Repeat("Ünïcödé title ", 40)
		many[i].Entities = append(many[i].Entities, source.Entity{Type: "account", UPN: strings.Repeat("u", 300)})
		many[i].Entities[0].UPN = strings.Repeat("very.long.user.name", 10) + "@example.com"
	}
	msg := formatting.Reply(commands.AlertsResult{Title: "MCAS alerts", Tenants: []string{"contoso"}, Alerts: many})
	if err := formatting.Check(msg); err != nil {
		t.Fatal(err)
	}
	size, _ := formatting.Measure(msg)
	if size.TableRows >= 100 {
		t.Fatalf("kept %d rows of long cells", size.TableRows)
	}
	js, _ := json.Marshal(msg)
	if !strings.Contains(string(js), "more alerts not shown") || !strings.Contains(string(js), "…") {
		t.Fatal("truncation not visible")
	}
}

func TestAcksFitSocketModeLimit(t *testing.T) {
	for _, msg := range []*slack.WebhookMessage{formatting.Help(nil), formatting.Refusal("not allowed in <#C1>"), formatting.Notice("x")} {
		js, _ := json.Marshal(msg)
		if len(js) >= formatting.MaxAckBytes {
			t.Fatalf("ack payload of %d bytes", len(js))
		}
	}
}

func TestStripHTMLAndEscape(t *testing.T) {
	cases := map[string]string{
		`<p>Hello&nbsp;<b>world</b></p>__siteIcon__<br>next`: "Hello world next",
		`<script>evil()</script>ok`:                          "ok",
		"tab\there\u202e\x00":                                "tab here",
		"&lt;!channel&gt;":                                   "<!channel>",
	}
	for in, want := range cases {
		if got := formatting.StripHTML(in); got != want {
			t.Errorf("StripHTML(%q) = %q, want %q", in, got, want)
		}
	}
	if got := formatting.Escape("<!channel> & <@U1|x>"); got != "&lt;!channel&gt; &amp; &lt;@U1|x&gt;" {
		t.Errorf("Escape = %q", got)
	}
	if got := formatting.CutEscaped("<<<<<", 9); got != "&lt;&lt;…" {
		t.Errorf("CutEscaped = %q", got)
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"<!channel>", "a & b", "<https://x|y>", "&amp;", "\x00<\u202e>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := formatting.Escape(s)
		if strings.ContainsAny(e, "<>") {
			t.Fatalf("Escape(%q) = %q", s, e)
		}
		// Every & starts one of the three entities.
		for i := strings.IndexByte(e, '&'); i >= 0; i = next(e, i) {
			rest := e[i:]
			if !strings.HasPrefix(rest, "&amp;") && !strings.HasPrefix(rest, "&lt;") && !strings.HasPrefix(rest, "&gt;") {
				t.Fatalf("stray & in %q", e)
			}
		}
		c := formatting.CutEscaped(s, 20)
		if strings.ContainsAny(c, "<>") || len([]rune(c)) > 20 {
			t.Fatalf("CutEscaped(%q) = %q", s, c)
		}
	})
}

func next(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '&')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

func FuzzAlertsMessage(f *testing.F) {
	h := hostile()
	f.Add(h.Title, h.Description, "<@U0ADMIN>", h.URL, "contoso", 3)
	f.Add(strings.Repeat("x", 5000), "", "", "https://ok.example/a", "t", 100)
	f.Fuzz(func(t *testing.T, title, desc, user, url, tenant string, n int) {
		n = min(max(n, 0), 100)
		as := make([]source.Alert, n)
		for i := range as {
			as[i] = source.Alert{ID: "1", Tenant: tenant, Time: now, Title: title, Description: desc, URL: url,
				Entities: []source.Entity{{Type: "account", UPN: user}, {Type: "ip", ID: user}}}
		}
		res := commands.AlertsResult{Title: title, Tenants: []string{tenant}, Alerts: as,
			Failures: []commands.Failure{{Tenant: tenant, Err: errors.New(desc)}, {Tenant: tenant, Err: &commands.NotAnswering{Tenant: tenant, Ago: time.Duration(n) * time.Second}}}}
		msg := formatting.Reply(res)
		if err := formatting.Check(msg); err != nil {
			t.Fatalf("limit broken: %v", err)
		}
		js, err := json.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		assertNoLiveMarkup(t, js)
		_ = formatting.Plain(res)
	})
}

func BenchmarkFormat100Rows(b *testing.B) {
	res := commands.AlertsResult{Title: "MCAS alerts", Filters: filters, Tenants: []string{"contoso", "fabrikam"}, Alerts: alerts(100), More: true}
	b.ReportAllocs()
	for b.Loop() {
		msg := formatting.Reply(res)
		if _, err := json.Marshal(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// What an analyst reads while a tenant is missing or the answer is reused.
func TestInterimRepliesSayWhatIsMissing(t *testing.T) {
	for name, want := range map[string]string{
		"alerts_pending":     ":hourglass_flowing_sand: *fabrikam&lt;!here&gt;* has not answered yet — this message will update",
		"alerts_pending_one": ":hourglass_flowing_sand: *contoso* has not answered after 8 s; still trying",
		"alerts_queued":      ":hourglass_flowing_sand: *contoso*'s API budget (25/min) is in use: queued, about 20 s — this message will update",
		"alerts_as_of":       "· _as of 14:02:11 UTC_",
	} {
		raw, _ := json.Marshal(formatting.Reply(cases()[name]))
		js := strings.ReplaceAll(string(raw), `\u0026`, "&")
		if !strings.Contains(js, want) {
			t.Errorf("%s lacks %q:\n%s", name, want, js)
		}
		if strings.HasPrefix(name, "alerts_pending") && strings.Contains(js, "No alerts match") {
			t.Errorf("%s says nothing matched while a tenant is missing", name)
		}
	}
	if js, _ := json.Marshal(formatting.Reply(cases()["alerts"])); strings.Contains(string(js), "as of") {
		t.Error("a fresh answer claims to be reused")
	}
}

func TestIssueLinkLinksOnlySafeURLs(t *testing.T) {
	for url, want := range map[string]string{
		"https://jira.example.com/browse/SEC-1": "<https://jira.example.com/browse/SEC-1|SEC-1>",
		"javascript:alert(1)":                   "SEC-1",
		"":                                      "SEC-1",
	} {
		if got := formatting.IssueLink("SEC-1", url); got != want {
			t.Errorf("IssueLink(SEC-1, %q) = %q, want %q", url, got, want)
		}
	}
	if got := formatting.IssueLink("<SEC-1>", ""); got != "&lt;SEC-1&gt;" {
		t.Errorf("the key is not escaped: %q", got)
	}
	if m := formatting.Ephemeral("hi"); m.ReplaceOriginal || m.ResponseType != slack.ResponseTypeEphemeral {
		t.Errorf("Ephemeral replaces the original or is not ephemeral: %+v", m)
	}
}
