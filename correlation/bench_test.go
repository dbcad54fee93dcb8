package correlation_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/soc/mcasbot/correlation"
	"github.com/soc/mcasbot/source"
)

// BenchmarkRelated100Tenants: a digest run's relate step over 100 tenants ×
// 20 alerts that share a few public addresses and accounts (the worst case:
// every tenant sees the same Tor exits), one Related call per alert.
func BenchmarkRelated100Tenants(b *testing.B) {
	now := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	ips := []string{"185.220.101.4", "185.220.102.8", "45.155.205.233", "91.240.118.172"}
	var as []source.Alert
	for t := range 100 {
		for i := range 20 {
			as = append(as, source.Alert{ID: fmt.Sprintf("a%02d%02d", t, i), Tenant: fmt.Sprintf("tenant%02d", t), Time: now.Add(-time.Duration(i) * time.Minute),
				Severity: source.SeverityHigh, Entities: []source.Entity{
					{Type: "ip", ID: ips[i%len(ips)]}, {Type: "account", UPN: fmt.Sprintf("user%d@shared.example", i%5)}}})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		x := correlation.NewIndex(now.Add(-24 * time.Hour))
		x.AddAlerts(as)
		n := 0
		for _, a := range as {
			n += len(x.Related(a.Tenant, correlation.Facts(a)))
		}
		if n == 0 {
			b.Fatal("nothing related")
		}
	}
}
