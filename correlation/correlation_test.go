package correlation_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/soc/mcasbot/correlation"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

var now = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)

func alert(tenant, id string, sev source.Severity, ago time.Duration, user string, ips ...string) source.Alert {
	a := source.Alert{ID: id, Tenant: tenant, Severity: sev, Time: now.Add(-ago), Title: "t"}
	if user != "" {
		a.Entities = append(a.Entities, source.Entity{Type: "account", UPN: user})
	}
	for _, ip := range ips {
		a.Entities = append(a.Entities, source.Entity{Type: "ip", ID: ip})
	}
	return a
}

func TestAccountFact(t *testing.T) {
	for _, c := range []struct {
		in, key string
		bare    bool
	}{
		{"Bob.Smith@Contoso.com", "acct:bob.smith@contoso.com", false},
		{"mailto:bob.smith@contoso.com", "acct:bob.smith@contoso.com", false},
		{"bob.smith_contoso.com#EXT#@fabrikam.onmicrosoft.com", "acct:bob.smith@contoso.com", false},
		{"first_last_contoso.co.uk#EXT#@fabrikam.onmicrosoft.com", "acct:first_last@contoso.co.uk", false},
		{`CONTOSO\svc-backup`, "name:svc-backup", true},
		{"svc-backup", "name:svc-backup", true},
	} {
		f, ok := correlation.AccountFact(c.in)
		if !ok || f.Key != c.key || f.Bare != c.bare || f.Value != c.in {
			t.Errorf("%q: %+v %v, want key %q bare %v", c.in, f, ok, c.key, c.bare)
		}
	}
	for _, bad := range []string{"", "  ", "Bob Smith", "@contoso.com", "bob@", "<@U0ADMIN>", "a`b"} {
		if f, ok := correlation.AccountFact(bad); ok {
			t.Errorf("%q accepted as %+v", bad, f)
		}
	}
}

func TestPrivateAndReservedAddressesNeverCorrelate(t *testing.T) {
	for _, ip := range []string{"10.20.30.40", "192.168.1.20", "127.0.0.1", "203.0.113.17", "100.64.1.1", "fe80::1", "::ffff:10.0.0.1"} {
		if f, ok := correlation.IPFact(netip.MustParseAddr(ip)); ok {
			t.Errorf("%s is a fact: %+v", ip, f)
		}
	}
	as := []source.Alert{
		alert("contoso", "c1", source.SeverityHigh, time.Hour, "", "10.20.30.40"),
		alert("fabrikam", "f1", source.SeverityHigh, time.Hour, "", "10.20.30.40"),
	}
	if s := correlation.CrossTenant(as); len(s) != 0 {
		t.Fatalf("private address shared: %+v", s)
	}
	if f, ok := correlation.IPFact(netip.MustParseAddr("::ffff:185.220.101.4")); !ok || f.Key != "ip:185.220.101.4" {
		t.Fatalf("mapped address: %+v %v", f, ok)
	}
}

func TestRelatedCountsOtherTenantsInTheWindow(t *testing.T) {
	x := correlation.NewIndex(now.Add(-7 * 24 * time.Hour))
	x.AddAlerts([]source.Alert{
		alert("contoso", "c1", source.SeverityHigh, time.Hour, "bob.smith@contoso.com", "185.220.101.4"),
		alert("fabrikam", "f1", source.SeverityHigh, 2*time.Hour, "carol@fabrikam.com", "185.220.101.4"),
		alert("fabrikam", "f2", source.SeverityHigh, 5*time.Hour, "dave@fabrikam.com", "185.220.101.4", "45.155.205.233"),
		alert("fabrikam", "f3", source.SeverityMedium, 30*time.Hour, "bob.smith_contoso.com#EXT#@fabrikam.onmicrosoft.com", "185.220.101.4"),
		alert("fabrikam", "old", source.SeverityHigh, 8*24*time.Hour, "", "185.220.101.4"), // outside the window
		alert("northwind", "n1", source.SeverityLow, 3*time.Hour, "alice@northwind.com", "185.220.101.4"),
		alert("northwind", "n2", source.SeverityLow, 3*time.Hour, "bob.smith@fabrikam.com"), // another bob
	})
	c1 := alert("contoso", "c1", source.SeverityHigh, time.Hour, "bob.smith@contoso.com", "185.220.101.4")
	ms := x.Related("contoso", correlation.Facts(c1))
	if len(ms) != 3 {
		t.Fatalf("matches %+v", ms)
	}
	// Most alerts first: the address in fabrikam, 3 alerts (2 high), newest 2 h ago.
	ip := ms[0]
	if ip.Kind != correlation.IP || ip.Tenant != "fabrikam" || ip.Alerts != 3 || ip.High != 2 || !ip.Newest.Equal(now.Add(-2*time.Hour)) ||
		ip.Query != "185.220.101.4" || ip.From != "contoso" {
		t.Fatalf("ip match %+v", ip)
	}
	var acct, nw correlation.Match
	for _, m := range ms[1:] {
		if m.Kind == correlation.Account {
			acct = m
		} else {
			nw = m
		}
	}
	// The guest account is bob's; bob.smith@fabrikam.com is not.
	if acct.Tenant != "fabrikam" || acct.Alerts != 1 || acct.High != 0 || acct.Query != "bob.smith_contoso.com#EXT#@fabrikam.onmicrosoft.com" ||
		acct.Value != "bob.smith@contoso.com" {
		t.Fatalf("account match %+v", acct)
	}
	if nw.Tenant != "northwind" || nw.Alerts != 1 || nw.Kind != correlation.IP {
		t.Fatalf("northwind match %+v", nw)
	}
	// A lookup from no tenant counts every tenant.
	all := x.Related("", []correlation.Fact{ipFact("185.220.101.4")})
	if len(all) != 3 || all[0].Tenant != "fabrikam" || all[1].Tenant != "contoso" || all[2].Tenant != "northwind" {
		t.Fatalf("lookup %+v", all)
	}
}

func TestBareNamesMatchAccountsOfThatName(t *testing.T) {
	x := correlation.NewIndex(time.Time{})
	x.AddAlerts([]source.Alert{
		alert("contoso", "c1", source.SeverityHigh, time.Hour, `CONTOSO\svc-backup`),
		alert("fabrikam", "f1", source.SeverityMedium, time.Hour, "svc-backup@fabrikam.com"),
		alert("northwind", "n1", source.SeverityMedium, time.Hour, "svc-backup@northwind.com"),
	})
	bare := x.Related("contoso", correlation.Facts(alert("contoso", "c1", source.SeverityHigh, time.Hour, `CONTOSO\svc-backup`)))
	if len(bare) != 2 {
		t.Fatalf("bare name matched %+v", bare)
	}
	// The domain accounts match the bare name, not each other.
	dom := x.Related("fabrikam", correlation.Facts(alert("fabrikam", "f1", source.SeverityMedium, time.Hour, "svc-backup@fabrikam.com")))
	if len(dom) != 1 || dom[0].Tenant != "contoso" || dom[0].Query != `CONTOSO\svc-backup` {
		t.Fatalf("domain account matched %+v", dom)
	}
	shared := correlation.CrossTenant([]source.Alert{
		alert("contoso", "c1", source.SeverityHigh, time.Hour, `CONTOSO\svc-backup`),
		alert("fabrikam", "f1", source.SeverityMedium, time.Hour, "svc-backup@fabrikam.com"),
	})
	if len(shared) != 1 || shared[0].Value != `CONTOSO\svc-backup` || len(shared[0].Tenants) != 2 {
		t.Fatalf("shared %+v", shared)
	}
}

func TestCrossTenant(t *testing.T) {
	as := []source.Alert{
		alert("contoso", "c1", source.SeverityHigh, time.Hour, "bob.smith@contoso.com", "185.220.101.4"),
		alert("contoso", "c2", source.SeverityHigh, 2*time.Hour, "bob.smith@contoso.com", "185.220.101.4"),
		alert("fabrikam", "f1", source.SeverityHigh, time.Hour, "bob.smith_contoso.com#EXT#@fabrikam.onmicrosoft.com", "185.220.101.4"),
		alert("fabrikam", "f2", source.SeverityHigh, time.Hour, "carol@fabrikam.com", "45.155.205.233"),
	}
	got := correlation.CrossTenant(as)
	if len(got) != 2 {
		t.Fatalf("shared %+v", got)
	}
	// Equal tenants: more alerts first.
	ip, acct := got[0], got[1]
	if ip.Kind != correlation.IP || ip.Value != "185.220.101.4" || ip.Tenants[0] != (correlation.TenantCount{Tenant: "contoso", Alerts: 2}) ||
		ip.Tenants[1] != (correlation.TenantCount{Tenant: "fabrikam", Alerts: 1}) {
		t.Fatalf("ip %+v", ip)
	}
	if acct.Kind != correlation.Account || acct.Value != "bob.smith@contoso.com" || len(acct.Tenants) != 2 {
		t.Fatalf("account %+v", acct)
	}
}

func TestFinderReadsTheStore(t *testing.T) {
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	remembered := []source.Alert{
		alert("fabrikam", "f1", source.SeverityHigh, 2*time.Hour, "bob.smith_contoso.com#EXT#@fabrikam.onmicrosoft.com", "185.220.101.4"),
		alert("fabrikam", "f2", source.SeverityMedium, 3*time.Hour, "", "185.220.101.4"),
		alert("fabrikam", "old", source.SeverityHigh, 9*24*time.Hour, "", "185.220.101.4"),
	}
	if err := st.RememberFacts(context.Background(), correlation.Remember(remembered)); err != nil {
		t.Fatal(err)
	}
	f := &correlation.Finder{Store: st, Now: func() time.Time { return now }}
	ms, err := f.Alerts(context.Background(), []source.Alert{alert("contoso", "c9", source.SeverityHigh, time.Minute, "Bob.Smith@contoso.com", "185.220.101.4")})
	if err != nil || len(ms) != 2 {
		t.Fatalf("%+v %v", ms, err)
	}
	if ms[0].Kind != correlation.IP || ms[0].Alerts != 2 || ms[0].High != 1 || ms[1].Kind != correlation.Account || ms[1].Alerts != 1 {
		t.Fatalf("matches %+v", ms)
	}
	ip, err := f.IP(context.Background(), netip.MustParseAddr("185.220.101.4"))
	if err != nil || len(ip) != 1 || ip[0].Alerts != 2 || ip[0].From != "" {
		t.Fatalf("ip %+v %v", ip, err)
	}
	if none, _ := f.IP(context.Background(), netip.MustParseAddr("10.20.30.40")); none != nil {
		t.Fatalf("private %+v", none)
	}
}

func ipFact(s string) correlation.Fact {
	f, _ := correlation.IPFact(netip.MustParseAddr(s))
	return f
}

// FuzzAccountFact: any text reads as no account or as one stable key.
func FuzzAccountFact(f *testing.F) {
	for _, s := range []string{"bob@contoso.com", "a_b.c#EXT#@x.onmicrosoft.com", `D\u`, "#ext#@", "_.#EXT#@", "@", `\`, "mailto:", "x@y@z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fact, ok := correlation.AccountFact(s)
		if !ok {
			return
		}
		again, ok2 := correlation.AccountFact(fact.Value)
		if !ok2 || again.Key != fact.Key || fact.Name == "" || len(fact.Key) <= 5 {
			t.Fatalf("%q: %+v then %+v", s, fact, again)
		}
	})
}
