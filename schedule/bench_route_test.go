package schedule_test

import (
	"context"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/abuseipdb/abusefake"
)

// BenchmarkDigestRouted100: 100 tenants × 20 new alerts routed to 10
// channels, every tenant on one fake MCAS 100 ms away, Slack holding each
// channel to one message a second. The bound is Slack's per-channel rate:
// the busiest channel's messages × 1 s.
func BenchmarkDigestRouted100(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		w := newFleetWorld(b, 100, 10, 20)
		w.fleet.SetLatency(100 * time.Millisecond)
		w.slack.EnforceRateLimit(true)
		abuse := abusefake.New("abuse-key", 100000)
		b.Cleanup(abuse.Close)
		abuse.SetLatency(100 * time.Millisecond)
		d := w.digest(b, nil)
		d.PostInterval = time.Second
		d.Reputation, _ = abuseipdb.New(abuseipdb.Config{APIKey: "abuse-key", URL: abuse.URL}, abuse.Client(), nil)
		b.StartTimer()
		start := time.Now()
		rep, err := d.Run(context.Background(), false)
		wall := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		busiest := 0
		for _, c := range rep.Channels {
			busiest = max(busiest, c.Messages)
		}
		bound := time.Duration(busiest) * time.Second
		b.ReportMetric(wall.Seconds(), "s-wall")
		b.ReportMetric(float64(w.fleet.Requests()), "mcas-requests")
		b.ReportMetric(float64(rep.Messages), "slack-msgs")
		b.ReportMetric(float64(busiest), "busiest-channel-msgs")
		b.ReportMetric(float64(wall)/float64(bound), "x-channel-bound")
		b.ReportMetric(float64(wall)/float64(bound-time.Second), "x-paced-gaps")
		ids := postedIDs(b, w.slack.Posts())
		if rep.Posted != 2000 || len(ids) != 2000 || len(dupes(ids)) > 0 {
			b.Fatalf("posted %d (%d buttons, %d twice), want 2000 once each", rep.Posted, len(ids), len(dupes(ids)))
		}
		if n := w.fleet.Requests(); n != 100 || rep.MCASCalls != 100 {
			b.Errorf("%d requests reached MCAS (%d counted), want 100: one page per tenant", n, rep.MCASCalls)
		}
		if len(rep.Channels) != 10 {
			b.Errorf("%d channels, want 10", len(rep.Channels))
		}
		if float64(wall) > 1.1*float64(bound) {
			b.Errorf("wall %v over 1.1× the per-channel bound %v", wall, bound)
		}
	}
}
