package commands_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/tenants"
)

// inFlight counts the HTTP requests in flight through it, and the most.
type inFlight struct {
	next      http.RoundTripper
	now, most atomic.Int32
}

func (c *inFlight) RoundTrip(r *http.Request) (*http.Response, error) {
	n := c.now.Add(1)
	defer c.now.Add(-1)
	for m := c.most.Load(); n > m && !c.most.CompareAndSwap(m, n); m = c.most.Load() {
	}
	return c.next.RoundTrip(r)
}

// BenchmarkFanOut500 is one question over 500 tenants each 200 ms away
// with FANOUT_CONCURRENCY at its default (128): it reports the most MCAS
// requests in flight at once and how long the answer took (about four
// rounds of 200 ms).
func BenchmarkFanOut500(b *testing.B) {
	fleet := mcasfake.NewFleet()
	b.Cleanup(fleet.Close)
	tr := &inFlight{next: fleet.Client().Transport}
	hc := &http.Client{Transport: tr}
	var ts []source.Tenant
	for i := range 500 {
		name := fmt.Sprintf("customer-%03d", i)
		f := fleet.Add(name, "t")
		f.SetLatency(200 * time.Millisecond)
		c, err := mcas.New(mcas.Config{Name: name, URL: f.URL, Token: "t", RequestsPerMinute: -1, Attempts: 1}, hc, nil)
		if err != nil {
			b.Fatal(err)
		}
		ts = append(ts, c)
	}
	r := &commands.Runner{Tenants: tenants.Static(ts...), Timeout: 25 * time.Second}
	req, _ := r.Parse("alerts")
	var took time.Duration
	for b.Loop() {
		start := time.Now()
		res := r.Run(context.Background(), req).(commands.AlertsResult)
		took += time.Since(start)
		if len(res.Failures) != 0 || res.Empty != 500 {
			b.Fatalf("failures %v, %d empty", res.Failures, res.Empty)
		}
	}
	b.ReportMetric(float64(tr.most.Load()), "most-in-flight")
	b.ReportMetric(float64(took.Milliseconds())/float64(b.N), "ms-answer")
	if tr.most.Load() > commands.DefaultFanOut {
		b.Errorf("%d requests in flight, bound %d", tr.most.Load(), commands.DefaultFanOut)
	}
}
