package schedule_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/correlation"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
)

// A later run relates its alerts to what earlier runs saw in other
// tenants, from the store: no MCAS calls beyond the pages it reads anyway.
// Dry runs remember nothing; facts older than the window are forgotten.
func TestCorrelationRemembersEarlierRuns(t *testing.T) {
	w := newWorld(t, 0)
	d, st := w.digest(t)
	ctx := context.Background()
	guest := mcasfake.Guest("fabrikam", "bob.smith@contoso.com", "f10000000000000000000001", w.now.Add(-3*time.Hour), 2)
	w.tenants[1].AddAlerts(guest)

	// A dry run reads fabrikam but keeps nothing.
	if _, err := d.Run(ctx, true); err != nil {
		t.Fatal(err)
	}
	if fs, _ := st.FactsFor(ctx, []string{"ip:" + mcasfake.TorIP}, time.Time{}); len(fs) != 0 {
		t.Fatalf("a dry run remembered %+v", fs)
	}
	if _, err := d.Run(ctx, false); err != nil {
		t.Fatal(err)
	}
	if fs, _ := st.FactsFor(ctx, []string{"ip:" + mcasfake.TorIP, "acct:bob.smith@contoso.com"}, time.Time{}); len(fs) != 2 {
		t.Fatalf("remembered %+v", fs)
	}

	// Next run: bob in contoso. fabrikam has nothing new, yet the card says
	// where else bob and the address were seen.
	w.now = w.now.Add(time.Hour)
	w.tenants[0].AddAlerts(mcasfake.Repeats("contoso", "bob.smith@contoso.com", "b1", 1, w.now.Add(-time.Minute), time.Minute)...)
	before := len(w.slack.Posts())
	rep, err := d.Run(ctx, false)
	if err != nil || rep.Posted != 1 || rep.MCASCalls != 2 {
		t.Fatalf("%+v %v (one page per tenant)", rep, err)
	}
	card := string(w.slack.Posts()[before].Blocks)
	for _, want := range []string{"*185.220.101.4* also seen in *fabrikam*: 1 alert (1 high)", "*bob.smith@contoso.com* also seen in *fabrikam*: 1 alert (1 high)",
		"`/mcas user bob.smith_contoso.com#EXT#@fabrikam.onmicrosoft.com tenant=fabrikam`"} {
		if !strings.Contains(card, want) {
			t.Errorf("card lacks %q: %s", want, card)
		}
	}
	// Only one tenant in this run: no cross-tenant section.
	if strings.Contains(card, "Cross-tenant") {
		t.Error("cross-tenant section for a run of one tenant")
	}

	// Past the window the facts are forgotten, and nothing relates.
	w.now = w.now.Add(correlation.DefaultWindow)
	w.tenants[0].AddAlerts(mcasfake.Repeats("contoso", "bob.smith@contoso.com", "b2", 1, w.now.Add(-time.Minute), time.Minute)...)
	before = len(w.slack.Posts())
	if _, err := d.Run(ctx, false); err != nil {
		t.Fatal(err)
	}
	if card := string(w.slack.Posts()[before].Blocks); strings.Contains(card, "also seen in") {
		t.Errorf("related beyond the window: %s", card)
	}
	if fs, _ := st.FactsFor(ctx, []string{"acct:bob.smith@contoso.com"}, time.Time{}); len(fs) != 1 || fs[0].Tenant != "contoso" {
		t.Fatalf("facts after the window %+v", fs)
	}
}
