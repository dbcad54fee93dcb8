package schedule_test

import (
	"context"
	"testing"
	"time"

	"github.com/soc/mcasbot/grouping"
	"github.com/soc/mcasbot/source"
)

// BenchmarkDigest600Grouped is BenchmarkDigest600 with grouping on
// (DIGEST_GROUP_MIN=3) and correlation across the two tenants: the same
// MCAS calls, fewer Slack messages, and wall time still bound by Slack's
// rate.
func BenchmarkDigest600Grouped(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		w := newWorld(b, 300)
		for _, f := range w.tenants {
			f.SetLatency(100 * time.Millisecond)
		}
		w.abuse.SetLatency(100 * time.Millisecond)
		w.slack.EnforceRateLimit(true)
		d, _ := w.digest(b)
		d.MinSeverity = source.SeverityInformational
		d.PostInterval = time.Second
		d.Lookback = 48 * time.Hour
		d.GroupMin = grouping.DefaultMin
		b.StartTimer()
		start := time.Now()
		rep, err := d.Run(context.Background(), false)
		wall := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		bound := time.Duration(rep.Messages-1) * time.Second
		b.ReportMetric(wall.Seconds(), "s-wall")
		b.ReportMetric(float64(rep.MCASCalls), "mcas-calls")
		b.ReportMetric(float64(w.abuse.TotalCalls()), "abuseipdb-calls")
		b.ReportMetric(float64(rep.Messages), "slack-msgs")
		b.ReportMetric(float64(rep.Groups), "groups")
		b.ReportMetric(float64(wall)/float64(bound), "x-rate-bound")
		if rep.Posted != 600 {
			b.Fatalf("posted %d", rep.Posted)
		}
		if rep.MCASCalls != 6 {
			b.Errorf("MCAS calls %d, want 6 (3 pages of 100 per tenant)", rep.MCASCalls)
		}
		if rep.Messages >= 1+600/20 {
			b.Errorf("%d messages: grouping saved none", rep.Messages)
		}
		if float64(wall) > 1.2*float64(bound) {
			b.Errorf("wall %v over 1.2× the rate bound %v", wall, bound)
		}
	}
}
