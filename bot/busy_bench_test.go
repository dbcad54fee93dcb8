package bot_test

import (
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/tenants"
)

// BenchmarkBurst is the incident burst of issue #10 in real time and with
// the defaults (WORKERS 8, queue 64, budget 25/min, QUERY_CACHE_TTL 60s,
// REPLY_DEADLINE 8s, COMMAND_TIMEOUT 25s): 100 commands in 5 s, 5 distinct
// texts, 8 distinct tenant queries, MCAS answering in 500 ms. It reports
// the MCAS calls, the commands answered in full within 20 s, and the
// reply time minus the upstream latency (p50, p99). About 6 s an op.
func BenchmarkBurst(b *testing.B) {
	const n, latency = 100, 500 * time.Millisecond
	var calls, full int
	var lat []time.Duration
	for b.Loop() {
		h := startWith(b, bot.Config{}, nil, func(h *harness) {
			h.runner.Timeout, h.runner.CacheTTL = 25*time.Second, time.Minute
			h.runner.Tenants = tenants.Static()
			for i, f := range h.tenants {
				c, err := mcas.New(mcas.Config{Name: h.clients[i].Name(), URL: f.URL, Token: mcasToken}, f.Client(), h.logger)
				if err != nil {
					b.Fatal(err)
				}
				h.runner.Tenants.Put(source.Tenant(c))
			}
		})
		for _, f := range h.tenants {
			f.SetLatency(latency)
		}
		h.abuse.SetLatency(latency)
		ids := make([]string, n)
		sent := make([]time.Time, n)
		for i := range n {
			sent[i] = time.Now()
			id, err := h.slack.SlashCommand(analyst, socChannel, burstTexts[i%len(burstTexts)])
			if err != nil {
				b.Fatal(err)
			}
			ids[i] = id
			time.Sleep(5 * time.Second / n)
		}
		for i, id := range ids {
			posts, err := h.slack.Responses(id, 1, 30*time.Second)
			if err != nil {
				b.Fatal(err)
			}
			last := posts[len(posts)-1]
			s := rendered(last)
			d := last.At.Sub(sent[i])
			if d <= 20*time.Second && len(decode(b, last.Raw).Blocks) > 1 && !strings.Contains(s, "Partial results") && !strings.Contains(s, "not answered") && !strings.Contains(s, "busy") {
				full++
			}
			lat = append(lat, d)
		}
		for _, f := range h.tenants {
			calls += len(f.Requests())
		}
	}
	slicesSort(lat)
	over := func(d time.Duration) float64 { return float64(max(0, d-latency).Milliseconds()) }
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	b.ReportMetric(float64(calls)/float64(b.N), "mcas-calls")
	b.ReportMetric(float64(full)/float64(b.N), "full-answers")
	b.ReportMetric(float64(p50.Milliseconds()), "ms-p50-reply")
	b.ReportMetric(float64(p99.Milliseconds()), "ms-p99-reply")
	b.ReportMetric(over(p50), "ms-p50-over-upstream")
	b.ReportMetric(over(p99), "ms-p99-over-upstream")
}
