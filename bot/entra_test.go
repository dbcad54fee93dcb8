package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot"
	"github.com/soc/mcasbot/bot/createjira"
	"github.com/soc/mcasbot/bot/filing"
	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/graph"
	"github.com/soc/mcasbot/integrations/graph/graphfake"
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

const (
	dirContoso  = "11111111-aaaa-4aaa-8aaa-111111111111"
	dirFabrikam = "22222222-bbbb-4bbb-8bbb-222222222222"
	multiApp    = "0b5c1e7a-3f1d-4c59-9a57-5a1f00000001"
	appSecret   = "Sx8Q~app-SECRET-555-value"
	wrongSecret = "Sx8Q~WRONG-SECRET-777-value"
)

// entraWorld is the harness with contoso and fabrikam signing in with one
// multi-tenant Entra ID app and northwind on its legacy token.
type entraWorld struct {
	*harness
	authority *entrafake.Server
	creds     map[string]*entra.Credential
}

// startEntra starts the bot; secrets may give a tenant another secret.
// extra runs after the tenants are on Entra ID, before the bot starts.
func startEntra(t *testing.T, secrets map[string]string, extra func(w *entraWorld)) *entraWorld {
	t.Helper()
	return startEntraWith(t, time.Second, secrets, extra)
}

// startEntraWith gives each MCAS call timeout (a hung sign-in test wants it
// short, a burst on a loaded machine long).
func startEntraWith(t *testing.T, timeout time.Duration, secrets map[string]string, extra func(w *entraWorld)) *entraWorld {
	t.Helper()
	w := &entraWorld{authority: entrafake.New(), creds: map[string]*entra.Credential{}}
	t.Cleanup(w.authority.Close)
	w.authority.AddApp(entrafake.App{ClientID: multiApp, Secret: appSecret, Tenants: []string{dirContoso, dirFabrikam},
		Roles: []string{"Investigation.Read", "GroupMember.Read.All"}})
	dirs := map[string]string{"contoso": dirContoso, "fabrikam": dirFabrikam}
	w.harness = startWith(t, bot.Config{AllowedChannels: []string{socChannel}}, nil, func(h *harness) {
		w.harness = h
		for i, c := range h.clients {
			dir, ok := dirs[c.Name()]
			if !ok {
				continue // northwind keeps its legacy token
			}
			sec := appSecret
			if s, ok := secrets[c.Name()]; ok {
				sec = s
			}
			cred, err := entra.New(entra.Settings{Tenant: c.Name(), TenantID: dir, ClientID: multiApp, Method: entra.ClientSecret, Secret: sec,
				AuthorityHost: w.authority.Authority()}, w.authority.Client())
			if err != nil {
				t.Fatal(err)
			}
			w.creds[c.Name()] = cred
			srv := h.tenants[i]
			srv.SetToken("") // Entra ID only: a legacy token would be refused
			srv.TrustEntra(dir, w.authority)
			ec, err := mcas.New(mcas.Config{Name: c.Name(), URL: srv.URL, Auth: mcas.Bearer(cred), Timeout: timeout, RequestsPerMinute: -1, Attempts: 1}, srv.Client(), h.logger)
			if err != nil {
				t.Fatal(err)
			}
			h.clients[i] = ec
			h.runner.Tenants.Put(ec)
		}
		if extra != nil {
			extra(w)
		}
	}, "contoso", "fabrikam", "northwind")
	return w
}

func (w *entraWorld) reply(t *testing.T, text string) (string, message) {
	t.Helper()
	id, _ := w.command(t, text)
	posts, err := w.slack.Responses(id, 1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(posts[0].Raw)
	return string(raw), decode(t, posts[0].Raw)
}

func TestEntraAndLegacyTenantsAnswerTogether(t *testing.T) {
	w := startEntra(t, nil, nil)
	raw, m := w.reply(t, "alerts limit=90 since=30d")
	if !strings.Contains(raw, "Tenants: contoso, fabrikam, northwind") || strings.Contains(raw, "Partial results") || len(m.Attachments) != 1 {
		t.Fatalf("reply %s", raw)
	}
	for _, name := range []string{"contoso", "fabrikam", "northwind"} {
		if !strings.Contains(raw, `"text":"`+name+`"`) {
			t.Errorf("no row from %s", name)
		}
	}
	for i, name := range []string{"contoso", "fabrikam", "northwind"} {
		auth := w.tenants[i].Requests()[0].Auth
		want := "Bearer "
		if name == "northwind" {
			want = "Token "
		}
		if !strings.HasPrefix(auth, want) {
			t.Errorf("%s was sent %.10q…", name, auth)
		}
	}
}

func TestABurstCostsOneTokenRequestPerTenant(t *testing.T) {
	w := startEntraWith(t, 15*time.Second, nil, nil)
	var ids []string
	// Fifty different questions, so none is answered from the query cache.
	for i := range 50 {
		id, err := w.slack.SlashCommand(analyst, socChannel, fmt.Sprintf("alerts since=%dh", i+1))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		posts, err := w.slack.Responses(id, 1, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if raw, _ := json.Marshal(posts[0].Raw); strings.Contains(string(raw), "Partial results") {
			t.Fatalf("a tenant failed: %s", raw)
		}
	}
	for _, dir := range []string{dirContoso, dirFabrikam} {
		if n := w.authority.TokenRequests(dir); n != 1 {
			t.Errorf("50 commands made %d token requests for %s, want 1", n, dir)
		}
	}
	if n := len(w.tenants[0].Requests()); n != 50 {
		t.Fatalf("contoso answered %d calls", n)
	}
}

func TestWrongSecretIsAClearPartialResultsLine(t *testing.T) {
	w := startEntra(t, map[string]string{"fabrikam": wrongSecret}, nil)
	raw, m := w.reply(t, "alerts limit=20")
	want := "*fabrikam*: authentication failed: Entra ID rejected the application's secret (AADSTS7000215) — it may have expired"
	if !strings.Contains(raw, want) || len(m.Attachments) != 1 || !strings.Contains(raw, `"text":"contoso"`) || !strings.Contains(raw, `"text":"northwind"`) {
		t.Fatalf("reply lacks %q or the others' rows: %s", want, raw)
	}
	if n := len(w.tenants[1].Requests()); n != 0 {
		t.Fatalf("fabrikam's MCAS was called %d times without a token", n)
	}
	// Secrets are nowhere: not in the logs, not in Slack.
	all := w.logs.String()
	for _, p := range w.slack.Posts() {
		b, _ := json.Marshal(p.Raw)
		all += string(b)
	}
	for _, s := range []string{appSecret, wrongSecret, mcasToken} {
		if strings.Contains(all, s) {
			t.Fatalf("secret %q leaked", s)
		}
	}
	if !strings.Contains(w.logs.String(), "AADSTS7000215") {
		t.Fatal("the failure is not in the log")
	}
}

func TestAHungSignInDoesNotStallTheOthers(t *testing.T) {
	w := startEntra(t, nil, func(w *entraWorld) {
		// fabrikam's authority never answers in time.
		w.authority.Fail(entrafake.Fault{Path: "/" + dirFabrikam + "/", Delay: 20 * time.Second})
	})
	start := time.Now()
	raw, m := w.reply(t, "alerts limit=20")
	if !strings.Contains(raw, "*fabrikam*: timed out") || len(m.Attachments) != 1 || !strings.Contains(raw, `"text":"contoso"`) {
		t.Fatalf("reply %s", raw)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("the reply waited %v", d)
	}
	w.authority.CloseClientConnections()
}

// Create Jira on alerts of Entra tenants: the priority rule asks Graph
// whether the affected user is in Staff.
func TestGroupRuleThroughCreateJira(t *testing.T) {
	js := jirafake.New(jirafake.Options{Cloud: true, User: "soc@example.com", Token: "jira-SECRET-666"})
	defer js.Close()
	var g *graphfake.Server
	var digest *schedule.Digest
	staff := mcasfake.Generate("contoso", 3, now, time.Hour, 77)
	for i, u := range []string{"carol.j@contoso.com", "temp@contoso.com", "dave@contoso.com"} {
		staff[i].Title, staff[i].SeverityValue = "Leaked credentials", 1
		staff[i].Entities[0] = mcasfake.Entity{Type: "account", ID: u, Label: u, PA: u}
	}
	w := startEntra(t, nil, func(w *entraWorld) {
		w.tenants[0].SetAlerts(staff)
		w.tenants[1].SetAlerts(nil)
		w.tenants[2].SetAlerts(nil)
		g = graphfake.New(dirContoso, w.authority)
		t.Cleanup(g.Close)
		g.SetUser("carol.j@contoso.com", "All Company", "Staff")
		g.SetUser("temp@contoso.com", "Contractors")
		gc, err := graph.New(graph.Config{URL: g.URL, Attempts: 1}, "contoso", w.creds["contoso"], g.Client(), w.logger)
		if err != nil {
			t.Fatal(err)
		}
		st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		jc, _ := jira.New(jira.Config{URL: js.URL, User: "soc@example.com", APIToken: "jira-SECRET-666"}, js.Client(), w.logger)
		prios, _ := filing.ParsePriorities("")
		rules, _ := filing.ParseRules("title~Leaked credentials&group=Staff=Highest")
		svc := &filing.Service{Mapping: filing.Mapping{Project: "SEC", IssueType: "Task", Priorities: prios, Rules: rules},
			Store: st, Jira: jc, Tenants: w.runner.Tenants, Logger: w.logger, Groups: graph.Directory{Clients: map[string]*graph.Client{"contoso": gc}}}
		w.bot.EnableJira(createjira.Config{Filer: svc, Issues: st, ActionUsers: []string{analyst}, Channels: []string{digestChannel}})
		digest = &schedule.Digest{Config: schedule.Config{Channel: digestChannel, MinSeverity: source.SeverityLow, PostInterval: time.Millisecond},
			Store: st, Slack: w.bot.API(), Logger: w.logger}
		digest.Tenants = w.runner.Tenants
	})
	if _, err := digest.Run(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	parent := w.slack.Posts()[0]
	file := func(user string) jirafake.Issue {
		t.Helper()
		before := len(js.Issues())
		id := w.click(t, parent, buttonFor(t, parent, user, staff))
		deadline := time.Now().Add(5 * time.Second)
		for len(js.Issues()) == before && time.Now().Before(deadline) {
			if reps := w.slackResponses(id); len(reps) > 0 {
				t.Fatalf("click on %s's alert answered %q", user, reps[0].Text)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if len(js.Issues()) == before {
			t.Fatalf("no issue for %s", user)
		}
		return js.Issues()[before]
	}
	desc := func(is jirafake.Issue) string {
		var s string
		_ = json.Unmarshal(is.Fields["description"], &s)
		return s
	}
	if is := file("carol.j@contoso.com"); string(is.Fields["priority"]) != `{"name":"Highest"}` || !strings.Contains(desc(is), "||Matched groups|Staff|") {
		t.Fatalf("Staff member's issue: %s\n%s", is.Fields["priority"], desc(is))
	}
	if is := file("temp@contoso.com"); string(is.Fields["priority"]) != `{"name":"Medium"}` || strings.Contains(desc(is), "Matched groups") {
		t.Fatalf("non-member's issue: %s\n%s", is.Fields["priority"], desc(is))
	}
	// Graph down: the issue is still filed, saying why no group rule applied.
	g.Fail(graphfake.Fault{Status: 503})
	is := file("dave@contoso.com")
	if string(is.Fields["priority"]) != `{"name":"Medium"}` || !strings.Contains(desc(is), "group membership unavailable: unavailable (HTTP 503)") {
		t.Fatalf("Graph down: %s\n%s", is.Fields["priority"], desc(is))
	}
}

func (w *entraWorld) click(t *testing.T, msg slackfake.Post, action string) string {
	t.Helper()
	id, err := w.slack.Click(analyst, w.slack.Current(msg), action)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.slack.WaitAck(id, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	return id
}

// buttonFor finds the Create Jira button of user's alert.
func buttonFor(t *testing.T, p slackfake.Post, user string, alerts []mcasfake.Alert) string {
	t.Helper()
	var id string
	for _, a := range alerts {
		if a.Entities[0].PA == user {
			id = a.ID
		}
	}
	var blocks slack.Blocks
	if err := json.Unmarshal(p.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	for key, v := range formatting.ButtonsOf(blocks.BlockSet) {
		if v.AlertID == id {
			return formatting.ActionCreateJira + ":" + key
		}
	}
	t.Fatalf("no button for %s", user)
	return ""
}

// The digest names a tenant whose token cannot be had, in words, and
// posts the others' alerts.
func TestDigestNamesATenantWithoutToken(t *testing.T) {
	var digest *schedule.Digest
	w := startEntra(t, map[string]string{"contoso": wrongSecret}, func(w *entraWorld) {
		st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		digest = &schedule.Digest{Config: schedule.Config{Channel: digestChannel, MinSeverity: source.SeverityHigh, PostInterval: time.Millisecond, NoJira: true},
			Store: st, Slack: w.bot.API(), Logger: w.logger}
		digest.Tenants = w.runner.Tenants
	})
	rep, err := digest.Run(context.Background(), false)
	if err != nil || rep.Posted == 0 || len(rep.Failures) != 1 || rep.Failures[0].Tenant != "contoso" ||
		!strings.Contains(rep.Failures[0].Reason, "Entra ID rejected the application's secret (AADSTS7000215)") {
		t.Fatalf("%+v %v", rep, err)
	}
	parent := string(w.slack.Posts()[0].Blocks)
	if !strings.Contains(parent, "Could not read these tenants") || !strings.Contains(parent, "AADSTS7000215") || strings.Contains(parent, wrongSecret) {
		t.Fatalf("parent %s", parent)
	}
}
