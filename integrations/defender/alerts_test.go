package defender_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/defender"
	"github.com/soc/mcasbot/integrations/defender/defenderfake"
	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/source"
)

func TestAlertsSendTheDocumentedFilterAndDecode(t *testing.T) {
	w := newWorld(t)
	w.contoso.AddAlerts(defenderfake.Generate("contoso", dirContoso, 40, now, 48*time.Hour, 1)...)
	c, _, _ := w.client(t, fullApp, dirContoso, nil)
	since := now.Add(-24 * time.Hour)
	res, err := c.Alerts(context.Background(), source.AlertQuery{Limit: 5, Severities: []source.Severity{source.SeverityHigh, source.SeverityMedium},
		Status: source.StatusOpen, Since: since, User: "alice@contoso.com"})
	if err != nil {
		t.Fatal(err)
	}
	req := w.graph.Requests()[0]
	want := "serviceSource eq 'microsoftDefenderForCloudApps' and (severity eq 'high' or severity eq 'medium') and " +
		"(status eq 'new' or status eq 'inProgress') and createdDateTime ge 2026-11-19T12:00:00.000Z and " +
		"evidence/any(e: e/microsoft.graph.security.userEvidence/userAccount/userPrincipalName eq 'alice@contoso.com')"
	if req.Method != http.MethodGet || req.Path != "/v1.0/security/alerts_v2" || req.Filter != want || req.Top != "5" {
		t.Fatalf("request %s %s $filter=%q $top=%s\nwant $filter=%q", req.Method, req.Path, req.Filter, req.Top, want)
	}
	if req.Prefer != "include-unknown-enum-members" || !strings.HasPrefix(req.Auth, "Bearer ") || req.Directory != dirContoso {
		t.Fatalf("headers: Prefer %q, directory %q", req.Prefer, req.Directory)
	}
	if strings.Contains(req.Query, "+") || !strings.HasPrefix(req.Query, "$filter=") {
		t.Errorf("raw query %q: the $ stays, spaces are %%20", req.Query)
	}
	if len(res.Alerts) == 0 {
		t.Fatal("no alert of alice's in the sample")
	}
	for i, a := range res.Alerts {
		if a.User() != "alice@contoso.com" || a.Time.Before(since) || !a.Open() || a.Severity.Rank() < source.SeverityMedium.Rank() {
			t.Errorf("alert %s: user %s, %s, open %v, %s", a.ID, a.User(), a.Time, a.Open(), a.Severity)
		}
		if i > 0 && a.Time.After(res.Alerts[i-1].Time) {
			t.Error("not newest first")
		}
	}
	a := res.Alerts[0]
	fa, _ := w.contoso.Alert(a.ID)
	if a.Tenant != "contoso" || a.Title != fa.Title || a.URL != fa.AlertWebURL || a.Product != "" || a.Graph == nil ||
		a.Graph.Status != "new" || a.Graph.IncidentID != fa.IncidentID || a.Graph.IncidentURL != fa.IncidentWebURL || a.Graph.Classification != "" {
		t.Fatalf("decoded %+v %+v", a, a.Graph)
	}
	if len(a.IPs()) != 1 || a.Country() == "" || len(a.Services()) != 1 {
		t.Errorf("entities %+v", a.Entities)
	}
}

func TestServiceSourcesWidenTheFilterAndNameTheProduct(t *testing.T) {
	w := newWorld(t)
	w.contoso.AddAlerts(defenderfake.Generate("contoso", dirContoso, 3, now, time.Hour, 1)...)
	w.contoso.AddAlerts(defenderfake.Identity(dirContoso, "dave@contoso.com", "da638000000000000001_1", now.Add(-time.Minute)))
	c, _, _ := w.client(t, fullApp, dirContoso, func(cfg *defender.Config) {
		cfg.ServiceSources = []string{"microsoftdefenderforcloudapps", "microsoftDefenderForIdentity"}
	})
	res, err := c.Alerts(context.Background(), source.AlertQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if f := w.graph.Requests()[0].Filter; f != "(serviceSource eq 'microsoftDefenderForCloudApps' or serviceSource eq 'microsoftDefenderForIdentity')" {
		t.Fatalf("$filter %q", f)
	}
	if len(res.Alerts) != 4 {
		t.Fatalf("%d alerts", len(res.Alerts))
	}
	for _, a := range res.Alerts {
		switch {
		case a.ID == "da638000000000000001_1" && (a.Product != "microsoftDefenderForIdentity" || a.Graph.AssignedTo != "erin.ops@contoso.com" || a.Graph.Status != "inProgress"):
			t.Errorf("Defender for Identity's alert: %+v %+v", a, a.Graph)
		case a.ID != "da638000000000000001_1" && a.Product != "":
			t.Errorf("a Defender for Cloud Apps alert names a product: %q", a.Product)
		}
	}
	// The default reads Defender for Cloud Apps only.
	d, _, _ := w.client(t, fullApp, dirContoso, nil)
	if res, _ := d.Alerts(context.Background(), source.AlertQuery{Limit: 10}); len(res.Alerts) != 3 {
		t.Fatalf("default read %d alerts", len(res.Alerts))
	}
	if _, err := defender.New(defender.Config{Name: "x", Tokens: tokenFunc(nil), ServiceSources: []string{"microsoftCloudAppSecurity"}}, nil, nil); err == nil ||
		!strings.Contains(err.Error(), "microsoftDefenderForIdentity") {
		t.Fatalf("the beta name is refused with the known ones listed: %v", err)
	}
}

type tokenFunc func() string

func (f tokenFunc) Token(context.Context, string) (string, error) { return "t", nil }

func TestPagingFollowsNextLinkAsGiven(t *testing.T) {
	w := newWorld(t)
	w.contoso.AddAlerts(defenderfake.Generate("contoso", dirContoso, 30, now, 30*time.Hour, 2)...)
	w.graph.SetPageSize(7)
	c, _, _ := w.client(t, fullApp, dirContoso, nil)
	res, err := c.Alerts(context.Background(), source.AlertQuery{Limit: 25})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Alerts) != 25 || !res.More || res.Calls != 4 {
		t.Fatalf("%d alerts, more %v, %d calls", len(res.Alerts), res.More, res.Calls)
	}
	seen := map[string]bool{}
	for i, a := range res.Alerts {
		if seen[a.ID] || (i > 0 && a.Time.After(res.Alerts[i-1].Time)) {
			t.Fatalf("alert %d repeats or is out of order", i)
		}
		seen[a.ID] = true
	}
	for _, r := range w.graph.Requests()[1:] {
		if !strings.Contains(r.Query, "$skip=") || r.Filter != "serviceSource eq 'microsoftDefenderForCloudApps'" {
			t.Errorf("next page %q did not follow the link", r.Query)
		}
	}
	// Everything: the last page has no nextLink.
	all, err := c.Alerts(context.Background(), source.AlertQuery{Limit: 100})
	if err != nil || len(all.Alerts) != 30 || all.More {
		t.Fatalf("%d alerts, more %v, %v", len(all.Alerts), all.More, err)
	}
}

func TestNextLinkToAnotherHostIsNotFollowed(t *testing.T) {
	w := newWorld(t)
	var evil []string
	elsewhere := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		evil = append(evil, r.Header.Get("Authorization"))
	}))
	defer elsewhere.Close()
	for _, link := range []string{elsewhere.URL + "/v1.0/security/alerts_v2?$skip=1", "https://" + strings.TrimPrefix(w.graph.URL, "http://") + "/v1.0/x"} {
		body := fmt.Sprintf(`{"value":[%s],"@odata.nextLink":%q}`, alertJSON(t), link)
		w.graph.Fail(defenderfake.Fault{Status: 200, Body: body})
		c, _, _ := w.client(t, fullApp, dirContoso, nil)
		_, err := c.Alerts(context.Background(), source.AlertQuery{Limit: 50})
		if httpx.KindOf(err) != httpx.KindBadResponse || !strings.Contains(err.Error(), "@odata.nextLink leaves") {
			t.Fatalf("link %s: %v", link, err)
		}
	}
	if len(evil) != 0 {
		t.Fatalf("the token went elsewhere: %d requests", len(evil))
	}
}

func alertJSON(t *testing.T) string {
	t.Helper()
	b, err := json.Marshal(defenderfake.Generate("contoso", dirContoso, 1, now, time.Hour, 9)[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOldestFirstReadsTheWholeWindow(t *testing.T) {
	w := newWorld(t)
	gen := defenderfake.Generate("contoso", dirContoso, 60, now, 60*time.Hour, 3)
	w.contoso.AddAlerts(gen...)
	c, _, _ := w.client(t, fullApp, dirContoso, nil)
	since := now.Add(-50 * time.Hour)
	res, err := c.Alerts(context.Background(), source.AlertQuery{Limit: 10, Since: since, Oldest: true})
	if err != nil {
		t.Fatal(err)
	}
	var want []time.Time
	for _, a := range gen {
		if !a.Created().Before(since) {
			want = append(want, a.Created())
		}
	}
	slices.SortFunc(want, time.Time.Compare)
	if len(res.Alerts) != 10 || !res.More {
		t.Fatalf("%d alerts, more %v", len(res.Alerts), res.More)
	}
	for i, a := range res.Alerts {
		if !a.Time.Equal(want[i]) {
			t.Fatalf("alert %d at %s, want the %d-th oldest %s", i, a.Time, i, want[i])
		}
	}
}

// A window far larger than a run reads is narrowed to its older half
// until the oldest alerts are in hand: a capped digest skips nothing.
func TestOldestFirstNarrowsAWindowTooLargeToRead(t *testing.T) {
	w := newWorld(t)
	gen := defenderfake.Generate("contoso", dirContoso, 2600, now, 26*time.Hour, 4)
	for i := range gen {
		gen[i].Evidence, gen[i].Description = gen[i].Evidence[:1], "" // smaller pages: the paging is under test
	}
	w.contoso.AddAlerts(gen...)
	c, _, _ := w.client(t, fullApp, dirContoso, func(cfg *defender.Config) { cfg.Timeout = 20 * time.Second })
	since := now.Add(-25 * time.Hour)
	res, err := c.Alerts(context.Background(), source.AlertQuery{Limit: 20, Since: since, Oldest: true, Severities: []source.Severity{source.SeverityHigh, source.SeverityMedium, source.SeverityLow, source.SeverityInformational}})
	if err != nil {
		t.Fatal(err)
	}
	oldest := now
	for _, a := range gen {
		if !a.Created().Before(since) && a.Created().Before(oldest) {
			oldest = a.Created()
		}
	}
	if len(res.Alerts) != 20 || !res.More || !res.Alerts[0].Time.Equal(oldest) {
		t.Fatalf("%d alerts, more %v, first %s want %s", len(res.Alerts), res.More, res.Alerts[0].Time, oldest)
	}
	if res.Calls > 40 {
		t.Errorf("%d calls", res.Calls)
	}
}

func TestNullEnumsAndUnknownEvidenceDecode(t *testing.T) {
	w := newWorld(t)
	h := defenderfake.Hostile("contoso", dirContoso, now)
	w.contoso.AddAlerts(h)
	c, _, _ := w.client(t, fullApp, dirContoso, nil)
	a, err := c.Alert(context.Background(), h.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Graph.Classification != "" || a.Graph.Determination != "" || a.Product != "" || !a.Open() {
		t.Errorf("null enums: %+v product %q", a.Graph, a.Product)
	}
	if a.Description != h.Description || a.Title != h.Title {
		t.Error("text must come as sent: the formatters clean it")
	}
	var types []string
	for _, e := range a.Entities {
		types = append(types, e.Type+"="+e.Label)
	}
	for _, want := range []string{"account=mallory@contoso.com", "ip=185.220.101.4", "url=https://evil.example/login?<@U0ADMIN>|Reset", "kubernetesPod=<!channel> pod"} {
		if !slices.Contains(types, want) {
			t.Errorf("entities %v lack %s", types, want)
		}
	}
	if slices.ContainsFunc(types, func(s string) bool { return strings.HasPrefix(s, "someFuture") }) {
		t.Errorf("an unknown type without a name is skipped: %v", types)
	}
}

func TestResolvedAlertsReadAsClosed(t *testing.T) {
	w := newWorld(t)
	gen := defenderfake.Generate("contoso", dirContoso, 3, now, time.Hour, 5)
	w.contoso.AddAlerts(gen...)
	w.contoso.Resolve(gen[0].ID, "truePositive", "compromisedAccount", "carol@contoso.com", now.Add(-time.Minute))
	w.contoso.Resolve(gen[1].ID, "unknown", "unknown", "", now)
	c, _, _ := w.client(t, fullApp, dirContoso, nil)
	a, err := c.Alert(context.Background(), gen[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Resolution != source.ResolutionTruePositive || a.Open() || !a.ResolveTime.Equal(now.Add(-time.Minute)) || a.HandledBy != "carol@contoso.com" ||
		a.Graph.Status != "resolved" || a.Graph.Determination != "compromisedAccount" {
		t.Fatalf("%+v %+v", a, a.Graph)
	}
	b, _ := c.Alert(context.Background(), gen[1].ID)
	if b.Resolution != source.ResolutionResolved {
		t.Fatalf("resolved without a classification reads %d", b.Resolution)
	}
	closed, err := c.Alerts(context.Background(), source.AlertQuery{Status: source.StatusClosed})
	if err != nil || len(closed.Alerts) != 2 || w.graph.Requests()[2].Filter != "serviceSource eq 'microsoftDefenderForCloudApps' and status eq 'resolved'" {
		t.Fatalf("closed: %d %v %q", len(closed.Alerts), err, w.graph.Requests()[2].Filter)
	}
	if _, err := c.Alert(context.Background(), "da000000000000000000_0"); httpx.KindOf(err) != httpx.KindNotFound {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := c.Alert(context.Background(), "../users"); httpx.KindOf(err) != httpx.KindBadRequest || len(w.graph.Requests()) != 4 {
		t.Fatalf("bad id reached Graph: %v", err)
	}
}

func TestTokensReadTheirOwnDirectory(t *testing.T) {
	w := newWorld(t)
	w.contoso.AddAlerts(defenderfake.Generate("contoso", dirContoso, 5, now, time.Hour, 1)...)
	w.graph.Tenant(dirFabrikam).AddAlerts(defenderfake.Generate("fabrikam", dirFabrikam, 2, now, time.Hour, 2)...)
	fab, _, _ := w.client(t, fullApp, dirFabrikam, nil)
	res, err := fab.Alerts(context.Background(), source.AlertQuery{Limit: 50})
	if err != nil || len(res.Alerts) != 2 {
		t.Fatalf("%d alerts, %v", len(res.Alerts), err)
	}
}

func Test403NamesThePermissionAndHowToGrantIt(t *testing.T) {
	w := newWorld(t)
	gen := defenderfake.Generate("contoso", dirContoso, 2, now, time.Hour, 1)
	w.contoso.AddAlerts(gen...)
	bare, _, _ := w.client(t, bareApp, dirContoso, nil)
	_, err := bare.Alerts(context.Background(), source.AlertQuery{})
	if httpx.KindOf(err) != httpx.KindForbidden || !strings.Contains(err.Error(), "lacks SecurityAlert.Read.All") || !strings.Contains(err.Error(), "admin consent") {
		t.Fatalf("read: %v", err)
	}
	read, _, _ := w.client(t, readApp, dirContoso, nil)
	if _, err := read.Alerts(context.Background(), source.AlertQuery{}); err != nil {
		t.Fatalf("SecurityAlert.Read.All reads: %v", err)
	}
	_, err = read.Close(context.Background(), source.CloseRequest{IDs: []string{gen[0].ID}, Classification: source.TruePositive, Reason: "malware", Comment: "x"})
	if httpx.KindOf(err) != httpx.KindForbidden || !strings.Contains(err.Error(), "lacks SecurityAlert.ReadWrite.All") {
		t.Fatalf("close: %v", err)
	}
	if a, _ := w.contoso.Alert(gen[0].ID); *a.Status != "new" {
		t.Fatal("a refused PATCH changed the alert")
	}
	_, err = read.Activities(context.Background(), source.ActivityQuery{IP: "185.220.101.4"})
	if httpx.KindOf(err) != httpx.KindForbidden || !strings.Contains(err.Error(), "lacks ThreatHunting.Read.All") {
		t.Fatalf("hunting: %v", err)
	}
}

func Test429WaitsForRetryAfter(t *testing.T) {
	w := newWorld(t)
	w.contoso.AddAlerts(defenderfake.Generate("contoso", dirContoso, 2, now, time.Hour, 1)...)
	c, _, slept := w.client(t, fullApp, dirContoso, nil)
	w.graph.Fail(defenderfake.Fault{Status: 429, RetryAfter: "7"})
	res, err := c.Alerts(context.Background(), source.AlertQuery{})
	if err != nil || len(res.Alerts) != 2 || !slices.Equal(*slept, []time.Duration{7 * time.Second}) {
		t.Fatalf("%v, waits %v", err, *slept)
	}
	// Longer than is worth waiting: a clear failure, at once.
	w.graph.Fail(defenderfake.Fault{Status: 429, RetryAfter: "600"})
	_, err = c.Alerts(context.Background(), source.AlertQuery{})
	if httpx.KindOf(err) != httpx.KindThrottled || !strings.Contains(httpx.Describe(err), "HTTP 429") {
		t.Fatalf("%v", err)
	}
}

// A request budget shared by replicas hands out the slots.
func TestBudgetIsTheTenants(t *testing.T) {
	w := newWorld(t)
	lim := &countingLimiter{}
	c, _, _ := w.client(t, fullApp, dirContoso, func(cfg *defender.Config) { cfg.Limiter = lim; cfg.RequestsPerMinute = 100 })
	_, _ = c.Alerts(context.Background(), source.AlertQuery{})
	if n, per := c.Budget(); lim.n != 1 || n != 100 || per != time.Minute {
		t.Fatalf("limiter %d, budget %d/%s", lim.n, n, per)
	}
}

type countingLimiter struct{ n int }

func (l *countingLimiter) Reserve(context.Context) (time.Duration, func(), error) {
	l.n++
	return 0, func() {}, nil
}

func TestARejectedFilterIsLoggedWithTheRequestNotTheToken(t *testing.T) {
	w := newWorld(t)
	c, logs, _ := w.client(t, fullApp, dirContoso, nil)
	w.graph.Fail(defenderfake.Fault{Status: 400, Body: `{"error":{"code":"BadRequest","message":"Invalid filter clause: the property 'investigationState' cannot be used in the $filter query option."}}`})
	_, err := c.Alerts(context.Background(), source.AlertQuery{Severities: []source.Severity{source.SeverityHigh}})
	if httpx.KindOf(err) != httpx.KindBadRequest || !strings.Contains(httpx.Describe(err), "Invalid filter clause") {
		t.Fatalf("%v", err)
	}
	l := logs.String()
	if !strings.Contains(l, `"msg":"graph rejected the request"`) || !strings.Contains(l, `"method":"GET"`) ||
		!strings.Contains(l, `"path":"/v1.0/security/alerts_v2"`) || !strings.Contains(l, "severity eq 'high'") {
		t.Fatalf("log:\n%s", l)
	}
	tok := strings.TrimPrefix(w.graph.Requests()[0].Auth, "Bearer ")
	for _, s := range []string{tok, appSecret, "Bearer"} {
		if strings.Contains(l, s) || strings.Contains(err.Error(), s) {
			t.Errorf("%.12q… in the log or error", s)
		}
	}
}

func TestSecretsNeverInErrorsOrLogs(t *testing.T) {
	w := newWorld(t)
	c, logs, _ := w.client(t, fullApp, dirContoso, nil)
	w.graph.Fail(defenderfake.Fault{Status: 401}, defenderfake.Fault{Status: 503}, defenderfake.Fault{Status: 503}, defenderfake.Fault{Status: 503})
	_, err1 := c.Alerts(context.Background(), source.AlertQuery{})
	_, err2 := c.Alerts(context.Background(), source.AlertQuery{})
	// A wrong secret fails at Entra ID, in words, without the secret.
	const wrongSecret = "Sx8Q~WRONG-defender-SECRET-9"
	cred, _ := entra.New(entra.Settings{Tenant: "contoso", TenantID: dirContoso, ClientID: fullApp, Method: entra.ClientSecret, Secret: wrongSecret,
		AuthorityHost: w.authority.Authority()}, w.authority.Client())
	wrong, _ := defender.New(defender.Config{Name: "contoso", URL: w.graph.URL, Tokens: cred}, w.graph.Client(), nil)
	_, err3 := wrong.Alerts(context.Background(), source.AlertQuery{})
	if httpx.KindOf(err3) != httpx.KindAuth || !strings.Contains(err3.Error(), "AADSTS7000215") {
		t.Fatalf("wrong secret: %v", err3)
	}
	tok := strings.TrimPrefix(w.graph.Requests()[0].Auth, "Bearer ")
	all := fmt.Sprintf("%v %v %+v %s %s %s", err1, err2, err3, httpx.Describe(err1), httpx.Describe(err3), logs.String())
	if err1 == nil || err2 == nil || !strings.Contains(logs.String(), "retrying upstream call") {
		t.Fatalf("the test exercises no failure: %v %v", err1, err2)
	}
	for _, s := range []string{tok, appSecret, wrongSecret} {
		if strings.Contains(all, s) {
			t.Errorf("secret %.12q… leaked", s)
		}
	}
}
