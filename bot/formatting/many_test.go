package formatting_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/source"
)

// Answers across many tenants (issue #18).

func customers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("customer-%03d", i)
	}
	return out
}

// spread is n alerts from the first k tenants of names, newest first.
func spread(names []string, n, k int) []source.Alert {
	out := make([]source.Alert, n)
	for i := range out {
		out[i] = alert(i, names[i%k])
	}
	return out
}

func tenantFailures(names []string) []commands.Failure {
	errs := []error{
		&httpx.Error{Service: "mcas", Op: "list alerts", Kind: httpx.KindTimeout, Detail: "no answer within 25s"},
		&httpx.Error{Service: "mcas", Op: "list alerts", Kind: httpx.KindAuth, Status: 401, Detail: "Invalid token"},
		&commands.NotAnswering{Tenant: "someone", Ago: 12 * time.Second, RetryIn: 18 * time.Second},
		&httpx.Error{Service: "graph", Op: "list alerts", Kind: httpx.KindUnavailable, Status: 503, Detail: "<b>down</b>"},
		&httpx.Error{Service: "mcas", Op: "list alerts", Kind: httpx.KindThrottled, Status: 429},
		&httpx.Error{Service: "mcas", Op: "list alerts", Kind: httpx.KindForbidden, Status: 403},
		errors.New("dial tcp 10.0.0.1:443: connect: connection refused <!channel>"),
	}
	fs := make([]commands.Failure, len(names))
	for i, n := range names {
		fs[i] = commands.Failure{Tenant: n, Err: errs[i%len(errs)]}
	}
	return fs
}

func manyCases() map[string]commands.Result {
	names := customers(100)
	pending := make([]commands.Pending, 40)
	for i := range pending {
		pending[i] = commands.Pending{Tenant: names[60+i], After: 8 * time.Second}
	}
	pending[0].Queued, pending[0].Budget = 19200*time.Millisecond, "25/min"
	acts := []source.Activity{
		{ID: "1", Tenant: names[4], Time: now.Add(-time.Minute), App: "Microsoft Exchange Online", Description: "Create inbox rule", IP: "10.0.0.1", User: "alice@contoso.com", Country: "DE"},
		{ID: "2", Tenant: names[9], Time: now.Add(-time.Hour), App: "Microsoft Entra ID", Description: "Failed log on", IP: "10.0.0.1", User: "bob@fabrikam.com", Country: "DE"},
	}
	return map[string]commands.Result{
		// 100 tenants: 13 matched, 80 had nothing, 7 failed.
		"alerts_many": commands.AlertsResult{Title: "MCAS alerts", Filters: filters, Tenants: names, Alerts: spread(names, 20, 13), More: true,
			Matched: 13, Empty: 80, Failures: tenantFailures(names[93:])},
		"alerts_group": commands.AlertsResult{Title: "MCAS alerts", Filters: filters, Selection: "group:emea", Tenants: names[:12], Alerts: spread(names, 5, 2),
			Matched: 2, Empty: 10},
		"alerts_group_few": commands.AlertsResult{Title: "MCAS alerts", Filters: filters, Selection: "group:emea", Tenants: []string{"contoso", "fabrikam"},
			Alerts: alerts(3), Matched: 2},
		"alerts_many_pending": commands.AlertsResult{Title: "MCAS alerts", Filters: filters, Tenants: names, Alerts: spread(names, 10, 10),
			Matched: 10, Empty: 50, Pending: pending},
		"ip_many": commands.IPResult{Addr: netip.MustParseAddr("10.0.0.1"), Filters: []commands.Filter{{Key: "ip", Value: "10.0.0.1"}, {Key: "limit", Value: "20"}},
			Tenants: names, Activities: acts, Matched: 2, Empty: 97, Failures: tenantFailures(names[99:]), RepNote: "private or reserved address: not sent to AbuseIPDB"},
		"alert_many_none": commands.AlertResult{ID: "65a1b2c3d4e5f60718293a4b", Tenants: names, Failures: tenantFailures(names[98:])},
		"tenants":         tenantsCase(),
	}
}

func tenantsCase() commands.TenantsResult {
	return commands.TenantsResult{Now: now,
		Tenants: []commands.TenantInfo{
			{Name: "contoso", Source: "mcas", Groups: []string{"emea", "tier1"}, Budget: "25/min", Health: commands.Health{LastOK: now.Add(-2 * time.Minute)}},
			{Name: "fabrikam", Source: "graph", Groups: []string{"tier1"}, Budget: "25/min",
				Health: commands.Health{LastOK: now.Add(-time.Hour), LastFail: now.Add(-10 * time.Second), Failure: "authentication failed (HTTP 401): <!channel> Invalid token"}},
			{Name: "northwind", Source: "mcas", Groups: []string{"emea"}, Budget: "25/min", State: commands.TenantNotAnswering,
				Skipped: &commands.NotAnswering{Tenant: "northwind", Ago: 12 * time.Second, RetryIn: 18 * time.Second},
				Health:  commands.Health{LastOK: now.Add(-3 * time.Hour), LastFail: now.Add(-12 * time.Second), Failure: "timed out: no answer within 25s"}},
			{Name: "initech", Source: "mcas", Budget: "25/min"},
			{Name: "globex", Source: "mcas", Groups: []string{"apac"}, State: commands.TenantChecking,
				Health: commands.Health{LastFail: now.Add(-40 * time.Second), Failure: "timed out: no answer within 25s"}},
			{Name: "hooli", Source: "graph", Groups: []string{"apac", "<!here>"}, Health: commands.Health{LastOK: now.Add(-72 * time.Hour)}},
		},
		Groups: []commands.GroupInfo{{Name: "<!here>", Tenants: []string{"hooli"}}, {Name: "apac", Tenants: []string{"globex", "hooli"}},
			{Name: "emea", Tenants: []string{"contoso", "northwind"}}, {Name: "tier1", Tenants: []string{"contoso", "fabrikam"}}},
	}
}

// blockText is the mrkdwn of a reply's block with this id, as Slack reads it.
func blockText(t *testing.T, res commands.Result, id string) string {
	t.Helper()
	js, _ := json.Marshal(formatting.Reply(res))
	var doc struct {
		Blocks []struct {
			BlockID string `json:"block_id"`
			Text    *struct {
				Text string `json:"text"`
			} `json:"text"`
			Elements []struct {
				Text string `json:"text"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	_ = json.Unmarshal(js, &doc)
	for _, b := range doc.Blocks {
		if b.BlockID != id {
			continue
		}
		if b.Text != nil {
			return b.Text.Text
		}
		if len(b.Elements) > 0 {
			return b.Elements[0].Text
		}
	}
	return ""
}

func TestManyTenantAnswerCountsRatherThanNames(t *testing.T) {
	cs := manyCases()
	res := cs["alerts_many"]
	line := blockText(t, res, "filters")
	if !strings.HasPrefix(line, "100 tenants · severity all") || strings.Contains(line, "customer-") {
		t.Errorf("context line %q, want it to say 100 tenants and name none", line)
	}
	if got := blockText(t, res, "coverage"); got != "13 tenants matched · 80 tenants had nothing" {
		t.Errorf("coverage %q", got)
	}
	want := ":warning: 7 tenants failed: *customer-093* (timed out), *customer-094* (HTTP 401), *customer-095* (not answering), " +
		"*customer-096* (HTTP 503), *customer-097* (HTTP 429), … and 2 more"
	if got := blockText(t, res, "failures"); got != want {
		t.Errorf("failure line\n got %q\nwant %q", got, want)
	}
	if got := blockText(t, cs["alerts_group"], "filters"); !strings.HasPrefix(got, "group:emea: 12 tenants · ") {
		t.Errorf("group context line %q", got)
	}
	if got := blockText(t, cs["alerts_group_few"], "filters"); !strings.HasPrefix(got, "group:emea: contoso, fabrikam · ") {
		t.Errorf("small group context line %q", got)
	}
	got := blockText(t, cs["alerts_many_pending"], "pending")
	if !strings.HasPrefix(got, ":hourglass_flowing_sand: 40 tenants have not answered yet: *customer-060* (queued, about 20 s), *customer-061*, ") ||
		!strings.HasSuffix(got, "… and 35 more — this message will update") || strings.Contains(got, "\n") {
		t.Errorf("pending line %q", got)
	}
	if got := blockText(t, cs["alerts_many_pending"], "coverage"); got != "10 tenants matched · 50 tenants had nothing (so far)" {
		t.Errorf("interim coverage %q", got)
	}
	if got := blockText(t, cs["alert_many_none"], "none"); got != ":mag: No alert `65a1b2c3d4e5f60718293a4b` in the 98 tenants that answered." {
		t.Errorf("alert lookup over 100 tenants: %q", got)
	}
	// The spec's three failures, all named.
	three := commands.AlertsResult{Title: "MCAS alerts", Tenants: customers(100), Matched: 10, Empty: 87, Failures: []commands.Failure{
		{Tenant: "contoso", Err: &httpx.Error{Kind: httpx.KindTimeout, Detail: "no answer within 25s"}},
		{Tenant: "fabrikam", Err: &httpx.Error{Kind: httpx.KindAuth, Status: 401}},
		{Tenant: "northwind", Err: &commands.NotAnswering{Tenant: "northwind"}}}}
	if got := blockText(t, three, "failures"); got != ":warning: 3 tenants failed: *contoso* (timed out), *fabrikam* (HTTP 401), *northwind* (not answering)" {
		t.Errorf("three failures: %q", got)
	}
	if got := blockText(t, three, "coverage"); got != "10 tenants matched · 87 tenants had nothing" {
		t.Errorf("coverage %q", got)
	}
	spent := commands.Failure{Tenant: "x", Err: &httpx.Error{Kind: httpx.KindThrottled, Detail: "the request budget is spent for the next 40s"}}
	if spent.Short() != "request budget spent" {
		t.Errorf("a call the budget refused: %q", spent.Short())
	}
	// A handful of tenants keeps today's reply.
	few := blockText(t, cases()["alerts_partial_hostile"], "failures")
	if !strings.HasPrefix(few, ":warning: *Partial results* — these tenants could not be queried:\n• *fabrikam*") {
		t.Errorf("a two-tenant reply changed: %q", few)
	}
	if blockText(t, cases()["alerts"], "coverage") != "" {
		t.Error("a two-tenant reply got a coverage line")
	}
}

func TestManyTenantAnswersStayWithinSlackLimits(t *testing.T) {
	names := customers(500)
	long := spread(names, 100, 100)
	for i := range long {
		long[i].Title = strings.Repeat("Ünïcödé title ", 20)
	}
	res := commands.AlertsResult{Title: "MCAS alerts", Tenants: names, Alerts: long, Failures: tenantFailures(names[:400]), Matched: 90, Empty: 10}
	for _, full := range []*formatting.Full{nil, {Channel: "C0SOC", Summary: "432 alerts from 500 tenants"}, {Problem: strings.Repeat("<!channel> x ", 200), Summary: "432 alerts"}} {
		msg, left := formatting.ReplyFull(res, full)
		if err := formatting.Check(msg); err != nil {
			t.Fatalf("breaks a Slack limit: %v", err)
		}
		if left == 0 {
			t.Fatal("100 long rows all fit")
		}
		js, _ := json.Marshal(msg)
		if full == nil || full.Channel == "" {
			assertNoLiveMarkup(t, js)
		}
	}
}

func TestLeftOutNoteSaysWhereTheWholeAnswerIs(t *testing.T) {
	res := cases()["alerts_100"]
	_, left := formatting.ReplyFull(res, nil)
	if left == 0 {
		t.Fatal("alerts_100 fits: no note to test")
	}
	note := func(full *formatting.Full) string {
		t.Helper()
		msg, _ := formatting.ReplyFull(res, full)
		if err := formatting.Check(msg); err != nil {
			t.Fatal(err)
		}
		for _, b := range msg.Blocks.BlockSet {
			if b.ID() == "left-out" {
				return asSlackReads(b)
			}
		}
		t.Fatal("no note on the rows left out")
		return ""
	}
	if s := note(&formatting.Full{Channel: "C0SOC", Summary: "432 alerts from 100 tenants"}); !strings.Contains(s,
		"not shown (Slack's message size limit). :paperclip: The full answer (432 alerts from 100 tenants) is a CSV in the thread of mcasbot's message in <#C0SOC>.") {
		t.Errorf("posted: %s", s)
	}
	s := note(&formatting.Full{Problem: "mcasbot is not in this channel. <!channel>", Summary: "432 alerts from 100 tenants"})
	if !strings.Contains(s, ":warning: The full answer (432 alerts from 100 tenants) could not be posted as a CSV: mcasbot is not in this channel. &lt;!channel&gt;") {
		t.Errorf("failed: %s", s)
	}
	// A channel id that is not one is never made a link.
	if s := note(&formatting.Full{Channel: "C0SOC><!here", Summary: "x"}); strings.Contains(s, "<!here") || strings.Contains(s, "<#") || !strings.Contains(s, "could not be posted") {
		t.Errorf("bad channel id became markup: %s", s)
	}
}

func TestFullAnswerPost(t *testing.T) {
	text, blocks := formatting.FullAnswerPost("U0CAROL", "alerts limit=100 `<!channel>`", "432 alerts from 100 tenants")
	got := asSlackReads(blocks)
	if !strings.Contains(got, ":paperclip: Full answer to <@U0CAROL>'s `/mcas alerts limit=100 '&lt;!channel&gt;'`: 432 alerts from 100 tenants") {
		t.Errorf("post %s", got)
	}
	if strings.ContainsAny(text, "<>") {
		t.Errorf("fallback %q", text)
	}
	if _, blocks := formatting.FullAnswerPost("<!here>", "alerts", "1 alert"); strings.Contains(fmt.Sprint(blocks[0]), "<!here>") {
		t.Error("a bad user id became a mention")
	}
}

// asSlackReads is v's JSON without HTML escaping, as Slack reads it.
func asSlackReads(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	// Block types marshal themselves, with HTML escaping.
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(b.String())
}

// readCSV parses a file as a spreadsheet would, without the BOM.
func readCSV(t testing.TB, f formatting.File) [][]string {
	t.Helper()
	if !bytes.HasPrefix(f.Data, []byte("\ufeff")) {
		t.Fatal("no byte order mark")
	}
	rows, err := csv.NewReader(bytes.NewReader(f.Data[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestCSVHoldsTheWholeAnswerDefused(t *testing.T) {
	names := customers(100)
	all := spread(names, 432, 100)
	all[0].Title = `=HYPERLINK("https://evil.example","Click")`
	all[1].Title = "+cmd|' /C calc'!A0"
	all[2].Title = "-2+3"
	all[3].Title = "@SUM(A1:A9)"
	all[4].Title = "\t=1+1"
	all[5].Title = "\r\nfoo, \"bar\""
	all[6].Title = "＝1+1"
	all[7].Entities[0].UPN = "=cmd@evil"
	all[8].URL = "javascript:alert(1)"
	res := commands.AlertsResult{Title: "MCAS alerts", Tenants: names, Alerts: all[:20], All: all, Failures: tenantFailures(names[97:])}
	f, ok := formatting.CSV(res)
	if !ok || f.Name != "mcas-alerts.csv" || f.Rows != 432 || f.Summary != "432 alerts from 100 tenants; 3 failed" {
		t.Fatalf("file %q, %d rows, summary %q", f.Name, f.Rows, f.Summary)
	}
	rows := readCSV(t, f)
	if len(rows) != 433 || strings.Join(rows[0], ",") != "time_utc,tenant,severity,status,title,product,user,ips,country,alert_id,link" {
		t.Fatalf("%d rows, header %v", len(rows), rows[0])
	}
	for i, want := range []string{`'=HYPERLINK("https://evil.example","Click")`, "'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(A1:A9)", "'=1+1", `'foo, "bar"`, "'＝1+1"} {
		if got := rows[i+1][4]; got != want {
			t.Errorf("title %d: got %q, want %q", i, got, want)
		}
	}
	if rows[8][6] != "'=cmd@evil" || rows[9][10] != "" {
		t.Errorf("user %q, link %q", rows[8][6], rows[9][10])
	}
	if rows[1][0] != all[0].Time.UTC().Format("2006-01-02 15:04:05") || rows[1][1] != "customer-000" || rows[1][3] != "open" {
		t.Errorf("row %v", rows[1])
	}
	if !bytes.Contains(f.Data, []byte("\r\n")) {
		t.Error("lines do not end in CRLF")
	}
	// The tenants listing, problems first.
	tf, ok := formatting.CSV(tenantsCase())
	trows := readCSV(t, tf)
	if !ok || tf.Name != "mcas-tenants.csv" || len(trows) != 7 || trows[1][0] != "northwind" || trows[1][4] != "skipped: not answering; asked again in 18 s" {
		t.Fatalf("tenants CSV %q: %v", tf.Name, trows)
	}
	if _, ok := formatting.CSV(commands.HelpResult{}); ok {
		t.Error("help has a CSV")
	}
}

func FuzzCSVCell(f *testing.F) {
	for _, s := range []string{"=1+1", "\t=1", "\r\n@x", "-", "+", "a,b", `"q"`, "＠x", " =x", "\x00=x", "\u202e=x", "plain"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := formatting.CSVCell(s)
		if c != "" && strings.ContainsRune("=+-@\t\r＝＋－＠", []rune(c)[0]) {
			t.Fatalf("CSVCell(%q) = %q starts a formula", s, c)
		}
		for _, r := range c {
			if unicode.IsControl(r) {
				t.Fatalf("CSVCell(%q) = %q keeps a control character", s, c)
			}
		}
		// Through the writer and back, every cell is what CSVCell made.
		file, _ := formatting.CSV(commands.AlertsResult{Tenants: []string{s}, All: []source.Alert{{Tenant: s, Title: s, ID: s, Entities: []source.Entity{{Type: "account", UPN: s}}}}})
		rows := readCSV(t, file)
		if len(rows) != 2 || rows[1][1] != c || rows[1][4] != c || rows[1][6] != c || rows[1][9] != c {
			t.Fatalf("round trip of %q: %q", s, rows)
		}
	})
}

func TestTenantsListing(t *testing.T) {
	res := tenantsCase()
	if got := blockText(t, res, "summary"); !strings.HasPrefix(got, "6 tenants · 4 groups · health as the questions to this mcasbot saw it") {
		t.Errorf("summary %q", got)
	}
	want := ":white_check_mark: 2 answering · :warning: 1 failed on their last call · :no_entry: 2 not answering (skipped by questions) · :grey_question: 1 not asked yet"
	if got := blockText(t, res, "health"); got != want {
		t.Errorf("health\n got %q\nwant %q", got, want)
	}
	if got := blockText(t, res, "groups"); got != "*Groups:* `&lt;!here&gt;` (1), `apac` (2), `emea` (2), `tier1` (2)" {
		t.Errorf("groups %q", got)
	}
	plain := formatting.Plain(res)
	i, j, k := strings.Index(plain, "northwind"), strings.Index(plain, "globex"), strings.Index(plain, "fabrikam  ")
	if i < 0 || j < i || k < j || !strings.Contains(plain, "12 s ago: timed out: no answer within 25s") || !strings.Contains(plain, "3 d ago") {
		t.Errorf("rows not problems first, or health missing:\n%s", plain)
	}

	// 150 tenants: summaries, and the rows that fit.
	big := commands.TenantsResult{Now: now}
	for i, n := range customers(150) {
		ti := commands.TenantInfo{Name: n, Source: "mcas", Groups: []string{fmt.Sprintf("region-%d", i%4)}, Budget: "25/min", Health: commands.Health{LastOK: now.Add(-time.Minute)}}
		if i%10 == 0 {
			ti.LastFail, ti.Failure = now, "unavailable (HTTP 503): "+strings.Repeat("x", 300)
		}
		big.Tenants = append(big.Tenants, ti)
	}
	for g := range 4 {
		big.Groups = append(big.Groups, commands.GroupInfo{Name: fmt.Sprintf("region-%d", g)})
	}
	msg, left := formatting.ReplyFull(big, nil)
	if err := formatting.Check(msg); err != nil {
		t.Fatal(err)
	}
	if left == 0 {
		t.Fatal("150 tenants all fit in one message")
	}
	if got := blockText(t, big, "summary"); !strings.HasPrefix(got, "150 tenants · 4 groups") {
		t.Errorf("summary %q", got)
	}
	f, _ := formatting.CSV(big)
	if f.Rows != 150 || f.Summary != "150 tenants, 4 groups" {
		t.Errorf("CSV %d rows, %q", f.Rows, f.Summary)
	}
}

func FuzzTenantsMessage(f *testing.F) {
	f.Add("contoso", "<!channel>", "timed out", 3, 100)
	f.Fuzz(func(t *testing.T, name, group, failure string, state, n int) {
		n = min(max(n, 0), 300)
		res := commands.TenantsResult{Now: now, Selection: "group:" + group}
		for i := range n {
			res.Tenants = append(res.Tenants, commands.TenantInfo{Name: name, Source: name, Groups: []string{group}, Budget: failure,
				State: commands.TenantState(((state % 3) + 3) % 3), Health: commands.Health{LastFail: now.Add(-time.Duration(i) * time.Second), Failure: failure}})
		}
		res.Groups = []commands.GroupInfo{{Name: group, Tenants: []string{name}}}
		msg := formatting.Reply(res)
		if err := formatting.Check(msg); err != nil {
			t.Fatal(err)
		}
		js, _ := json.Marshal(msg)
		assertNoLiveMarkup(t, js)
		_ = formatting.Plain(res)
	})
}

func FuzzManyTenantsAnswer(f *testing.F) {
	f.Add("<!channel> title", "cust<@U1>", "<b>down</b>", "group:<!here>", 20, 300)
	f.Fuzz(func(t *testing.T, title, tenant, reason, sel string, n, tenants int) {
		n, tenants = min(max(n, 0), 100), min(max(tenants, 0), 1000)
		names := make([]string, tenants)
		var fs []commands.Failure
		var ps []commands.Pending
		for i := range names {
			names[i] = fmt.Sprintf("%s-%d", tenant, i)
			switch i % 3 {
			case 1:
				fs = append(fs, commands.Failure{Tenant: names[i], Err: errors.New(reason)})
			case 2:
				ps = append(ps, commands.Pending{Tenant: names[i], Queued: time.Duration(i) * time.Second})
			}
		}
		as := make([]source.Alert, n)
		for i := range as {
			as[i] = source.Alert{ID: "1", Tenant: tenant, Time: now, Title: title, Entities: []source.Entity{{Type: "account", UPN: reason}}}
		}
		for _, res := range []commands.Result{
			commands.AlertsResult{Title: title, Selection: sel, Tenants: names, Alerts: as, All: as, Failures: fs, Pending: ps, Matched: n, Empty: tenants},
			commands.AlertResult{ID: "x", Selection: sel, Tenants: names, Failures: fs, Pending: ps},
		} {
			for _, full := range []*formatting.Full{nil, {Problem: reason, Summary: title}} {
				msg, _ := formatting.ReplyFull(res, full)
				if err := formatting.Check(msg); err != nil {
					t.Fatalf("limit broken: %v", err)
				}
				js, _ := json.Marshal(msg)
				assertNoLiveMarkup(t, js)
			}
			_ = formatting.Plain(res)
		}
		file, _ := formatting.CSV(commands.AlertsResult{Tenants: names, All: as})
		if _, err := csv.NewReader(bytes.NewReader(file.Data[3:])).ReadAll(); err != nil {
			t.Fatalf("CSV does not parse: %v", err)
		}
	})
}
