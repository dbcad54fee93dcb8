package closing_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/closing"
	"github.com/soc/mcasbot/integrations/defender"
	"github.com/soc/mcasbot/integrations/defender/defenderfake"
	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/tenants"
)

const (
	graphDir    = "44444444-dddd-4ddd-8ddd-444444444444"
	graphApp    = "0b5c1e7a-3f1d-4c59-9a57-5a1f00000041"
	graphSecret = "Sx8Q~closing-SECRET-0001"
)

// graphWorld is contoso read through Microsoft Graph: one alert, a store
// file two replicas can open, Jira.
type graphWorld struct {
	graph  *defenderfake.Server
	dir    *defenderfake.Tenant
	jira   *jirafake.Server
	dbPath string
	alert  defenderfake.Alert
	auth   *entrafake.Server
}

func newGraphWorld(t testing.TB) *graphWorld {
	t.Helper()
	w := &graphWorld{auth: entrafake.New(), jira: jirafake.New(jirafake.Options{Cloud: true, User: "soc@example.com", Token: "jira-SECRET"}),
		dbPath: "sqlite:" + filepath.Join(t.TempDir(), "s.db")}
	t.Cleanup(w.auth.Close)
	t.Cleanup(w.jira.Close)
	w.auth.AddApp(entrafake.App{ClientID: graphApp, Secret: graphSecret, Tenants: []string{graphDir}, Roles: []string{defenderfake.RoleReadWrite}})
	w.graph = defenderfake.New(w.auth, nil)
	t.Cleanup(w.graph.Close)
	w.dir = w.graph.Tenant(graphDir)
	w.alert = defenderfake.Generate("contoso", graphDir, 1, now, time.Hour, 8)[0]
	w.dir.AddAlerts(w.alert)
	return w
}

// service is one replica's closing service: its own store handle and client.
func (w *graphWorld) service(t testing.TB) (*closing.Service, store.Store) {
	t.Helper()
	cred, err := entra.New(entra.Settings{Tenant: "contoso", TenantID: graphDir, ClientID: graphApp, Method: entra.ClientSecret, Secret: graphSecret,
		AuthorityHost: w.auth.Authority()}, w.auth.Client())
	if err != nil {
		t.Fatal(err)
	}
	c, err := defender.New(defender.Config{Name: "contoso", URL: w.graph.URL, Tokens: cred, RequestsPerMinute: -1, Attempts: 2, Timeout: 2 * time.Second},
		w.graph.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), w.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	jc, _ := jira.New(jira.Config{URL: w.jira.URL, User: "soc@example.com", APIToken: "jira-SECRET"}, w.jira.Client(), nil)
	return &closing.Service{Store: st, Tenants: tenants.Static(c), Jira: jc, Wait: 5 * time.Second}, st
}

func (w *graphWorld) patches() int {
	n := 0
	for _, r := range w.graph.Requests() {
		if r.Method == http.MethodPatch {
			n++
		}
	}
	return n
}

func TestGraphCloseFollowsTheFormAndRecords(t *testing.T) {
	w := newGraphWorld(t)
	svc, st := w.service(t)
	res, err := svc.Close(context.Background(), closing.Request{Tenant: "contoso", AlertID: w.alert.ID, By: closing.Analyst{ID: "U0CAROL", Name: "carol"},
		Classification: source.TruePositive, Reason: "compromised_account", Comment: "Password reset; sessions revoked."})
	if err != nil || res.Outcome != closing.Closed {
		t.Fatalf("%+v %v", res, err)
	}
	ups := w.dir.Updates()
	if len(ups) != 1 || ups[0].Body["classification"] != "truePositive" || ups[0].Body["determination"] != "compromisedAccount" || ups[0].Body["status"] != "resolved" {
		t.Fatalf("PATCH %+v", ups)
	}
	if cs, _ := w.dir.Comments(w.alert.ID); len(cs) != 1 || cs[0].Comment != "Closed from Slack by carol: Password reset; sessions revoked." {
		t.Fatalf("comments %+v", cs)
	}
	rec, _, _ := st.AlertClose(context.Background(), "contoso", w.alert.ID)
	if rec.State != store.CloseDone || rec.Classification != "true_positive" || rec.Reason != "compromised_account" || rec.Elsewhere {
		t.Fatalf("record %+v", rec)
	}
	// Graph's reasons only: an MCAS reason is refused before any call.
	if _, err := svc.Close(context.Background(), closing.Request{Tenant: "contoso", AlertID: "da1", Classification: source.Benign, Reason: "confirmed_with_end_user"}); err == nil {
		t.Fatal("an MCAS reason was taken for a Graph tenant")
	}
	// A true positive needs a reason on Graph.
	if _, err := svc.Close(context.Background(), closing.Request{Tenant: "contoso", AlertID: "da1", Classification: source.TruePositive}); err == nil {
		t.Fatal("a true positive without a reason was taken")
	}
}

// Two replicas, two analysts, one alert: one PATCH, one comment, and the
// loser is told the winner's close.
func TestGraphAlertIsClosedOnceAcrossAnalystsAndReplicas(t *testing.T) {
	w := newGraphWorld(t)
	w.graph.SetLatency(100 * time.Millisecond) // the claims race, not the calls
	a, _ := w.service(t)
	b, _ := w.service(t)
	var wg sync.WaitGroup
	results := make([]closing.Result, 2)
	for i, svc := range []*closing.Service{a, b} {
		wg.Go(func() {
			by := []closing.Analyst{{ID: "U0CAROL", Name: "carol"}, {ID: "U0DAVE", Name: "dave"}}[i]
			results[i], _ = svc.Close(context.Background(), closing.Request{Tenant: "contoso", AlertID: w.alert.ID, By: by,
				Classification: source.Benign, Reason: []string{"security_testing", "confirmed_activity"}[i], Comment: "x"})
		})
	}
	wg.Wait()
	if w.patches() != 1 {
		t.Fatalf("%d PATCHes", w.patches())
	}
	if cs, _ := w.dir.Comments(w.alert.ID); len(cs) != 1 {
		t.Fatalf("%d comments", len(cs))
	}
	outcomes := []closing.Outcome{results[0].Outcome, results[1].Outcome}
	if !(outcomes[0] == closing.Closed) != (outcomes[1] == closing.Closed) || results[0].Record.By != results[1].Record.By {
		t.Fatalf("outcomes %v, records %+v / %+v", outcomes, results[0].Record, results[1].Record)
	}
}

func TestGraphAlertResolvedInThePortalIsNotResolvedAgain(t *testing.T) {
	w := newGraphWorld(t)
	w.dir.Resolve(w.alert.ID, "falsePositive", "notMalicious", "erin@contoso.com", now.Add(-time.Hour))
	svc, _ := w.service(t)
	res, err := svc.Close(context.Background(), closing.Request{Tenant: "contoso", AlertID: w.alert.ID, By: closing.Analyst{ID: "U0CAROL"},
		Classification: source.TruePositive, Reason: "malware"})
	if err != nil || res.Outcome != closing.AlreadyClosed || !res.Record.Elsewhere || res.Record.Classification != "false_positive" ||
		res.Record.HandledBy != "erin@contoso.com" || w.patches() != 0 {
		t.Fatalf("%+v %v, %d PATCHes", res, err, w.patches())
	}
}

func TestGraphForbiddenSaysWhichPermission(t *testing.T) {
	w := newGraphWorld(t)
	w.auth.AddApp(entrafake.App{ClientID: graphApp, Secret: graphSecret, Tenants: []string{graphDir}, Roles: []string{defenderfake.RoleRead}})
	svc, st := w.service(t)
	res, err := svc.Close(context.Background(), closing.Request{Tenant: "contoso", AlertID: w.alert.ID, By: closing.Analyst{ID: "U0CAROL"},
		Classification: source.TruePositive, Reason: "malware"})
	if res.Outcome != closing.Failed || err == nil || !strings.Contains(err.Error(), "SecurityAlert.ReadWrite.All") || !strings.Contains(err.Error(), "admin consent") {
		t.Fatalf("%+v %v", res, err)
	}
	if rec, _, _ := st.AlertClose(context.Background(), "contoso", w.alert.ID); rec.State != store.CloseFailed {
		t.Fatalf("claim %+v", rec)
	}
}

// JIRA_DONE_CLOSES_ALERT on a Graph tenant: Defender XDR wants a reason
// for every classification, so the sync sends "other" (determination
// other) with the note as the comment, for true positive too.
func TestJiraDoneOnAGraphTenant(t *testing.T) {
	for kind, class := range map[source.Classification]string{source.TruePositive: "truePositive", source.Benign: "informationalExpectedActivity", source.FalsePositive: "falsePositive"} {
		t.Run(string(kind), func(t *testing.T) {
			w := newGraphWorld(t)
			svc, st := w.service(t)
			key := w.jira.AddIssue("[MCAS][contoso] "+w.alert.Title, []string{"mcas"}, 0)
			ctx := context.Background()
			_, _ = st.ClaimIssue(ctx, "contoso", w.alert.ID, "U0LEAD")
			_ = st.CompleteIssue(ctx, "contoso", w.alert.ID, key, w.jira.URL+"/browse/"+key)
			var logs bytes.Buffer
			d := &closing.JiraDone{Service: svc, Classification: kind, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
			changed, err := d.CloseDone(ctx, "contoso", key, []string{w.alert.ID}, store.JiraState{Key: key, Status: "Done", Category: "done", Resolution: "Fixed"})
			if err != nil || len(changed) != 1 {
				t.Fatalf("%v %v\n%s", changed, err, logs.String())
			}
			ups := w.dir.Updates()
			if len(ups) != 1 || ups[0].Body["classification"] != class || ups[0].Body["determination"] != "other" {
				t.Fatalf("PATCH %+v", ups)
			}
			if cs, _ := w.dir.Comments(w.alert.ID); len(cs) != 1 || cs[0].Comment != "Jira "+key+" resolved: Fixed" {
				t.Fatalf("comments %+v", cs)
			}
			rec, _, _ := st.AlertClose(ctx, "contoso", w.alert.ID)
			if rec.Reason != source.ReasonOther || !rec.ByBot() || rec.Classification != string(kind) {
				t.Fatalf("record %+v", rec)
			}
			if len(w.jira.Comments(key)) != 0 {
				t.Fatal("the sync commented on the issue that closed it")
			}
			if !strings.Contains(logs.String(), `"reason":"other"`) {
				t.Fatalf("audit: %s", logs.String())
			}
		})
	}
}

// A group of a Graph tenant: one PATCH per open alert (Graph takes one
// alert per call), none for an alert resolved in the portal; a failure part
// way leaves the rest released, each told, and the closed ones recorded.
func TestGraphGroupClose(t *testing.T) {
	w := newGraphWorld(t)
	gen := defenderfake.Generate("contoso", graphDir, 4, now, time.Hour, 21)
	w.dir.AddAlerts(gen...)
	w.dir.Resolve(gen[1].ID, "falsePositive", "notMalicious", "erin@contoso.com", now.Add(-time.Hour))
	svc, st := w.service(t)
	ids := []string{w.alert.ID, gen[0].ID, gen[1].ID}
	res, err := svc.CloseGroup(context.Background(), closing.GroupRequest{Tenant: "contoso", AlertIDs: ids, By: closing.Analyst{ID: "U0CAROL", Name: "carol"},
		Classification: source.Benign, Reason: "security_testing", Comment: "red team"})
	if err != nil || res.Outcome != closing.Closed || len(res.Closed) != 2 || len(res.Already) != 1 || res.Already[0].AlertID != gen[1].ID || !res.Already[0].Elsewhere {
		t.Fatalf("%+v %v", res, err)
	}
	if w.patches() != 2 {
		t.Fatalf("%d PATCHes", w.patches())
	}
	// A failure after the first PATCH: the first is closed and recorded,
	// the other is re-read, found open and released with a reason.
	a, b := gen[2].ID, gen[3].ID
	first, second := a, b
	if first > second {
		first, second = second, first // the group is closed in id order
	}
	for range 2 {
		w.graph.Fail(defenderfake.Fault{Path: "/v1.0/security/alerts_v2/" + second, Status: 502})
	}
	res, err = svc.CloseGroup(context.Background(), closing.GroupRequest{Tenant: "contoso", AlertIDs: []string{a, b}, By: closing.Analyst{ID: "U0CAROL", Name: "carol"},
		Classification: source.TruePositive, Reason: "phishing", Comment: "x"})
	if len(res.Closed) != 1 || res.Closed[0].AlertID != first || len(res.Failed) != 1 || res.Failed[0].AlertID != second || err != nil {
		t.Fatalf("%+v %v", res, err)
	}
	if rec, _, _ := st.AlertClose(context.Background(), "contoso", second); rec.State != store.CloseFailed {
		t.Fatalf("the unclosed alert's claim %+v", rec)
	}
	if fa, _ := w.dir.Alert(second); *fa.Status != "new" {
		t.Fatal("the failed alert changed")
	}
}
