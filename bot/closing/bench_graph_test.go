package closing_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/closing"
	"github.com/soc/mcasbot/integrations/defender/defenderfake"
	"github.com/soc/mcasbot/source"
)

// BenchmarkGraphCloseRoundTrip: one Close… of a Graph alert from claim to
// record: the store's claim, Graph's GET, PATCH and comment POST (each
// 20 ms away), the record.
func BenchmarkGraphCloseRoundTrip(b *testing.B) {
	w := newGraphWorld(b)
	svc, _ := w.service(b)
	w.graph.SetLatency(20 * time.Millisecond)
	alerts := defenderfake.Generate("contoso", graphDir, 2000, now, 48*time.Hour, 11)
	w.dir.AddAlerts(alerts...)
	i := 0
	before := len(w.graph.Requests())
	var lat []time.Duration
	for b.Loop() {
		if i == len(alerts) {
			b.Fatal("out of alerts")
		}
		start := time.Now()
		res, err := svc.Close(context.Background(), closing.Request{Tenant: "contoso", AlertID: alerts[i].ID, By: closing.Analyst{ID: "U0CAROL", Name: "carol"},
			Classification: source.FalsePositive, Reason: "not_malicious", Comment: fmt.Sprint("bench ", i)})
		lat = append(lat, time.Since(start))
		if err != nil || res.Outcome != closing.Closed {
			b.Fatalf("%+v %v", res, err)
		}
		i++
	}
	b.ReportMetric(float64(len(w.graph.Requests())-before)/float64(i), "graph-calls/op")
	b.ReportMetric(float64(median(lat).Microseconds())/1000, "ms-median")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
