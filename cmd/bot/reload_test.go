package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/soc/mcasbot/ops"
	"github.com/soc/mcasbot/source"
)

// A reload builds clients for new and changed tenants only, keeps the
// others' client objects (their caches, budgets and breaker state), and
// swaps the set at once; a reload with any problem changes nothing.
func TestReloadKeepsUnchangedTenantsAndRefusesWholesale(t *testing.T) {
	w := newFleetWorld(t, false)
	tok := map[string]string{}
	for _, n := range []string{"contoso", "fabrikam", "northwind", "tailspin"} {
		w.tenant(n, "tok-"+n+"-SECRET", "", 3)
		tok[n] = w.secret(n+"-token", "tok-"+n+"-SECRET")
	}
	w.tenant("fabrikam-eu", "tok-fabrikam-SECRET", "", 3) // fabrikam's new address
	v1 := "groups:\n  emea: {digest_channel: C0EMEA001}\ntenants:\n" + w.tokenEntry("contoso", tok["contoso"], "groups: [emea]") +
		w.tokenEntry("fabrikam", tok["fabrikam"]) + w.tokenEntry("northwind", tok["northwind"])
	w.write(v1)
	cfg, ts, ps := Load(w.env, needs{tenants: true})
	if err := ps.Err(); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	logger := newLogger(&logs, "info", "json", nil)
	a, err := wire(context.Background(), cfg, ts, logger, true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	m := ops.NewMetrics()
	secrets := newRedactor(nil)
	r := newTenantsReload(a, secrets, m)
	dir := a.runner.Tenants
	before := map[string]source.Tenant{}
	for _, tn := range dir.Tenants() {
		before[tn.Name()] = tn
	}
	contosoWired := a.wired("contoso")

	// fabrikam moves to another URL, northwind goes, tailspin comes, and
	// emea takes fabrikam in.
	v2 := "groups:\n  emea: {digest_channel: C0EMEA001}\ntenants:\n" + w.tokenEntry("contoso", tok["contoso"], "groups: [emea]") +
		strings.Replace(w.tokenEntry("fabrikam", tok["fabrikam"], "groups: [emea]"), w.url("fabrikam"), w.url("fabrikam-eu"), 1) +
		w.tokenEntry("tailspin", tok["tailspin"])
	files, err := r.reload("SIGHUP", []byte(v2), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("watched files %v", files)
	}
	if got := dir.Set().Names; !slices.Equal(got, []string{"contoso", "fabrikam", "tailspin"}) {
		t.Fatalf("served %v", got)
	}
	c, _ := dir.Tenant("contoso")
	f, _ := dir.Tenant("fabrikam")
	if c != before["contoso"] || a.wired("contoso") != contosoWired {
		t.Error("an unchanged tenant got a new client")
	}
	if f == before["fabrikam"] {
		t.Error("a changed tenant kept its old client")
	}
	if _, ok := dir.Tenant("northwind"); ok {
		t.Error("a removed tenant is still served")
	}
	if emea, err := dir.Select("group:emea"); err != nil || len(emea) != 2 || dir.Route("fabrikam").DigestChannel != "C0EMEA001" {
		t.Errorf("group:emea %d %v, fabrikam routed to %q", len(emea), err, dir.Route("fabrikam").DigestChannel)
	}
	// The changed tenant answers from its new address.
	if _, err := f.Alerts(context.Background(), source.AlertQuery{Limit: 1}); err != nil {
		t.Fatal(err)
	}
	if srv, _ := w.fleet.Tenant("fabrikam-eu"); len(srv.Requests()) != 1 {
		t.Fatal("fabrikam was not asked at its new URL")
	}
	var reloaded struct{ Added, Removed, Changed []string }
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, `"msg":"tenants reloaded"`) {
			_ = json.Unmarshal([]byte(line), &reloaded)
		}
	}
	if !slices.Equal(reloaded.Added, []string{"tailspin"}) || !slices.Equal(reloaded.Removed, []string{"northwind"}) || !slices.Equal(reloaded.Changed, []string{"fabrikam"}) {
		t.Fatalf("logged %+v:\n%s", reloaded, logs.String())
	}
	if red := secrets.Redact("x tok-tailspin-SECRET y"); strings.Contains(red, "tok-tailspin-SECRET") {
		t.Fatal("a new tenant's token is not redacted from the log")
	}

	// A tenant whose client cannot be built: nothing changes.
	served := dir.Tenants()
	r.build = func(t Tenant) (*wiredTenant, error) {
		if t.Name == "northwind" {
			return nil, errors.New("cannot build it")
		}
		return a.wireTenant(t)
	}
	v3 := v2 + w.tokenEntry("northwind", tok["northwind"])
	_, err = r.reload("file changed", []byte(v3), nil)
	if err == nil || !strings.Contains(err.Error(), "tenant northwind: cannot build it") || !slices.Equal(dir.Tenants(), served) {
		t.Fatalf("a failed build: %v, served %v", err, dir.Set().Names)
	}
	// Nor for a file with a problem, which is told with its line.
	v4 := strings.Replace(v2, "    url: "+w.url("tailspin"), "    url: "+w.url("tailspin")+"\n    sourse: mcas", 1)
	_, err = r.reload("file changed", []byte(v4), nil)
	if err == nil || !strings.Contains(err.Error(), w.file+":14: unknown key \"sourse\" (did you mean source?)") || !slices.Equal(dir.Tenants(), served) {
		t.Fatalf("a bad file: %v, served %v", err, dir.Set().Names)
	}
	_, err = r.reload("file changed", nil, os.ErrNotExist)
	if err == nil || !slices.Equal(dir.Tenants(), served) {
		t.Fatalf("an unreadable file: %v", err)
	}
	if ok, failed := testutil.ToFloat64(m.TenantReloads.WithLabelValues("ok")), testutil.ToFloat64(m.TenantReloads.WithLabelValues("failed")); ok != 1 || failed != 3 {
		t.Fatalf("reloads: %v ok, %v failed", ok, failed)
	}
	if !strings.Contains(logs.String(), `"msg":"tenants reload refused","trigger":"file changed","problem":"`+w.file+`:14: unknown key`) {
		t.Fatalf("the refusal's problem is not logged with its line:\n%s", logs.String())
	}
}

// SIGHUP without a tenants file is logged, not the end of the bot.
func TestSIGHUPWithoutATenantsFileIsIgnored(t *testing.T) {
	_, env := fakeTenant(t)
	fake := newFleetWorld(t, false).slack
	env = append(env, "SLACK_BOT_TOKEN=xoxb-hup", "SLACK_APP_TOKEN=xapp-hup", "SLACK_API_URL="+fake.APIURL(), "HTTP_ADDR=off",
		"DATABASE_URL=sqlite:"+t.TempDir()+"/s.db")
	p := startProcess(t, env, "run")
	eventually(t, "a connection", func() bool { return fake.Connections() == 1 })
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "SIGHUP logged", func() bool { return strings.Contains(p.stderr.String(), "SIGHUP ignored") })
	if p.ended() {
		t.Fatal("the bot ended on SIGHUP")
	}
}

// A change of the file's contents reaches the running bot: the next /mcas
// asks the tenant it added, no longer the one it removed; a wrong file is
// refused, the old set keeps answering, and /readyz says why while it
// stays ready. No token read from a file shows anywhere.
func TestAChangedTenantsFileReachesTheNextCommand(t *testing.T) {
	w := newFleetWorld(t, false)
	tok := map[string]string{}
	for _, n := range []string{"contoso", "fabrikam"} {
		w.tenant(n, "tok-"+n+"-SECRET-file", "", 4)
		tok[n] = w.secret(n+"-token", "tok-"+n+"-SECRET-file")
	}
	w.write("tenants:\n" + w.tokenEntry("contoso", tok["contoso"]))
	logs := runInProcess(t, with(w.env, "HTTP_ADDR=127.0.0.1:0", "LOG_LEVEL=debug"))
	if err := w.slack.WaitConnections(1, 20*time.Second); err != nil {
		t.Fatal(err, logs.String())
	}
	base := opsURL(t, logs.String)
	contoso, _ := w.fleet.Tenant("contoso")
	fabrikam, _ := w.fleet.Tenant("fabrikam")
	if out := command(t, w.slack, "alerts limit=20"); !strings.Contains(out, "contoso.portal") || strings.Contains(out, "fabrikam.portal") {
		t.Fatalf("before: %s", out)
	}

	// fabrikam is added: the next command asks it.
	w.write("tenants:\n" + w.tokenEntry("contoso", tok["contoso"]) + w.tokenEntry("fabrikam", tok["fabrikam"]))
	eventually(t, "fabrikam added", func() bool { return strings.Contains(logs.String(), `"added":["fabrikam"]`) })
	if out := command(t, w.slack, "alerts tenant=fabrikam limit=20"); !strings.Contains(out, "fabrikam.portal") || len(fabrikam.Requests()) == 0 {
		t.Fatalf("fabrikam after its reload: %s", out)
	}

	// contoso is removed: no longer asked, no longer known.
	w.write("tenants:\n" + w.tokenEntry("fabrikam", tok["fabrikam"]))
	eventually(t, "contoso removed", func() bool { return strings.Contains(logs.String(), `"removed":["contoso"]`) })
	asked := len(contoso.Requests())
	if out := command(t, w.slack, "alerts limit=20 high"); strings.Contains(out, "contoso") || !strings.Contains(out, "fabrikam") {
		t.Fatalf("after contoso's removal: %s", out)
	}
	if len(contoso.Requests()) != asked {
		t.Fatal("a removed tenant was asked")
	}
	// (The wording of the refusal is the commands' own.)
	if out := refused(t, w.slack, "alerts tenant=contoso"); !strings.Contains(out, "contoso") || strings.Contains(out, "contoso.portal") || len(contoso.Requests()) != asked {
		t.Fatalf("a removed tenant named: %s", out)
	}

	// A wrong file: refused, fabrikam keeps answering, /readyz says why.
	w.write("tenants:\n" + w.tokenEntry("fabrikam", tok["fabrikam"], "sourse: mcas"))
	eventually(t, "the refusal", func() bool { return strings.Contains(logs.String(), `"msg":"tenants reload refused"`) })
	if out := command(t, w.slack, "alerts limit=20 medium"); !strings.Contains(out, "fabrikam.portal") {
		t.Fatalf("after a refused reload: %s", out)
	}
	code, body := httpGet(t, base+"/readyz")
	var ready struct {
		Status  string
		Details struct {
			Tenants struct {
				Tenants    int
				File       string
				LastReload struct {
					OK       bool
					Trigger  string
					Problems []string
				} `json:"last_reload"`
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &ready); err != nil {
		t.Fatal(err, body)
	}
	lr := ready.Details.Tenants.LastReload
	if code != 200 || ready.Status != "ready" || ready.Details.Tenants.Tenants != 1 || lr.OK || lr.Trigger != "file changed" ||
		len(lr.Problems) != 1 || !strings.HasPrefix(lr.Problems[0], w.file+`:5: unknown key "sourse"`) {
		t.Fatalf("readyz %d %s", code, body)
	}
	_, metrics := httpGet(t, base+"/metrics")
	for _, want := range []string{`mcasbot_tenants 1`, `mcasbot_tenants_reloads_total{outcome="ok"} 2`, `mcasbot_tenants_reloads_total{outcome="failed"} 1`,
		`mcasbot_tenant_state{tenant="fabrikam"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(metrics, `mcasbot_tenant_state{tenant="contoso"}`) {
		t.Error("a removed tenant's state is still exported")
	}

	// Fixed: served again, and /readyz says so.
	w.write("tenants:\n" + w.tokenEntry("fabrikam", tok["fabrikam"], "groups: [emea]"))
	eventually(t, "the fixed file", func() bool {
		_, body := httpGet(t, base+"/readyz")
		return strings.Contains(body, `"ok":true`)
	})

	// A tenant whose secret file is mounted after the file naming it (a
	// ConfigMap and a Secret update apart): refused, then served when the
	// secret comes, without a signal.
	w.tenant("northwind", "tok-northwind-SECRET-file", "", 4)
	late := filepath.Join(w.dir, "northwind-token")
	w.write("tenants:\n" + w.tokenEntry("fabrikam", tok["fabrikam"]) + w.tokenEntry("northwind", late))
	eventually(t, "the refusal for the missing secret", func() bool {
		return strings.Contains(logs.String(), "northwind-token: no such file or directory")
	})
	w.secret("northwind-token", "tok-northwind-SECRET-file")
	eventually(t, "northwind added", func() bool { return strings.Contains(logs.String(), `"added":["northwind"]`) })
	if out := command(t, w.slack, "alerts tenant=northwind limit=20"); !strings.Contains(out, "northwind.portal") {
		t.Fatalf("northwind: %s", out)
	}

	everything := logs.String() + body + metrics
	for _, p := range w.slack.Posts() {
		everything += p.Text + string(p.Blocks) + string(p.Attach)
	}
	for _, secret := range []string{"tok-contoso-SECRET-file", "tok-fabrikam-SECRET-file", "tok-northwind-SECRET-file", "xoxb-fleet-secret", "xapp-fleet-secret"} {
		if strings.Contains(everything, secret) {
			t.Fatalf("secret %q shown", secret)
		}
	}
}
