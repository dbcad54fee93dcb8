package bot_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot"
	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/defender"
	"github.com/soc/mcasbot/integrations/defender/defenderfake"
	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store/storetest"
)

const (
	graphApp    = "0b5c1e7a-3f1d-4c59-9a57-5a1f00000051"
	graphSecret = "Sx8Q~bot-graph-SECRET-0051"
)

// graphWorld is Microsoft Graph for the harness's "graph:<name>" tenants:
// one fake Entra ID and one fake Graph, a directory per tenant.
type graphWorld struct {
	authority *entrafake.Server
	srv       *defenderfake.Server
	dirs      map[string]*defenderfake.Tenant
	clients   map[string]*defender.Client
}

func graphDir(name string) string {
	return fmt.Sprintf("%08x-eeee-4eee-8eee-%012x", len(name), len(name)*7919)
}

// graphTenant adds tenant name, read through Graph, with the samples the
// MCAS tenants get (as Graph serves them), and a Defender for Identity
// alert.
func (h *harness) graphTenant(t testing.TB, name string, seed uint64, logger *slog.Logger) source.Tenant {
	t.Helper()
	if h.graph == nil {
		g := &graphWorld{authority: entrafake.New(), dirs: map[string]*defenderfake.Tenant{}, clients: map[string]*defender.Client{}}
		t.Cleanup(g.authority.Close)
		g.srv = defenderfake.New(g.authority, nil)
		t.Cleanup(g.srv.Close)
		h.graph = g
	}
	g, dir := h.graph, graphDir(name)
	g.authority.AddApp(entrafake.App{ClientID: graphApp, Secret: graphSecret, Tenants: append(allDirs(g), dir),
		Roles: []string{defenderfake.RoleReadWrite, defenderfake.RoleHunting}})
	d := g.srv.Tenant(dir)
	d.AddAlerts(defenderfake.Generate(name, dir, 30, now, 5*24*time.Hour, seed)...)
	d.AddAlerts(defenderfake.Hostile(name, dir, now.Add(-time.Minute)))
	d.AddAlerts(defenderfake.Identity(dir, "dave@"+name+".com", "da638700000000000009_1", now.Add(-2*time.Minute)))
	d.AddEvents(defenderfake.Events(name, 50, now, 48*time.Hour, seed)...)
	g.dirs[name] = d
	cred, err := entra.New(entra.Settings{Tenant: name, TenantID: dir, ClientID: graphApp, Method: entra.ClientSecret, Secret: graphSecret,
		AuthorityHost: g.authority.Authority()}, g.authority.Client())
	if err != nil {
		t.Fatal(err)
	}
	c, err := defender.New(defender.Config{Name: name, URL: g.srv.URL, Tokens: cred, Timeout: 3 * time.Second, RequestsPerMinute: -1, HuntingPerMinute: -1, Attempts: 2,
		ServiceSources: []string{"microsoftDefenderForCloudApps", "microsoftDefenderForIdentity"}}, g.srv.Client(), logger)
	if err != nil {
		t.Fatal(err)
	}
	g.clients[name] = c
	return c
}

func allDirs(g *graphWorld) []string {
	var out []string
	for name := range g.dirs {
		out = append(out, graphDir(name))
	}
	return out
}

func (g *graphWorld) requests(method string) []defenderfake.Request {
	var out []defenderfake.Request
	for _, r := range g.srv.Requests() {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

// An MCAS tenant and a Graph tenant answer one command together, in one
// table, each through its own API.
func TestMCASAndGraphTenantsInOneAnswer(t *testing.T) {
	h := start(t, bot.Config{AllowedChannels: []string{socChannel}}, "contoso", "graph:northwind")
	id, ack := h.command(t, "alerts limit=80 since=30d")
	if !strings.Contains(string(ack.Payload), "Looking up alerts in 2 tenants") {
		t.Fatalf("ack %s", ack.Payload)
	}
	posts, err := h.slack.Responses(id, 1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(posts[0].Raw)
	s := string(raw)
	for _, want := range []string{"Tenants: contoso, northwind", `"text":"contoso"`, `"text":"northwind"`,
		"Defender for Identity · Suspected brute-force attack (LDAP)", "https://security.microsoft.com/alerts/", "contoso.portal.cloudappsecurity.com"} {
		if !strings.Contains(s, want) {
			t.Errorf("reply lacks %q", want)
		}
	}
	if strings.Contains(s, "Partial results") {
		t.Fatalf("a tenant failed: %s", s)
	}
	// The hostile Graph alert's title is raw text, never mrkdwn.
	if strings.Contains(s, `<!channel>`) {
		t.Fatal("live markup in the reply")
	}
	if f := h.graph.srv.Requests()[0].Filter; !strings.Contains(f, "serviceSource eq 'microsoftDefenderForIdentity'") || !strings.Contains(f, "createdDateTime ge ") {
		t.Fatalf("filter %q", f)
	}

	// /mcas ip: MCAS's activities and advanced hunting's, in one table.
	id, _ = h.command(t, "ip "+mcasfake.TorIP+" limit=40")
	posts, err = h.slack.Responses(id, 1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = json.Marshal(posts[0].Raw)
	if !strings.Contains(string(raw), `"text":"northwind"`) || !strings.Contains(string(raw), `"text":"contoso"`) || len(h.graph.srv.HuntingQueries()) != 1 {
		t.Fatalf("ip reply %s", raw)
	}

	// A Graph alert's card: Defender XDR's state, the product, the incident.
	id, _ = h.command(t, "alert da638700000000000009_1")
	posts, err = h.slack.Responses(id, 1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	card := string(posts[0].Blocks)
	for _, want := range []string{":large_yellow_circle: *In progress* · assigned to erin.ops@northwind.com", "*Product*\\nDefender for Identity",
		"https://security.microsoft.com/incidents/", "Open in Microsoft Defender XDR"} {
		if !strings.Contains(card, want) {
			t.Errorf("card lacks %q:\n%s", want, card)
		}
	}

	// /mcas user: the Graph tenant filters on the user's evidence.
	id, _ = h.command(t, "user dave@northwind.com")
	if _, err := h.slack.Responses(id, 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	reqs := h.graph.srv.Requests()
	if f := reqs[len(reqs)-1].Filter; !strings.Contains(f, "userPrincipalName eq 'dave@northwind.com'") {
		t.Fatalf("user filter %q", f)
	}
}

// A Graph tenant in the digest, then Close… on its entry: Defender XDR's
// reasons, one PATCH and one comment, the message redrawn.
func TestCloseAGraphAlertFromTheDigest(t *testing.T) {
	w := startWorkflowOf(t, []string{"contoso", "graph:northwind"}, filepath.Join(t.TempDir(), "s.db"), newJira(), nil)
	parent, _ := w.postDigest(t)
	// One digest of both tenants.
	if !strings.Contains(string(parent.Blocks), "*contoso*: ") || !strings.Contains(string(parent.Blocks), "*northwind*: ") {
		t.Fatalf("parent %s", parent.Blocks)
	}
	all := w.slack.Posts()
	var e entry
	var msg slackfake.Post
	for _, p := range all {
		if p.Method != "chat.postMessage" {
			continue
		}
		for _, x := range entries(t, p) {
			if x.tenant == "northwind" && e.tenant == "" {
				e, msg = x, p
			}
		}
	}
	if e.tenant == "" {
		t.Fatalf("no northwind entry in the digest:\n%s", parent.Blocks)
	}
	view := w.openForm(t, lead, msg, e.menu, e.value(formatting.OpClose))
	if body := string(w.slack.ViewBody(view)); !strings.Contains(body, "true_positive/compromised_account") || !strings.Contains(body, "Microsoft Defender XDR") {
		t.Fatalf("the form does not offer Defender XDR's reasons: %s", body)
	}
	id, err := w.slack.ViewAction(lead, view, formatting.BlockClassification, formatting.ActionClassification, string(source.TruePositive))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.slack.WaitAck(id, 2*time.Second)
	if _, err := w.slack.WaitViews(1, 5*time.Second, func(c slackfake.ViewCall) bool {
		return c.Method == "views.update" && c.ViewID == view && strings.Contains(string(c.View), `"block_id":"reason:true_positive"`)
	}); err != nil {
		t.Fatal(err)
	}
	_, action, errs := w.submit(t, lead, view, closeForm("true_positive/compromised_account", "Password reset."))
	if action != "" || errs != nil {
		t.Fatalf("form sent back: %s %v", action, errs)
	}
	if _, err := w.slack.WaitPosts(1, 10*time.Second, func(p slackfake.Post) bool {
		return p.Method == "response_url" && strings.Contains(p.Text, "Closed as true positive (compromised account) by <@"+lead+"> in northwind")
	}); err != nil {
		t.Fatalf("no confirmation: %v", err)
	}
	w.waitUpdate(t, msg, "Closed as true positive (compromised account)")
	patches := w.graph.requests(http.MethodPatch)
	if len(patches) != 1 || string(patches[0].Body) != `{"status":"resolved","classification":"truePositive","determination":"compromisedAccount"}` {
		t.Fatalf("PATCHes %+v", patches)
	}
	if cs, bodies := w.graph.dirs["northwind"].Comments(e.alertID); len(cs) != 1 || !strings.HasPrefix(string(bodies[0]), "{") ||
		cs[0].Comment != "Closed from Slack by "+lead+": Password reset." && !strings.HasPrefix(cs[0].Comment, "Closed from Slack by ") {
		t.Fatalf("comments %+v", cs)
	}
	// The card, read again from Graph, says it in Defender XDR's words
	// only where the bot has no record: here the bot's close is told.
	id = w.pick(t, analyst, w.slack.Current(msg), e.menu, e.value(formatting.OpDetails))
	if card := w.reply(t, id); !strings.Contains(string(card.Blocks), "Closed as true positive (compromised account)") {
		t.Fatalf("card %s", card.Blocks)
	}
	if !strings.Contains(w.logs.String(), "audit: alert closed") {
		t.Fatal("no audit line")
	}
}

// Two replicas on one PostgreSQL, two analysts closing one Graph alert at
// once: one PATCH, and both are told the same closer.
func TestTwoReplicasCloseAGraphAlertOnce(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	js := newJira()
	defer js.Close()
	names := []string{"graph:northwind"}
	a := startWorkflowOf(t, names, dbURL, js, nil)
	b := startWorkflowOf(t, names, dbURL, js, a.slack)
	if err := a.slack.WaitConnections(2, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, w := range []*workflow{a, b} {
		w.graph.srv.SetLatency(150 * time.Millisecond) // the claims race, not the calls
	}
	parent, _ := a.postDigest(t)
	e := entries(t, parent)[0]
	views := map[string]string{}
	for _, user := range []string{lead, dave} {
		views[user] = a.openForm(t, user, parent, e.menu, e.value(formatting.OpClose))
		a.choose(t, user, views[user], source.Benign)
	}
	var wg sync.WaitGroup
	for user, reason := range map[string]string{lead: "benign/security_testing", dave: "benign/confirmed_activity"} {
		wg.Go(func() {
			id, err := a.slack.Submit(user, views[user], closeForm(reason, ""))
			if err == nil {
				_, err = a.slack.WaitAck(id, 5*time.Second)
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, err := a.slack.WaitPosts(2, 20*time.Second, func(p slackfake.Post) bool {
		return p.Method == "response_url" && (strings.Contains(p.Text, "Already closed as benign") || strings.Contains(p.Text, ":white_check_mark: Closed as benign"))
	}); err != nil {
		t.Fatalf("%v: %+v", err, a.slack.Posts())
	}
	patches := len(a.graph.requests(http.MethodPatch)) + len(b.graph.requests(http.MethodPatch))
	if patches != 1 {
		t.Fatalf("%d PATCHes from two replicas", patches)
	}
}

// Entra secrets and Graph's bearer tokens never reach the logs or Slack,
// failures included.
func TestGraphSecretsNeverLogged(t *testing.T) {
	h := start(t, bot.Config{}, "contoso", "graph:northwind")
	h.graph.srv.Fail(defenderfake.Fault{Status: 401}, defenderfake.Fault{Status: 503}, defenderfake.Fault{Status: 503},
		defenderfake.Fault{Path: "/v1.0/security/runHuntingQuery", Status: 403})
	for _, text := range []string{"alerts", "alerts limit=3", "ip 185.220.101.4", "user alice@northwind.com"} {
		id, _ := h.command(t, text)
		if _, err := h.slack.Responses(id, 1, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	logs := h.logs.String()
	all := logs
	for _, p := range h.slack.Posts() {
		raw, _ := json.Marshal(p.Raw)
		all += string(raw)
	}
	secrets := []string{graphSecret, botToken, appToken, mcasToken}
	for _, r := range h.graph.srv.Requests() {
		if tok := strings.TrimPrefix(r.Auth, "Bearer "); tok != "" {
			secrets = append(secrets, tok)
		}
	}
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("secret %.16q… in the logs or Slack", s)
		}
	}
	if !strings.Contains(logs, "tenant failed") || !strings.Contains(all, "ThreatHunting.Read.All") {
		t.Fatal("the test exercises no failure")
	}
}

// BenchmarkIPThroughHunting: /mcas ip on a Graph tenant, Slack command to
// reply, with Graph's advanced hunting and AbuseIPDB each 50 ms away: one
// hunting call per command (no answer reused).
func BenchmarkIPThroughHunting(b *testing.B) {
	h := start(b, bot.Config{}, "graph:northwind")
	h.graph.srv.SetLatency(50 * time.Millisecond)
	h.abuse.SetLatency(50 * time.Millisecond)
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		id, err := h.slack.SlashCommand(analyst, socChannel, "ip "+mcasfake.TorIP+" limit=20")
		if err != nil {
			b.Fatal(err)
		}
		posts, err := h.slack.Responses(id, 1, 10*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		if !strings.Contains(string(posts[0].Attach), "northwind") {
			b.Fatalf("no activity in the reply: %s", posts[0].Attach)
		}
	}
	b.StopTimer()
	slicesSort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-median-reply")
	b.ReportMetric(float64(len(h.graph.srv.HuntingQueries()))/float64(len(lat)), "hunting-calls/op")
}
