package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/tenants"
)

// Reputation looks up IP addresses (*abuseipdb.Client).
type Reputation interface {
	Check(ctx context.Context, addr netip.Addr) (abuseipdb.Report, error)
}

// Runner runs parsed commands against the tenants.
type Runner struct {
	// Tenants are the tenants questions go to (a reloaded tenants file
	// changes them; a question keeps the set it started with).
	Tenants    *tenants.Directory
	Reputation Reputation // nil when no AbuseIPDB key is configured
	Now        func() time.Time
	// Timeout bounds one command end to end (default 25s).
	Timeout time.Duration
	// Records, when set, adds an alert's Jira issue and close to its card.
	Records Records
	// CacheTTL is how long a tenant's answer is reused by identical queries
	// (QUERY_CACHE_TTL); 0 only shares the calls in flight.
	CacheTTL time.Duration
	// QueueNotice is how long a tenant's call may wait for its request
	// budget before Await shows it (default 2s).
	QueueNotice time.Duration
	// Metrics hooks, optional: reused answers (hit) and calls made (miss),
	// commands that joined an identical call in flight.
	OnCache     func(hit bool)
	OnCoalesced func()

	// Related, when set, adds what other tenants' alerts share (issue #11).
	Related Relater

	// Cooldown is how long a tenant whose call timed out is skipped by
	// questions (TENANT_COOLDOWN); 0 asks it every time (issue #16).
	Cooldown time.Duration
	// OnSkipped, optional, is told of every tenant question answered at
	// once without the tenant because it is not answering.
	OnSkipped func(tenant string)
	// Logger says when a tenant stops answering and when it is back.
	Logger *slog.Logger
	// MaxCalls bounds the calls in flight to one tenant (default 8; the
	// bot's WORKERS).
	MaxCalls int
	// FanOut bounds the tenant calls in flight for one question
	// (FANOUT_CONCURRENCY, default 128): at 500 tenants a question asks
	// 128 at a time, not 500 at once. MaxCalls still bounds each tenant
	// across questions.
	FanOut int
	// OnFanOutWait, optional, is told of every tenant call of a question
	// that waited for one of the question's FanOut slots.
	OnFanOutWait func()

	shareOnce sync.Once
	share     *sharing
	breakMu   sync.Mutex
	breakers  map[string]*tenantBreaker
	slotMu    sync.Mutex
	slots     map[string]chan struct{}
	healthMu  sync.Mutex
	health    map[string]Health
}

// Parser returns a parser that knows the runner's tenants.
func (r *Runner) Parser() Parser {
	set := r.Tenants.Set()
	return Parser{Tenants: set.Names, Groups: set.Groups, Now: r.Now}
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
func (f Failure) Reason() string {
	if e, ok := errors.AsType[*notAsked](f.Err); ok {
		return e.Error()
	}
	return httpx.Describe(f.Err)
}

// Short says why in a word or two, for a line naming many tenants:
// "timed out", "HTTP 401", "not answering".
func (f Failure) Short() string {
	if _, ok := errors.AsType[*NotAnswering](f.Err); ok {
		return "not answering"
	}
	if _, ok := errors.AsType[*notAsked](f.Err); ok {
		return "not asked in time"
	}
	if e, ok := errors.AsType[*httpx.Error](f.Err); ok {
		if e.Kind == httpx.KindThrottled && e.Status == 0 {
			return "request budget spent" // refused here, never sent
		}
		if e.Status != 0 && e.Kind != httpx.KindTimeout {
			return fmt.Sprintf("HTTP %d", e.Status)
		}
		return string(e.Kind)
	}
	if errors.Is(f.Err, context.DeadlineExceeded) {
		return string(httpx.KindTimeout)
	}
	return httpx.Truncate(f.Reason(), 40)
}

// Result is what a command produced.
type Result interface{ result() }

// AlertsResult answers alerts and user.
type AlertsResult struct {
	Title     string
	Filters   []Filter
	Selection string   // the tenant selection as asked ("" every tenant)
	Tenants   []string // queried
	Alerts    []source.Alert
	More      bool // more matched than were shown
	// All is every alert the tenants returned (up to the limit each),
	// newest first; Alerts is the first Limit of them.
	All []source.Alert
	// Matched and Empty count the tenants that answered with alerts and
	// with none.
	Matched, Empty int

	Failures []Failure
	Pending  []Pending // tenants that have not answered yet (an interim reply)
	AsOf     time.Time // when the oldest reused answer in it was fetched; zero: all fresh
	Related  *Related  // nil: not looked up (issue #11)
}

// IPResult answers ip.
type IPResult struct {
	Addr       netip.Addr
	Filters    []Filter
	Selection  string
	Tenants    []string
	Activities []source.Activity
	More       bool
	All        []source.Activity // every activity the tenants returned, newest first
	// Matched and Empty count the tenants that answered with activity and
	// with none.
	Matched, Empty int

	Failures   []Failure
	Reputation *abuseipdb.Report
	// RepNote says why there is no reputation, when there is none.
	RepNote string
	Pending []Pending
	AsOf    time.Time
	Related *Related // nil: not looked up (issue #11)
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
	case AlertResult:
		return len(r.Failures) > 0
	}
	return false
}

// Run executes a request and waits for the whole answer. It never returns
// an error: upstream failures are part of the result, so partial answers
// reach the user.
func (r *Runner) Run(ctx context.Context, req Request) Result {
	return r.Start(ctx, req).Wait()
}

func (r *Runner) timeout() time.Duration {
	if r.Timeout <= 0 {
		return 25 * time.Second
	}
	return r.Timeout
}

// Slow reports whether req calls upstreams (and so deserves a "looking up" ack).
func Slow(req Request) bool {
	switch req.(type) {
	case HelpRequest, TenantsRequest:
		return false
	}
	return true
}

// Selection is the tenant selection a request asks ("" every tenant).
func Selection(req Request) string {
	switch r := req.(type) {
	case AlertsRequest:
		return r.Tenant
	case IPRequest:
		return r.Tenant
	case UserRequest:
		return r.Tenant
	case AlertRequest:
		return r.Tenant
	case TenantsRequest:
		return r.Tenant
	}
	return ""
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

// pick resolves a selection to the tenants served now. It fails only
// when the tenants were reloaded since the command was parsed.
func (r *Runner) pick(sel string) ([]source.Tenant, error) {
	return r.Tenants.Select(sel)
}

// now is the runner's clock (Now, or the wall clock), in UTC.
func (r *Runner) now() time.Time { return Parser{Now: r.Now}.now() }
