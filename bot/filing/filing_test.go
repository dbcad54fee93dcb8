package filing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/filing"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/abuseipdb/abusefake"
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/tenants"
)

var now = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

type env struct {
	svc   *filing.Service
	jira  *jirafake.Server
	mcas  *mcasfake.Server
	abuse *abusefake.Server
	db    string
	alert mcasfake.Alert
}

var customFields = []jirafake.CustomField{
	{ID: "customfield_1", Name: "Alert URL", Type: jirafake.URLField, OnScreen: true},
	{ID: "customfield_2", Name: "Alert summary", Type: jirafake.SingleLine, OnScreen: true},
	{ID: "customfield_3", Name: "Alert description", Type: jirafake.Paragraph, OnScreen: true},
	{ID: "customfield_4", Name: "Affected user", Type: jirafake.SingleLine, OnScreen: true},
	{ID: "customfield_5", Name: "IP", Type: jirafake.SingleLine, OnScreen: true},
	{ID: "customfield_6", Name: "Reported IPs", Type: jirafake.Paragraph, OnScreen: true},
}

func newEnv(t *testing.T, lag time.Duration) *env {
	t.Helper()
	e := &env{db: filepath.Join(t.TempDir(), "state.db")}
	e.jira = jirafake.New(jirafake.Options{Cloud: true, User: "soc@x.com", Token: "jira-tok", Fields: customFields, SearchLag: lag})
	t.Cleanup(e.jira.Close)
	e.mcas = mcasfake.New("mcas-tok")
	t.Cleanup(e.mcas.Close)
	e.alert = mcasfake.Generate("contoso", 1, now, time.Hour, 9)[0]
	e.alert.Title = "Leaked credentials"
	e.alert.Entities = append(e.alert.Entities, mcasfake.Entity{Type: "ip", ID: "10.0.0.7"})
	e.alert.Entities[1] = mcasfake.Entity{Type: "ip", ID: "185.220.101.4"}
	e.mcas.AddAlerts(e.alert)
	e.abuse = abusefake.New("abuse-key", 100)
	t.Cleanup(e.abuse.Close)
	for _, r := range abusefake.Samples() {
		e.abuse.Set(r)
	}
	e.svc = e.service(t)
	return e
}

func (e *env) service(t *testing.T) *filing.Service {
	st, err := store.Open(context.Background(), e.db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	jc, _ := jira.New(jira.Config{URL: e.jira.URL, User: "soc@x.com", APIToken: "jira-tok", Attempts: 1}, e.jira.Client(), nil)
	mc, _ := mcas.New(mcas.Config{Name: "contoso", URL: e.mcas.URL, Token: "mcas-tok", RequestsPerMinute: -1}, e.mcas.Client(), nil)
	rep, _ := abuseipdb.New(abuseipdb.Config{APIKey: "abuse-key", URL: e.abuse.URL}, e.abuse.Client(), nil)
	rules, _ := filing.ParseRules("title~Leaked credentials=Highest;policy~Impossible travel=High")
	prios, _ := filing.ParsePriorities("")
	return &filing.Service{
		Mapping: filing.Mapping{Project: "SEC", IssueType: "Task", Priorities: prios, Rules: rules, Fields: filing.Fields{
			AlertURL: "customfield_1", AlertSummary: "customfield_2", AlertDescription: "customfield_3",
			AffectedUser: "customfield_4", IP: "customfield_5", ReportedIPs: "customfield_6"}},
		Store: st, Jira: jc, Tenants: tenants.Static(mc), Reputation: rep,
		Now: func() time.Time { return now },
	}
}

var analyst = filing.Filer{ID: "U0ANALYST", Name: "Ana Lyst"}

func field(t *testing.T, is jirafake.Issue, id string) string {
	t.Helper()
	var s string
	_ = json.Unmarshal(is.Fields[id], &s)
	return s
}

func TestFilesAWellFilledIssueOnce(t *testing.T) {
	e := newEnv(t, 0)
	res, err := e.svc.File(context.Background(), "contoso", e.alert.ID, analyst)
	if err != nil || res.Outcome != filing.Filed || res.Key != "SEC-1" || res.By != analyst.ID {
		t.Fatalf("%+v %v", res, err)
	}
	is := e.jira.Issues()[0]
	if got := field(t, is, "summary"); got != "[MCAS][contoso] Leaked credentials" {
		t.Errorf("summary %q", got)
	}
	if string(is.Fields["priority"]) != `{"name":"Highest"}` {
		t.Errorf("priority %s (rule title~Leaked credentials=Highest)", is.Fields["priority"])
	}
	var labels []string
	_ = json.Unmarshal(is.Fields["labels"], &labels)
	if strings.Join(labels, ",") != "mcas,mcas-"+e.alert.ID+",contoso" {
		t.Errorf("labels %v", labels)
	}
	if field(t, is, "customfield_1") != e.alert.URL || field(t, is, "customfield_2") != "Leaked credentials" ||
		field(t, is, "customfield_4") != e.alert.Entities[0].PA || field(t, is, "customfield_5") != "185.220.101.4, 10.0.0.7" {
		t.Errorf("custom fields %s", is.Fields)
	}
	rep := field(t, is, "customfield_6")
	if !strings.Contains(rep, "185.220.101.4: AbuseIPDB confidence 100%") || !strings.Contains(rep, "Tor exit node") ||
		!strings.Contains(rep, "10.0.0.7: private or reserved address, not sent to AbuseIPDB") {
		t.Errorf("reported IPs %q", rep)
	}
	desc := field(t, is, "description")
	for _, want := range []string{"h3. Defender for Cloud Apps alert", "||Tenant|contoso|", "[Open in Defender for Cloud Apps|" + e.alert.URL + "]", "Filed from Slack by Ana Lyst (U0ANALYST)"} {
		if !strings.Contains(desc, want) {
			t.Errorf("description lacks %q:\n%s", want, desc)
		}
	}
	if e.abuse.Calls("10.0.0.7") != 0 {
		t.Error("private address sent to AbuseIPDB")
	}
	// Again, and from a fresh service on the same database (a restart).
	for _, svc := range []*filing.Service{e.svc, e.service(t)} {
		res, err := svc.File(context.Background(), "contoso", e.alert.ID, filing.Filer{ID: "U0OTHER"})
		if err != nil || res.Outcome != filing.AlreadyFiled || res.Key != "SEC-1" || res.By != analyst.ID {
			t.Fatalf("second file: %+v %v", res, err)
		}
	}
	if n := len(e.jira.Issues()); n != 1 {
		t.Fatalf("%d issues", n)
	}
}

func TestRacingClicksFileOneIssue(t *testing.T) {
	e := newEnv(t, time.Minute) // Jira search never sees the new issue in time
	e.jira.SetLatency(100 * time.Millisecond)
	second := e.service(t) // another replica on the same database
	var wg sync.WaitGroup
	results := make(chan filing.Result, 12)
	for i := 0; i < 12; i++ {
		svc := e.svc
		if i%2 == 1 {
			svc = second
		}
		wg.Go(func() {
			res, err := svc.File(context.Background(), "contoso", e.alert.ID, filing.Filer{ID: "U0A"})
			if err != nil {
				t.Error(err)
			}
			results <- res
		})
	}
	wg.Wait()
	close(results)
	filed := 0
	for r := range results {
		if r.Outcome == filing.Filed {
			filed++
		} else if r.Outcome != filing.InProgress && r.Outcome != filing.AlreadyFiled {
			t.Errorf("outcome %+v", r)
		}
	}
	if filed != 1 || len(e.jira.Issues()) != 1 {
		t.Fatalf("filed %d times, %d issues in Jira", filed, len(e.jira.Issues()))
	}
}

func TestIssueFiledBeforeTheStoreKnewIsFound(t *testing.T) {
	e := newEnv(t, 0)
	key := e.jira.AddIssue("filed by hand", []string{"mcas", filing.Label(e.alert.ID)}, time.Hour)
	res, err := e.svc.File(context.Background(), "contoso", e.alert.ID, analyst)
	if err != nil || res.Outcome != filing.AlreadyFiled || res.Key != key || !res.Found {
		t.Fatalf("%+v %v", res, err)
	}
	if len(e.jira.Issues()) != 1 {
		t.Fatal("created a twin")
	}
	rec, ok, _ := e.svc.Store.Issue(context.Background(), "contoso", e.alert.ID)
	if !ok || rec.Key != key || rec.State != store.IssueCreated {
		t.Fatalf("found issue not recorded: %+v", rec)
	}
}

func TestRejectedFieldIsNamedAndClickCanRetry(t *testing.T) {
	e := newEnv(t, 0)
	e.svc.Mapping.Fields.IP = "customfield_999"
	res, err := e.svc.File(context.Background(), "contoso", e.alert.ID, analyst)
	if res.Outcome != filing.Failed || err == nil || !strings.Contains(err.Error(), "customfield_999: Field 'customfield_999' cannot be set") {
		t.Fatalf("%+v %v", res, err)
	}
	e.svc.Mapping.Fields.IP = "customfield_5"
	res, err = e.svc.File(context.Background(), "contoso", e.alert.ID, analyst)
	if err != nil || res.Outcome != filing.Filed {
		t.Fatalf("retry: %+v %v", res, err)
	}
}

func TestAmbiguousJiraFailureIsNotRepeatedBlindly(t *testing.T) {
	e := newEnv(t, time.Hour) // a new issue stays out of search for a long time
	e.jira.Fail(jirafake.Fault{Path: "/rest/api/2/issue", Status: 500})
	res, err := e.svc.File(context.Background(), "contoso", e.alert.ID, analyst)
	if res.Outcome != filing.Failed || !strings.Contains(err.Error(), "may or may not exist") || !strings.Contains(err.Error(), "held until") {
		t.Fatalf("%+v %v", res, err)
	}
	if len(e.jira.Issues()) != 0 {
		t.Fatal("retried a 500 create")
	}
	// A click right after is told why the alert is held, and files nothing
	// (Jira's search could not yet show an issue the 500 may have created).
	res, err = e.svc.File(context.Background(), "contoso", e.alert.ID, filing.Filer{ID: "U0OTHER"})
	if err != nil || res.Outcome != filing.InProgress || !strings.Contains(res.Held, "HTTP 500") || res.HeldUntil.IsZero() || res.By != analyst.ID {
		t.Fatalf("click on a held alert: %+v %v", res, err)
	}
	if e.jira.Requests("POST /rest/api/2/issue") != 1 {
		t.Fatal("a held alert was filed again")
	}
}

func TestStoreDownRefusesToFile(t *testing.T) {
	e := newEnv(t, 0)
	_ = e.svc.Store.Close()
	res, err := e.svc.File(context.Background(), "contoso", e.alert.ID, analyst)
	if res.Outcome != filing.Refused || err != filing.ErrStoreDown || len(e.jira.Issues()) != 0 {
		t.Fatalf("%+v %v, %d issues", res, err, len(e.jira.Issues()))
	}
}

func TestReputationNeverBlocksTheIssue(t *testing.T) {
	e := newEnv(t, 0)
	// AbuseIPDB takes a minute: filing that waited for it could not finish
	// in the bound below, however loaded the machine.
	e.abuse.SetLatency(time.Minute)
	e.svc.ReputationWait = 100 * time.Millisecond
	start := time.Now()
	res, err := e.svc.File(context.Background(), "contoso", e.alert.ID, analyst)
	if err != nil || res.Outcome != filing.Filed || time.Since(start) > 30*time.Second {
		t.Fatalf("%+v %v after %v", res, err, time.Since(start))
	}
	if rep := field(t, e.jira.Issues()[0], "customfield_6"); !strings.Contains(rep, "185.220.101.4: reputation unavailable") {
		t.Fatalf("reported IPs %q", rep)
	}
}

func TestLongAndHostileValuesFitJira(t *testing.T) {
	e := newEnv(t, 0)
	long := e.alert
	long.ID = "abcdef0123456789abcdef01"
	long.Title = strings.Repeat("Very long title {html}<script> ", 30)
	long.Description = "<p>See [evil|javascript:alert(1)] and {code}x{code} from 203.0.113.9 by bob@evil.example</p>" + strings.Repeat("x", 40000)
	long.Entities = []mcasfake.Entity{{Type: "account", ID: strings.Repeat("u", 300) + "@x.com", PA: strings.Repeat("u", 300) + "@x.com"}}
	e.mcas.AddAlerts(long)
	res, err := e.svc.File(context.Background(), "contoso", long.ID, analyst)
	if err != nil || res.Outcome != filing.Filed {
		t.Fatalf("%+v %v", res, err)
	}
	is := e.jira.Issues()[0]
	if n := len([]rune(field(t, is, "summary"))); n > 255 {
		t.Errorf("summary %d runes", n)
	}
	desc := field(t, is, "description")
	if strings.Contains(desc, "[evil|javascript") || strings.Contains(desc, "{code}") {
		t.Errorf("wiki markup from upstream survived:\n%s", desc[:500])
	}
	if field(t, is, "customfield_5") != "203.0.113.9" {
		t.Errorf("IP from description fallback: %q", field(t, is, "customfield_5"))
	}
}

func TestUserFallsBackToDescription(t *testing.T) {
	a := source.Alert{Description: "<p>Suspicious sign-in by <b>carol@contoso.com</b> from 198.51.100.4</p>"}
	if u := filing.AffectedUser(a); u != "carol@contoso.com" {
		t.Fatalf("user %q", u)
	}
	if ips := filing.IPs(a); len(ips) != 1 || ips[0].String() != "198.51.100.4" {
		t.Fatalf("ips %v", ips)
	}
}

func TestParseRulesAndPriorities(t *testing.T) {
	for _, bad := range []string{"title=High", "color~red=High", "title~x=", "~x=High"} {
		if _, err := filing.ParseRules(bad); err == nil {
			t.Errorf("rule %q accepted", bad)
		}
	}
	p, err := filing.ParsePriorities("high=P1, informational=P5")
	if err != nil || p[source.SeverityHigh] != "P1" || p[source.SeverityMedium] != "Medium" || p[source.SeverityInformational] != "P5" {
		t.Fatalf("%v %v", p, err)
	}
	if _, err := filing.ParsePriorities("critical=P0"); err == nil {
		t.Fatal("unknown severity accepted")
	}
	m := filing.Mapping{Priorities: p, Rules: []filing.Rule{{Conds: []filing.Cond{{Field: "policy", Contains: "impossible travel"}}, Priority: "High"}}}
	a := source.Alert{Severity: source.SeverityLow, Entities: []source.Entity{{Type: "policyRule", Label: "Impossible Travel (custom)"}}}
	if m.Priority(a) != "High" {
		t.Fatal("policy rule not applied")
	}
	a.Entities = nil
	if m.Priority(a) != "Low" {
		t.Fatal("severity mapping not applied")
	}
}

// TestUpstreamMarkupIsNeverLiveInJira plants Jira wiki markup in every
// upstream text that reaches the issue (the alert's title, description,
// user and entity labels; AbuseIPDB's ISP, domain and hostnames, which the
// address's holder chooses) and reads every field Jira renders as Jira would.
func TestUpstreamMarkupIsNeverLiveInJira(t *testing.T) {
	e := newEnv(t, 0)
	payloads := []string{
		"[click here|https://evil.example/login]", "!https://evil.example/pixel.png!", "[~accountid:5b10a2844c20165700ede21g]",
		"{html}<b>x</b>{html}", "{color:red}alarm{color}", "{code}x(){code}", `a\\b`, "table|pipe", "*bold* _em_ {{mono}}",
	}
	evil := strings.Join(payloads, " ")
	a := e.alert
	a.ID = "bad0000000000000000000aa"
	a.Title = "Leaked credentials " + evil
	a.Description = "<p>h1. Heading</p><br>----<br>" + evil
	a.Entities = []mcasfake.Entity{
		{Type: "account", ID: "mallory@contoso.com", Label: evil, PA: "mallory@contoso.com"},
		{Type: "ip", ID: "5.188.10.66"},
		{Type: "service", ID: 11161, Label: "[pay here|https://evil.example/pay]"},
	}
	a.Evidence = []any{map[string]any{"text": evil}}
	domain := "[pay here|https://evil.example/pay]"
	e.abuse.Set(abusefake.Report{IPAddress: "5.188.10.66", IsPublic: true, IPVersion: 4, AbuseConfidenceScore: 90,
		ISP: "[pay here|https://evil.example/pay] !https://evil.example/isp.png!", Domain: &domain,
		UsageType: "{html}x{html}", Hostnames: []string{"[~accountid:99]", "h1.evil.example"}})
	// Without a reported-IPs field the reputation goes into the description.
	for i, reportedIPs := range []string{"customfield_6", ""} {
		e.svc.Mapping.Fields.ReportedIPs = reportedIPs
		a.ID = fmt.Sprintf("bad00000000000000000000%d", i)
		e.mcas.AddAlerts(a)
		res, err := e.svc.File(context.Background(), "contoso", a.ID, filing.Filer{ID: "U0ANALYST", Name: "[~accountid:1] Ana"})
		if err != nil || res.Outcome != filing.Filed {
			t.Fatalf("%+v %v", res, err)
		}
		is := e.jira.Issues()[len(e.jira.Issues())-1]
		fields := e.jira.WikiFields(is)
		if want := map[string]int{"customfield_6": 3, "": 2}[reportedIPs]; len(fields) != want {
			t.Fatalf("rendered fields %v", fields)
		}
		for id, wiki := range fields {
			text, live := jirafake.Render(wiki)
			for _, l := range live {
				if !ours(l, a.URL) {
					t.Errorf("%s: live %s %q from upstream text", id, l.Kind, l.Text)
				}
			}
			// Escaped, not stripped: the analyst reads the original text.
			wants := map[string][]string{
				"description":   {"[click here|https://evil.example/login]", "[pay here|https://evil.example/pay]", "h1. Heading ----"},
				"customfield_3": {"[click here|https://evil.example/login]", `a\\b table|pipe`},
				"customfield_6": {"[pay here|https://evil.example/pay] !https://evil.example/isp.png!", "[~accountid:99]"},
			}
			for _, want := range wants[id] {
				if !strings.Contains(text, want) {
					t.Errorf("%s does not show %q as text:\n%s", id, want, text)
				}
			}
		}
	}
}

// ours reports whether a live construct is the bot's own markup.
func ours(l jirafake.Live, portal string) bool {
	switch l.Kind {
	case "table", "list":
		return true
	case "heading":
		return slices.Contains([]string{"Defender for Cloud Apps alert", "Description", "Entities", "Evidence", "IP reputation (AbuseIPDB)"}, l.Text)
	case "link":
		return l.Text == "Open in Defender for Cloud Apps|"+portal
	case "effect":
		return strings.HasPrefix(l.Text, "_Filed from Slack by ")
	}
	return false
}

// Alert ids are per tenant: the label search that finds an issue filed
// before the store knew must not answer with another tenant's issue for an
// alert of the same id.
func TestLabelSearchKeepsToTheTenant(t *testing.T) {
	e := newEnv(t, 0)
	other := mcasfake.New("mcas-tok")
	t.Cleanup(other.Close)
	twin := e.alert
	twin.URL = strings.Replace(twin.URL, "contoso", "fabrikam", 1)
	other.AddAlerts(twin)
	mc, _ := mcas.New(mcas.Config{Name: "fabrikam", URL: other.URL, Token: "mcas-tok", RequestsPerMinute: -1}, other.Client(), nil)
	e.svc.Tenants.Put(mc)
	contosos := e.jira.AddIssue("contoso's alert", []string{"mcas", filing.Label(e.alert.ID), "contoso"}, time.Hour)

	res, err := e.svc.File(context.Background(), "fabrikam", twin.ID, analyst)
	if err != nil || res.Outcome != filing.Filed || res.Key == contosos {
		t.Fatalf("fabrikam's alert answered with contoso's issue: %+v %v", res, err)
	}
	// contoso's own alert still finds its issue.
	res, err = e.svc.File(context.Background(), "contoso", e.alert.ID, analyst)
	if err != nil || res.Outcome != filing.AlreadyFiled || res.Key != contosos {
		t.Fatalf("contoso: %+v %v", res, err)
	}
}
