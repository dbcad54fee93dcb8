package ops_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/soc/mcasbot/ops"
)

// Many tenants (issue #18): questions that waited for a fan-out slot, and
// what became of answers too big for a message.
func TestManyTenantMetrics(t *testing.T) {
	m := ops.NewMetrics()
	m.FanOutWaits.Add(2)
	m.FullAnswers.WithLabelValues("posted").Inc()
	m.FullAnswers.WithLabelValues("direct_message").Inc()
	srv := httptest.NewServer(ops.Handler(m))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"mcasbot_fanout_waits_total 2", `mcasbot_full_answers_total{outcome="posted"} 1`, `mcasbot_full_answers_total{outcome="direct_message"} 1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
