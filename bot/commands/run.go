package commands

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/integrations/mcas"
)

// Tenant is what a handler needs from one MCAS tenant (*mcas.Client).
type Tenant interface {
	Name() string
	Alerts(ctx context.Context, q mcas.AlertQuery) (mcas.AlertList, error)
	Activities(ctx context.Context, q mcas.ActivityQuery) (mcas.ActivityList, error)
}

// Reputation looks up IP addresses (*abuseipdb.Client).
type Reputation interface {
	Check(ctx context.Context, addr netip.Addr) (abuseipdb.Report, error)
}

// Runner runs parsed commands against the tenants.
type Runner struct {
	Tenants    []Tenant
	Reputation Reputation // nil when no AbuseIPDB key is configured
	Now        func() time.Time
	// Timeout bounds one command end to end (default 25s).
	Timeout time.Duration
	// Related, when set, adds what other tenants' alerts share (issue #11).
	Related Relater
}

// Parser returns a parser that knows the runner's tenants.
func (r *Runner) Parser() Parser {
	names := make([]string, len(r.Tenants))
	for i, t := range r.Tenants {
		names[i] = t.Name()
	}
	return Parser{Tenants: names, Now: r.Now}
}

// Parse reads command text.
func (r *Runner) Parse(text string) (Request, error) { return r.Parser().Parse(text) }

// Filter is one applied filter, for the reply's context line.
type Filter struct{ Key, Value string }

// Failure is one tenant that could not answer.
type Failure struct {
	Tenant string
	Err    error
}

// Reason says in a few words why the tenant failed.
func (f Failure) Reason() string { return httpx.Describe(f.Err) }

// Result is what a command produced.
type Result interface{ result() }

// AlertsResult answers alerts and user.
type AlertsResult struct {
	Title    string
	Filters  []Filter
	Tenants  []string // queried
	Alerts   []mcas.Alert
	More     bool // more matched than were shown
	Failures []Failure
	Related  *Related // nil: not looked up
}

// IPResult answers ip.
type IPResult struct {
	Addr       netip.Addr
	Filters    []Filter
	Tenants    []string
	Activities []mcas.Activity
	More       bool
	Failures   []Failure
	Reputation *abuseipdb.Report
	// RepNote says why there is no reputation, when there is none.
	RepNote string
	Related *Related // nil: not looked up
}

// HelpResult answers help and bad input.
type HelpResult struct {
	Definitions []*Definition
	Problem     *UsageError // set when this is an answer to bad input
}

func (AlertsResult) result() {}
func (IPResult) result()     {}
func (HelpResult) result()   {}

// Failed reports whether any upstream failed.
func Failed(r Result) bool {
	switch r := r.(type) {
	case AlertsResult:
		return len(r.Failures) > 0
	case IPResult:
		return len(r.Failures) > 0
	}
	return false
}

// Run executes a request. It never returns an error: upstream failures are
// part of the result, so partial answers reach the user.
func (r *Runner) Run(ctx context.Context, req Request) Result {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 25 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch req := req.(type) {
	case AlertsRequest:
		return r.relate(ctx, r.alerts(ctx, req))
	case IPRequest:
		return r.relate(ctx, r.ip(ctx, req))
	case UserRequest:
		return r.relate(ctx, r.user(ctx, req))
	default:
		return HelpResult{Definitions: Definitions}
	}
}

// Slow reports whether req calls upstreams (and so deserves a "looking up" ack).
func Slow(req Request) bool {
	_, help := req.(HelpRequest)
	return !help
}

func (r *Runner) alerts(ctx context.Context, req AlertsRequest) Result {
	q := mcas.AlertQuery{Limit: req.Limit, Severities: req.Severities, Status: req.Status, Since: req.Since}
	res := r.alertFanout(ctx, req.Tenant, q)
	res.Title = "MCAS alerts"
	status := map[mcas.Status]string{mcas.StatusOpen: "open", mcas.StatusClosed: "closed", mcas.StatusAny: "all"}[req.Status]
	res.Filters = []Filter{{"severity", req.Severity}, {"status", status}, {"since", req.SinceText}, {"limit", fmt.Sprint(req.Limit)}}
	return res
}

func (r *Runner) user(ctx context.Context, req UserRequest) Result {
	res := r.alertFanout(ctx, req.Tenant, mcas.AlertQuery{Limit: req.Limit, User: req.User})
	res.Title = "Alerts for " + req.User
	res.Filters = []Filter{{"user", req.User}, {"status", "all"}, {"limit", fmt.Sprint(req.Limit)}}
	return res
}

func (r *Runner) alertFanout(ctx context.Context, tenant string, q mcas.AlertQuery) AlertsResult {
	lists, names, failures := fanout(ctx, r.pick(tenant), func(ctx context.Context, t Tenant) (mcas.AlertList, error) {
		return t.Alerts(ctx, q)
	})
	res := AlertsResult{Tenants: names, Failures: failures}
	for _, l := range lists {
		res.Alerts = append(res.Alerts, l.Alerts...)
		res.More = res.More || l.More
	}
	res.Alerts, res.More = newest(res.Alerts, res.More, q.Limit, func(a mcas.Alert) time.Time { return a.Time })
	return res
}

// newest sorts merged tenant pages newest first and keeps limit of them;
// more reports whether anything matched beyond what is kept.
func newest[T any](items []T, more bool, limit int, at func(T) time.Time) ([]T, bool) {
	slices.SortStableFunc(items, func(a, b T) int { return at(b).Compare(at(a)) })
	if len(items) > limit {
		return items[:limit], true
	}
	return items, more
}

func (r *Runner) ip(ctx context.Context, req IPRequest) Result {
	res := IPResult{Addr: req.Addr, Filters: []Filter{{"ip", req.Addr.String()}, {"limit", fmt.Sprint(req.Limit)}}}
	var wg sync.WaitGroup
	wg.Go(func() { res.Reputation, res.RepNote = r.reputation(ctx, req.Addr) })
	lists, names, failures := fanout(ctx, r.pick(req.Tenant), func(ctx context.Context, t Tenant) (mcas.ActivityList, error) {
		return t.Activities(ctx, mcas.ActivityQuery{IP: req.Addr.String(), Limit: req.Limit})
	})
	wg.Wait()
	res.Tenants, res.Failures = names, failures
	for _, l := range lists {
		res.Activities = append(res.Activities, l.Activities...)
		res.More = res.More || l.More
	}
	res.Activities, res.More = newest(res.Activities, res.More, req.Limit, func(a mcas.Activity) time.Time { return a.Time })
	return res
}

// reputation never fails the command: problems become a note.
func (r *Runner) reputation(ctx context.Context, addr netip.Addr) (*abuseipdb.Report, string) {
	if !abuseipdb.Public(addr) {
		return nil, "private or reserved address: not sent to AbuseIPDB"
	}
	if r.Reputation == nil {
		return nil, "AbuseIPDB is not configured (set ABUSEIPDB_API_KEY)"
	}
	rep, err := r.Reputation.Check(ctx, addr)
	if err != nil {
		switch httpx.KindOf(err) {
		case httpx.KindThrottled:
			return nil, "reputation unavailable: AbuseIPDB quota exhausted"
		case httpx.KindAuth:
			return nil, "reputation unavailable: AbuseIPDB rejected the API key"
		}
		if errors.Is(err, abuseipdb.ErrNotPublic) {
			return nil, "private or reserved address: not sent to AbuseIPDB"
		}
		return nil, "reputation unavailable: " + httpx.Describe(err)
	}
	return &rep, ""
}

func (r *Runner) pick(tenant string) []Tenant {
	if tenant == "" {
		return r.Tenants
	}
	for _, t := range r.Tenants {
		if t.Name() == tenant {
			return []Tenant{t}
		}
	}
	return nil
}

// fanout calls fn for every tenant at once and keeps the answers in tenant
// order; a failing tenant becomes a Failure and does not stop the others.
func fanout[T any](ctx context.Context, tenants []Tenant, fn func(context.Context, Tenant) (T, error)) ([]T, []string, []Failure) {
	results := make([]T, len(tenants))
	errs := make([]error, len(tenants))
	names := make([]string, len(tenants))
	var wg sync.WaitGroup
	for i, t := range tenants {
		names[i] = t.Name()
		wg.Go(func() { results[i], errs[i] = fn(ctx, t) })
	}
	wg.Wait()
	var ok []T
	var failures []Failure
	for i, err := range errs {
		if err != nil {
			failures = append(failures, Failure{Tenant: names[i], Err: err})
			continue
		}
		ok = append(ok, results[i])
	}
	return ok, names, failures
}
