// Package ops is what an operator scrapes and probes: Prometheus metrics,
// /healthz and /readyz.
package ops

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/soc/mcasbot/integrations/httpx"
)

// Metrics are every metric mcasbot exports.
type Metrics struct {
	Registry *prometheus.Registry

	Commands        *prometheus.CounterVec   // name, outcome
	AckLatency      *prometheus.HistogramVec // kind
	ReplyLatency    *prometheus.HistogramVec // command
	Upstream        *prometheus.CounterVec   // integration, status
	UpstreamLatency *prometheus.HistogramVec // integration
	Retries         *prometheus.CounterVec   // integration
	RateLimitWaits  *prometheus.CounterVec   // integration
	RateLimitWaited *prometheus.CounterVec   // integration (seconds)
	AbuseCache      *prometheus.CounterVec   // result: hit, miss
	DigestRuns      *prometheus.CounterVec   // outcome
	AlertsPosted    prometheus.Counter
	Issues          *prometheus.CounterVec // outcome
	Closes          *prometheus.CounterVec // outcome
	Reconnects      prometheus.Counter

	// A busy SOC (issue #10).
	QueryCache     *prometheus.CounterVec // result: hit, miss
	Coalesced      prometheus.Counter
	Interim        *prometheus.CounterVec // reason: deadline, budget
	BudgetFallback prometheus.Counter
	// Many tenants (issue #18).
	FanOutWaits prometheus.Counter
	FullAnswers *prometheus.CounterVec // outcome
	// Jira sync and report (issue #13).
	JiraSyncRuns    *prometheus.CounterVec // outcome
	JiraSyncChanges prometheus.Counter
	JiraSyncCloses  *prometheus.CounterVec // outcome (JIRA_DONE_CLOSES_ALERT)
	ReportRuns      *prometheus.CounterVec // outcome
	// A hung tenant (issue #16).
	TenantSkipped *prometheus.CounterVec // tenant
	// Bounded state (issue #19).
	StoreRows  *prometheus.GaugeVec // table
	StoreBytes prometheus.Gauge
	Pruned     *prometheus.CounterVec // table
	PruneRuns  *prometheus.CounterVec // outcome
	// The tenants file (issue #18).
	TenantReloads *prometheus.CounterVec // outcome: ok, failed
}

// NewMetrics registers every metric on a fresh registry (with the Go and
// process collectors).
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) prometheus.Collector { r.MustRegister(c); return c }
	latency := []float64{.0001, .0005, .001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &Metrics{Registry: r}
	m.Commands = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcasbot_commands_total", Help: "Slash commands by name and outcome (ok, upstream_error, bad_input, denied)."}, []string{"command", "outcome"})).(*prometheus.CounterVec)
	m.AckLatency = f(prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mcasbot_ack_seconds", Help: "Time to acknowledge a Socket Mode envelope.", Buckets: latency}, []string{"kind"})).(*prometheus.HistogramVec)
	m.ReplyLatency = f(prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mcasbot_reply_seconds", Help: "Time from a command to its reply.", Buckets: latency}, []string{"command"})).(*prometheus.HistogramVec)
	m.Upstream = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcasbot_upstream_requests_total", Help: "Upstream HTTP requests by integration and status (0 = no answer)."}, []string{"integration", "status"})).(*prometheus.CounterVec)
	m.UpstreamLatency = f(prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mcasbot_upstream_request_seconds", Help: "Upstream HTTP request latency.", Buckets: latency}, []string{"integration"})).(*prometheus.HistogramVec)
	m.Retries = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcasbot_upstream_retries_total", Help: "Upstream requests retried (429, 5xx, timeouts)."}, []string{"integration"})).(*prometheus.CounterVec)
	m.RateLimitWaits = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcasbot_rate_limit_waits_total", Help: "Requests that waited for the local rate limiter."}, []string{"integration"})).(*prometheus.CounterVec)
	m.RateLimitWaited = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcasbot_rate_limit_wait_seconds_total", Help: "Time spent waiting for the local rate limiter."}, []string{"integration"})).(*prometheus.CounterVec)
	m.AbuseCache = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcasbot_abuseipdb_cache_total", Help: "AbuseIPDB lookups by cache result (hit, miss)."}, []string{"result"})).(*prometheus.CounterVec)
	m.DigestRuns = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcasbot_digest_runs_total", Help: "Scheduled digest runs by outcome (ok, failed, skipped, store_error)."}, []string{"outcome"})).(*prometheus.CounterVec)
	m.AlertsPosted = f(prometheus.NewCounter(prometheus.CounterOpts{Name: "mcasbot_digest_alerts_posted_total", Help: "Alerts posted by digests."})).(prometheus.Counter)
	m.Issues = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcasbot_jira_issues_total", Help: "Create Jira clicks by outcome (filed, already_filed, in_progress, refused, failed)."}, []string{"outcome"})).(*prometheus.CounterVec)
	m.Closes = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcasbot_alert_closes_total", Help: "Alert closes from Slack by outcome (closed, already_closed, in_progress, refused, failed)."}, []string{"outcome"})).(*prometheus.CounterVec)
	m.Reconnects = f(prometheus.NewCounter(prometheus.CounterOpts{Name: "mcasbot_socketmode_reconnects_total", Help: "Socket Mode connections lost and re-established."})).(prometheus.Counter)
	m.QueryCache = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcasbot_query_cache_total", Help: "Tenant queries answered from the query cache (hit) or not (miss)."}, []string{"result"})).(*prometheus.CounterVec)
	m.Coalesced = f(prometheus.NewCounter(prometheus.CounterOpts{Name: "mcasbot_query_coalesced_total", Help: "Tenant queries that joined an identical MCAS call in flight."})).(prometheus.Counter)
	m.Interim = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcasbot_interim_replies_total", Help: "Replies shown before every tenant answered, by reason (deadline, budget)."}, []string{"reason"})).(*prometheus.CounterVec)
	m.BudgetFallback = f(prometheus.NewCounter(prometheus.CounterOpts{Name: "mcasbot_budget_fallback_total", Help: "MCAS requests admitted by the local fallback budget while the shared one was unreachable."})).(prometheus.Counter)
	m.FanOutWaits = f(prometheus.NewCounter(prometheus.CounterOpts{Name: "mcasbot_fanout_waits_total", Help: "Tenant calls of a question that waited for one of its FANOUT_CONCURRENCY slots."})).(prometheus.Counter)
	m.FullAnswers = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcasbot_full_answers_total", Help: "Answers too big for a message, by what became of their CSV (posted, direct_message, not_in_channel, upload_failed, failed)."}, []string{"outcome"})).(*prometheus.CounterVec)
	m.JiraSyncRuns = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcasbot_jira_sync_runs_total", Help: "Jira status syncs by outcome (ok, failed, skipped, store_error)."}, []string{"outcome"})).(*prometheus.CounterVec)
	m.JiraSyncChanges = f(prometheus.NewCounter(prometheus.CounterOpts{Name: "mcasbot_jira_sync_changes_total", Help: "Filed issues whose Jira status, assignee or resolution changed (or that were deleted)."})).(prometheus.Counter)
	m.JiraSyncCloses = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcasbot_jira_sync_closes_total", Help: "Alerts of done Jira issues closed by the Jira sync (JIRA_DONE_CLOSES_ALERT), by outcome (closed, already_closed, in_progress, refused, failed)."}, []string{"outcome"})).(*prometheus.CounterVec)
	m.ReportRuns = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcasbot_report_runs_total", Help: "Scheduled report attempts by outcome (ok, chart_failed, failed: gave up after the last attempt, skipped, store_error, interrupted: shut down between retries)."}, []string{"outcome"})).(*prometheus.CounterVec)
	m.TenantSkipped = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcasbot_tenant_skipped_total", Help: "Tenant questions answered at once without the tenant, because a call to it timed out lately (TENANT_COOLDOWN)."}, []string{"tenant"})).(*prometheus.CounterVec)
	m.StoreRows = f(prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mcasbot_store_rows", Help: "Rows in each table of the state store, counted at start and after each prune (on the replica that pruned)."}, []string{"table"})).(*prometheus.GaugeVec)
	m.StoreBytes = f(prometheus.NewGauge(prometheus.GaugeOpts{Name: "mcasbot_store_bytes", Help: "Bytes the state store takes on disk (SQLite: the database file; PostgreSQL: its tables with indexes), counted with mcasbot_store_rows."})).(prometheus.Gauge)
	m.Pruned = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcasbot_store_pruned_rows_total", Help: "Rows pruned from the state store (STATE_RETENTION), by table."}, []string{"table"})).(*prometheus.CounterVec)
	m.PruneRuns = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcasbot_prune_runs_total", Help: "Daily state prunes by outcome (ok, failed, skipped, store_error)."}, []string{"outcome"})).(*prometheus.CounterVec)
	m.TenantReloads = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcasbot_tenants_reloads_total", Help: "Reloads of the tenants file (SIGHUP or a change of its contents) by outcome (ok; failed: the tenants loaded before are still served)."}, []string{"outcome"})).(*prometheus.CounterVec)
	for _, o := range []string{"ok", "failed"} {
		m.TenantReloads.WithLabelValues(o)
	}
	return m
}

// WatchTenants exports the tenants served now, read at scrape time (a
// reload changes them): how many, and each one's state on this replica:
// 0 answering, 1 being checked (one question asks it), 2 not answering
// (questions skip it until TENANT_COOLDOWN is over).
func (m *Metrics) WatchTenants(tenants func() []string, state func(tenant string) int) {
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mcasbot_tenants", Help: "Tenants served now."},
			func() float64 { return float64(len(tenants())) }),
		tenantStates{names: tenants, state: state})
}

var tenantStateDesc = prometheus.NewDesc("mcasbot_tenant_state",
	"A tenant's state on this replica: 0 answering, 1 being checked by one question, 2 not answering (skipped).", []string{"tenant"}, nil)

// tenantStates is one mcasbot_tenant_state per tenant served at scrape time.
type tenantStates struct {
	names func() []string
	state func(string) int
}

func (t tenantStates) Describe(ch chan<- *prometheus.Desc) { ch <- tenantStateDesc }

func (t tenantStates) Collect(ch chan<- prometheus.Metric) {
	for _, n := range t.names() {
		ch <- prometheus.MustNewConstMetric(tenantStateDesc, prometheus.GaugeValue, float64(t.state(n)), n)
	}
}

// Watch exports live state read at scrape time: the Socket Mode
// connection, the store, and AbuseIPDB's remaining quota (quota may be nil).
func (m *Metrics) Watch(socket, store func() bool, quota func() (int, bool)) {
	b := func(f func() bool) func() float64 {
		return func() float64 {
			if f() {
				return 1
			}
			return 0
		}
	}
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mcasbot_socketmode_connected", Help: "1 while the Socket Mode connection is up."}, b(socket)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mcasbot_store_up", Help: "1 while the state store answers."}, b(store)),
	)
	if quota != nil {
		m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mcasbot_abuseipdb_quota_remaining",
			Help: "AbuseIPDB checks left today, as its last answer said (-1 unknown)."}, func() float64 {
			if n, ok := quota(); ok {
				return float64(n)
			}
			return -1
		}))
	}
}

// Integration is the metric label of a caller: "mcas", "abuseipdb", "jira".
func Integration(service string) string {
	name, _, _ := strings.Cut(service, " ")
	return name
}

// ObserveCaller counts a client's requests, latencies and retries.
func (m *Metrics) ObserveCaller(c *httpx.Caller) {
	in := Integration(c.Service)
	c.Observe = func(_ string, status int, d time.Duration) {
		m.Upstream.WithLabelValues(in, strconv.Itoa(status)).Inc()
		m.UpstreamLatency.WithLabelValues(in).Observe(d.Seconds())
	}
	c.OnRetry = func(string, time.Duration) { m.Retries.WithLabelValues(in).Inc() }
	c.OnLimit = func(d time.Duration) {
		m.RateLimitWaits.WithLabelValues(in).Inc()
		m.RateLimitWaited.WithLabelValues(in).Add(d.Seconds())
	}
}

// SetStoreSize exports the state store's rows per table and its bytes
// (0: unknown, left as it was).
func (m *Metrics) SetStoreSize(rows map[string]int64, bytes int64) {
	for table, n := range rows {
		m.StoreRows.WithLabelValues(table).Set(float64(n))
	}
	if bytes > 0 {
		m.StoreBytes.Set(float64(bytes))
	}
}
