package schedule_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/defender"
	"github.com/soc/mcasbot/integrations/defender/defenderfake"
	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/tenants"
)

const (
	graphDir    = "33333333-cccc-4ccc-8ccc-333333333333"
	graphApp    = "0b5c1e7a-3f1d-4c59-9a57-5a1f00000031"
	graphSecret = "Sx8Q~digest-SECRET-0001"
)

// graphTenant is contoso's Defender XDR through a fake Graph.
type graphTenant struct {
	srv *defenderfake.Server
	dir *defenderfake.Tenant
	cli *defender.Client
}

func newGraphTenant(t testing.TB, w *world, name string) *graphTenant {
	t.Helper()
	authority := entrafake.New()
	t.Cleanup(authority.Close)
	authority.AddApp(entrafake.App{ClientID: graphApp, Secret: graphSecret, Tenants: []string{graphDir}, Roles: []string{defenderfake.RoleReadWrite}})
	srv := defenderfake.New(authority, nil)
	srv.Now = func() time.Time { return w.now }
	t.Cleanup(srv.Close)
	cred, err := entra.New(entra.Settings{Tenant: name, TenantID: graphDir, ClientID: graphApp, Method: entra.ClientSecret, Secret: graphSecret,
		AuthorityHost: authority.Authority()}, authority.Client())
	if err != nil {
		t.Fatal(err)
	}
	c, err := defender.New(defender.Config{Name: name, URL: srv.URL, Tokens: cred, RequestsPerMinute: -1, Attempts: 1}, srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &graphTenant{srv: srv, dir: srv.Tenant(graphDir), cli: c}
}

type logs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logs) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// An MCAS tenant and a Graph tenant in one digest: one parent, both
// tenants' alerts, each exactly once, the Graph tenant read page by page.
func TestOneDigestOfMCASAndGraphTenants(t *testing.T) {
	w := newWorld(t, 40)
	g := newGraphTenant(t, w, "northwind")
	g.dir.AddAlerts(defenderfake.Generate("northwind", graphDir, 40, w.now.Add(-time.Minute), 20*time.Hour, 7)...)
	g.srv.SetPageSize(9)
	d, _ := w.digest(t)
	d.Tenants.Put(g.cli)
	rep, err := d.Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	want := openAlerts(w, source.SeverityLow.Rank(), w.now.Add(-24*time.Hour))
	graphWant := 0
	for _, a := range defenderfake.Generate("northwind", graphDir, 40, w.now.Add(-time.Minute), 20*time.Hour, 7) {
		if *a.Severity != "informational" {
			graphWant++
		}
	}
	ids := postedIDs(t, w.slack.Posts())
	northwind := 0
	for _, id := range ids {
		if strings.HasPrefix(id, "northwind/") {
			northwind++
		}
	}
	if rep.Posted != want+graphWant || len(ids) != rep.Posted || northwind != graphWant || len(dupes(ids)) != 0 {
		t.Fatalf("posted %d (%d northwind), want %d + %d", rep.Posted, northwind, want, graphWant)
	}
	parent := w.slack.Posts()[0]
	if !strings.Contains(string(parent.Blocks), "*northwind*: ") || !strings.Contains(string(parent.Blocks), "*contoso*: ") {
		t.Fatalf("parent totals: %s", parent.Blocks)
	}
	// Graph pages of 9: the first call and one per nextLink.
	if calls := len(g.srv.Requests()); calls != (graphWant+8)/9 {
		t.Errorf("%d Graph calls", calls)
	}
	if rep2, _ := d.Run(context.Background(), false); rep2.New != 0 {
		t.Fatalf("second run posted %d", rep2.New)
	}
}

// Alerts reach Graph late: a Graph tenant re-reads a longer overlap than
// an MCAS tenant, and what it read before is not posted again.
func TestAGraphTenantRereadsALongerOverlap(t *testing.T) {
	w := newWorld(t, 0)
	g := newGraphTenant(t, w, "northwind")
	g.dir.AddAlerts(defenderfake.Generate("northwind", graphDir, 5, w.now.Add(-time.Minute), 2*time.Hour, 1)...)
	d, _ := w.digest(t)
	d.Tenants = tenants.Static(g.cli)
	if rep, err := d.Run(context.Background(), false); err != nil || rep.Posted == 0 {
		t.Fatalf("%+v %v", rep, err)
	}
	// Four hours before the cursor, beyond MCAS's 2h overlap, within
	// Graph's 6h: an alert that reached Graph only now.
	late := defenderfake.Generate("northwind", graphDir, 1, w.now.Add(-4*time.Hour), time.Hour, 99)[0]
	late.Severity = defenderfake.Ptr("high")
	g.dir.AddAlerts(late)
	w.now = w.now.Add(10 * time.Minute)
	before := len(w.slack.Posts())
	rep, err := d.Run(context.Background(), false)
	if err != nil || rep.Posted != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
	if got := postedIDs(t, w.slack.Posts()[before:]); len(got) != 1 || got[0] != "northwind/"+late.ID {
		t.Fatalf("posted %v", got)
	}
	last := g.srv.Requests()[len(g.srv.Requests())-1]
	if !strings.Contains(last.Filter, "createdDateTime ge "+w.now.Add(-10*time.Minute-time.Minute-6*time.Hour).Format("2006-01-02T15:04")) {
		t.Errorf("filter %q does not start 6h before the cursor", last.Filter)
	}
	// The setting replaces the default.
	d.SourceOverlap = map[string]time.Duration{source.Graph: 30 * time.Minute}
	_, _ = d.Run(context.Background(), false)
	last = g.srv.Requests()[len(g.srv.Requests())-1]
	if !strings.Contains(last.Filter, "createdDateTime ge "+w.now.Add(-time.Minute-40*time.Minute).Format("2006-01-02T15:04")) {
		t.Errorf("filter %q does not start 30m before the cursor", last.Filter)
	}
}

// Moving a tenant from MCAS to Graph: the alerts are the same, their ids
// are not, so the digest starts at the tenant's cursor, says so once, and
// never reads below it again.
func TestMovingATenantToGraphDoesNotRepostTheDigest(t *testing.T) {
	w := newWorld(t, 0)
	w.tenants = w.tenants[:1]
	mcasAlerts := mcasfake.Generate("contoso", 30, w.now.Add(-time.Minute), 10*time.Hour, 3)
	w.tenants[0].AddAlerts(mcasAlerts...)
	d, st := w.digest(t)
	first, err := d.Run(context.Background(), false)
	if err != nil || first.Posted == 0 {
		t.Fatalf("%+v %v", first, err)
	}
	cursor, _, _ := st.Cursor(context.Background(), "contoso")

	// The same alerts in Defender XDR, under Graph's ids, and two new ones.
	g := newGraphTenant(t, w, "contoso")
	for _, a := range mcasAlerts {
		ga := defenderfake.FromMCAS(a, graphDir)
		ga.ID = "ca" + a.ID
		g.dir.AddAlerts(ga)
	}
	w.now = w.now.Add(time.Hour)
	fresh := defenderfake.Generate("contoso", graphDir, 2, w.now.Add(-5*time.Minute), 10*time.Minute, 42)
	for i := range fresh {
		fresh[i].Severity = defenderfake.Ptr("high")
	}
	g.dir.AddAlerts(fresh...)
	var lb logs
	d2, _ := w.digest(t)
	d2.Tenants = tenants.Static(g.cli)
	d2.Logger = slog.New(slog.NewTextHandler(&lb, nil))
	before := len(w.slack.Posts())
	rep, err := d2.Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	got := postedIDs(t, w.slack.Posts()[before:])
	if rep.Posted != 2 || len(got) != 2 || !containsStr(got, "contoso/"+fresh[0].ID) || !containsStr(got, "contoso/"+fresh[1].ID) {
		t.Fatalf("after the move posted %v (%+v)", got, rep)
	}
	if f := g.srv.Requests()[0].Filter; !strings.Contains(f, "createdDateTime ge "+cursor.Add(time.Millisecond).Format("2006-01-02T15:04:05.000Z")) {
		t.Fatalf("the first Graph read starts at %q, not the cursor %s", f, cursor)
	}
	// Later runs keep the overlap above the switch: nothing from before it.
	w.now = w.now.Add(time.Hour)
	rep, _ = d2.Run(context.Background(), false)
	w.now = w.now.Add(time.Hour)
	rep2, _ := d2.Run(context.Background(), false)
	if rep.Posted != 0 || rep2.Posted != 0 {
		t.Fatalf("later runs posted %d, %d", rep.Posted, rep2.Posted)
	}
	if n := strings.Count(lb.String(), "the tenant's API changed"); n != 1 || !strings.Contains(lb.String(), "from=mcas to=graph") {
		t.Fatalf("logged %d times:\n%s", n, lb.String())
	}
	var _ schedule.Report = rep
}
