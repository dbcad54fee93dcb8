package schedule_test

import (
	"context"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/defender/defenderfake"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/tenants"
)

// BenchmarkGraphDigest300: one Graph tenant with 300 new alerts, Graph
// 100 ms away, Slack held to one message per second: Graph's calls are
// its pages (200 alerts each), and the bound is Slack's rate.
func BenchmarkGraphDigest300(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		w := newWorld(b, 0)
		g := newGraphTenant(b, w, "northwind")
		as := defenderfake.Generate("northwind", graphDir, 300, w.now.Add(-time.Minute), 20*time.Hour, 5)
		g.dir.AddAlerts(as...)
		g.srv.SetLatency(100 * time.Millisecond)
		w.slack.EnforceRateLimit(true)
		d, _ := w.digest(b)
		d.Tenants = tenants.Static(g.cli)
		d.MinSeverity = source.SeverityInformational
		d.PostInterval = time.Second
		b.StartTimer()
		start := time.Now()
		rep, err := d.Run(context.Background(), false)
		wall := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		bound := time.Duration(rep.Messages-1) * time.Second
		b.ReportMetric(wall.Seconds(), "s-wall")
		b.ReportMetric(float64(len(g.srv.Requests())), "graph-calls")
		b.ReportMetric(float64(rep.Messages), "slack-msgs")
		b.ReportMetric(float64(wall)/float64(bound), "x-rate-bound")
		if rep.Posted != 300 {
			b.Fatalf("posted %d", rep.Posted)
		}
		if n := len(g.srv.Requests()); n != 2 {
			b.Errorf("%d Graph calls, want 2 (pages of 200)", n)
		}
	}
}
