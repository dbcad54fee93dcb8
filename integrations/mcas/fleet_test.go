package mcas_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
)

// One fleet serves many tenants, each its own alerts under its own base
// URL, as if each were a portal of its own.
func TestAFleetServesEachTenantApart(t *testing.T) {
	f := mcasfake.NewFleet()
	defer f.Close()
	var clients []*mcas.Client
	for i := range 3 {
		name := fmt.Sprintf("tenant%02d", i)
		srv := f.Add(name, "tok-"+name)
		srv.AddAlerts(mcasfake.Generate(name, 5+i, now, time.Hour, uint64(i+1))...)
		c, err := mcas.New(mcas.Config{Name: name, URL: srv.URL, Token: "tok-" + name, RequestsPerMinute: -1, Attempts: 1}, f.Client(), nil)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	for i, c := range clients {
		list, err := c.Alerts(context.Background(), source.AlertQuery{Limit: 100})
		if err != nil || len(list.Alerts) != 5+i {
			t.Fatalf("%s: %d alerts, %v", c.Name(), len(list.Alerts), err)
		}
		srv, _ := f.Tenant(c.Name())
		if n := len(srv.Requests()); n != 1 {
			t.Fatalf("%s saw %d requests", c.Name(), n)
		}
	}
	// A tenant's token is its own, and a tenant the fleet does not serve is
	// not found.
	srv, _ := f.Tenant("tenant00")
	wrong, _ := mcas.New(mcas.Config{Name: "tenant00", URL: srv.URL, Token: "tok-tenant01", RequestsPerMinute: -1, Attempts: 1}, f.Client(), nil)
	if _, err := wrong.Alerts(context.Background(), source.AlertQuery{}); httpx.KindOf(err) != httpx.KindAuth {
		t.Fatalf("another tenant's token: %v", err)
	}
	gone, _ := mcas.New(mcas.Config{Name: "nobody", URL: strings.Replace(srv.URL, "tenant00", "nobody", 1), Token: "x", RequestsPerMinute: -1, Attempts: 1}, f.Client(), nil)
	if _, err := gone.Alerts(context.Background(), source.AlertQuery{}); httpx.KindOf(err) != httpx.KindNotFound {
		t.Fatalf("unknown tenant: %v", err)
	}
	// Every request counts, a tenant's or none's: 3 lists, 2 refused.
	if n := f.Requests(); n != 5 {
		t.Fatalf("the fleet counted %d requests, want 5", n)
	}
}
