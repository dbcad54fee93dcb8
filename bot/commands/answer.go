package commands

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/source"
)

// An answer by the deadline, then the rest (issue #10): Start returns at
// once with an Answer that tenants fill in as they reply; Await shows what
// is there when a tenant is queued for its budget or the deadline passes,
// and returns the whole answer when every tenant replied, failed or ran
// out of time.

// Pending is a tenant that has not answered yet.
type Pending struct {
	Tenant string
	After  time.Duration // since the command started
	// Queued, when positive, is how much longer the tenant's call waits for
	// its request budget (Budget, e.g. "25/min").
	Queued time.Duration
	Budget string
}

// Interim says why an unfinished answer is shown.
type Interim string

const (
	InterimQueued   Interim = "budget"   // a tenant waits for its request budget
	InterimDeadline Interim = "deadline" // the reply deadline passed
)

// Answer is a command in progress.
type Answer struct {
	base   Result // what the command says before any tenant answers
	limit  int
	start  time.Time
	notice time.Duration
	done   chan struct{}
	sel    string        // the tenant selection asked
	selErr error         // the selection no longer resolves (a reload)
	gate   chan struct{} // the question's fan-out slots (Runner.FanOut)

	mu      sync.Mutex
	changed chan struct{}
	parts   []part
	rep     *abuseipdb.Report
	repNote string
	repDone bool
	related *Related // set when complete (issue #11)
}

// part is one tenant's share of the answer.
type part struct {
	tenant  string
	budget  string
	settled bool
	alerts  page[source.Alert]
	acts    page[source.Activity]
	asOf    time.Time
	err     error
	queued  time.Time
}

// budgeted is a tenant that can say its request budget (*mcas.Client).
type budgeted interface {
	Budget() (int, time.Duration)
}

// verdictGrace is how much longer than Timeout a command waits for its
// tenant calls' own verdicts.
const verdictGrace = time.Second

// Start runs req and returns at once; the answer fills in as tenants reply.
func (r *Runner) Start(ctx context.Context, req Request) *Answer {
	a := &Answer{start: time.Now(), notice: r.QueueNotice, done: make(chan struct{}), changed: make(chan struct{}), repDone: true,
		sel: Selection(req), gate: make(chan struct{}, r.fanOut())}
	if a.notice <= 0 {
		a.notice = 2 * time.Second
	}
	// Each tenant call is bounded by Timeout on its own; the command's bound
	// is a little longer, so that a call's own verdict (and what its
	// tenant's breaker makes of it) comes before the command gives up.
	ctx, cancel := context.WithTimeout(ctx, r.timeout()+verdictGrace)
	var wg sync.WaitGroup
	switch req := req.(type) {
	case AlertsRequest:
		q := source.AlertQuery{Severities: req.Severities, Status: req.Status, Since: req.Since}
		status := map[source.Status]string{source.StatusOpen: "open", source.StatusClosed: "closed", source.StatusAny: "all"}[req.Status]
		a.base = AlertsResult{Title: "MCAS alerts", Filters: []Filter{{"severity", req.Severity}, {"status", status}, {"since", req.SinceText}, {"limit", fmt.Sprint(req.Limit)}}}
		a.askAlerts(r, ctx, &wg, req.Tenant, alertsKey(req), req.Limit, q)
	case UserRequest:
		a.base = AlertsResult{Title: "Alerts for " + req.User, Filters: []Filter{{"user", req.User}, {"status", "all"}, {"limit", fmt.Sprint(req.Limit)}}}
		a.askAlerts(r, ctx, &wg, req.Tenant, userKey(req), req.Limit, source.AlertQuery{User: req.User})
	case IPRequest:
		a.base = IPResult{Addr: req.Addr, Filters: []Filter{{"ip", req.Addr.String()}, {"limit", fmt.Sprint(req.Limit)}}}
		a.limit = req.Limit
		a.repDone = false
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, r.timeout())
			defer cancel()
			rep, note := r.reputation(ctx, req.Addr)
			a.update(func() { a.rep, a.repNote, a.repDone = rep, note, true })
		})
		for i, t := range a.track(r.pick(req.Tenant)) {
			wg.Go(func() {
				p, asOf, err := ask(r, ctx, a.query(r, t, ipKey(req), req.Limit), func(ctx context.Context, limit int) (page[source.Activity], error) {
					l, err := t.Activities(ctx, source.ActivityQuery{IP: req.Addr.String(), Limit: limit})
					return page[source.Activity]{Items: l.Activities, More: l.More}, err
				}, a.queuedFn(i))
				a.update(func() { a.parts[i].acts = p; a.settle(i, asOf, r.failure(ctx, t, "list activities", err)) })
			})
		}
	case AlertRequest:
		a.base = AlertResult{ID: req.ID}
		a.askAlert(r, ctx, &wg, req)
	case TenantsRequest:
		a.base = r.tenantsResult(req)
	default:
		a.base = HelpResult{Definitions: Definitions}
	}
	go func() {
		wg.Wait()
		related := r.relate(ctx, a.Result())
		cancel()
		a.update(func() { a.related = related; close(a.done) })
	}()
	return a
}

func (a *Answer) askAlerts(r *Runner, ctx context.Context, wg *sync.WaitGroup, tenant, key string, limit int, q source.AlertQuery) {
	a.limit = limit
	for i, t := range a.track(r.pick(tenant)) {
		wg.Go(func() {
			p, asOf, err := ask(r, ctx, a.query(r, t, key, limit), func(ctx context.Context, limit int) (page[source.Alert], error) {
				q := q
				q.Limit = limit
				l, err := t.Alerts(ctx, q)
				return page[source.Alert]{Items: l.Alerts, More: l.More}, err
			}, a.queuedFn(i))
			a.update(func() { a.parts[i].alerts = p; a.settle(i, asOf, r.failure(ctx, t, "list alerts", err)) })
		})
	}
}

// query is the shared form of one tenant's question. The limit asked
// upstream is at least the default: the same one call, reusable by more.
func (a *Answer) query(r *Runner, t source.Tenant, key string, limit int) tenantQuery {
	return tenantQuery{tenant: t.Name(), key: t.Name() + "|" + key, limit: limit, fetch: max(limit, DefaultLim),
		gate: func(ctx context.Context) (func(), error) { return r.fanOutSlot(ctx, a.gate) }}
}

// failure names what went wrong; a command that ran out of time while the
// tenant had not answered says so.
func (r *Runner) failure(ctx context.Context, t source.Tenant, op string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*notAsked](err); ok {
		return err
	}
	// The command's time ran out, or the shared call's (the same length,
	// started by another command): the same verdict either way.
	_, shared := errors.AsType[*outOfTime](err)
	if e, ok := errors.AsType[*httpx.Error](err); shared || ctx.Err() != nil && (!ok || e.Kind == httpx.KindTimeout && e.Status == 0) {
		return &httpx.Error{Service: t.Source() + " " + t.Name(), Op: op, Kind: httpx.KindTimeout,
			Detail: fmt.Sprintf("no answer within %s", r.timeout()), Err: err}
	}
	return err
}

// track makes a part of the answer for each tenant asked; a selection
// that no longer resolves is remembered, to be shown as the failure.
func (a *Answer) track(tenants []source.Tenant, err error) []source.Tenant {
	a.selErr = err
	a.parts = make([]part, len(tenants))
	for i, t := range tenants {
		a.parts[i].tenant = t.Name()
		if b, ok := t.(budgeted); ok {
			if n, per := b.Budget(); n > 0 {
				a.parts[i].budget = httpx.BudgetText(n, per)
			}
		}
	}
	return tenants
}

func (a *Answer) queuedFn(i int) func(time.Time) {
	return func(until time.Time) { a.update(func() { a.parts[i].queued = until }) }
}

// settle records a tenant's outcome; call under a.mu.
func (a *Answer) settle(i int, asOf time.Time, err error) {
	a.parts[i].settled, a.parts[i].asOf, a.parts[i].err = true, asOf, err
}

// update changes the answer under its lock and wakes whoever watches it.
func (a *Answer) update(f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f()
	close(a.changed)
	a.changed = make(chan struct{})
}

// Changed is closed at the next change: a tenant answered or got queued.
func (a *Answer) Changed() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.changed
}

// Done is closed when every tenant answered, failed or ran out of time.
func (a *Answer) Done() <-chan struct{} { return a.done }

// Wait blocks until the answer is complete and returns it.
func (a *Answer) Wait() Result {
	<-a.done
	return a.Result()
}

// Result is the answer as it stands: complete once Done is closed, before
// that with the tenants still missing in Pending.
func (a *Answer) Result() Result {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	var names []string
	var failures []Failure
	var pending []Pending
	var asOf time.Time
	var alerts []source.Alert
	var acts []source.Activity
	more := false
	matched, empty := 0, 0
	if a.selErr != nil {
		names = append(names, a.sel)
		failures = append(failures, Failure{Tenant: a.sel, Err: a.selErr})
	}
	for _, p := range a.parts {
		names = append(names, p.tenant)
		switch {
		case !p.settled:
			pd := Pending{Tenant: p.tenant, After: now.Sub(a.start), Budget: p.budget}
			if p.queued.After(now) {
				pd.Queued = p.queued.Sub(now)
			}
			pending = append(pending, pd)
		case p.err != nil:
			failures = append(failures, Failure{Tenant: p.tenant, Err: p.err})
		default:
			if len(p.alerts.Items)+len(p.acts.Items) > 0 {
				matched++
			} else {
				empty++
			}
			alerts = append(alerts, p.alerts.Items...)
			acts = append(acts, p.acts.Items...)
			more = more || p.alerts.More || p.acts.More
			if !p.asOf.IsZero() && (asOf.IsZero() || p.asOf.Before(asOf)) {
				asOf = p.asOf
			}
		}
	}
	switch res := a.base.(type) {
	case AlertsResult:
		res.Selection, res.Tenants, res.Failures, res.Pending, res.AsOf = a.sel, names, failures, pending, asOf
		res.Alerts, res.More = newest(alerts, more, a.limit, func(x source.Alert) time.Time { return x.Time })
		res.All, res.Matched, res.Empty = alerts, matched, empty
		res.Related = a.related
		return res
	case IPResult:
		res.Selection, res.Tenants, res.Failures, res.Pending, res.AsOf = a.sel, names, failures, pending, asOf
		res.Activities, res.More = newest(acts, more, a.limit, func(x source.Activity) time.Time { return x.Time })
		res.All, res.Matched, res.Empty = acts, matched, empty
		res.Reputation, res.RepNote = a.rep, a.repNote
		if !a.repDone {
			res.RepNote = "AbuseIPDB has not answered yet"
		}
		res.Related = a.related
		return res
	case AlertResult:
		res.Selection, res.Tenants, res.Failures, res.Pending, res.Found = a.sel, names, failures, pending, alerts
		if !a.repDone && len(pending) == 0 && len(alerts) == 1 {
			res.RepNotes = map[string]string{}
			for _, ip := range alerts[0].IPs() {
				res.RepNotes[ip] = "AbuseIPDB has not answered yet"
			}
		}
		return res
	}
	return a.base
}

// progress is how many tenants have settled, and the longest budget wait
// of those that have not; call under a.mu.
func (a *Answer) progress(now time.Time) (int, time.Duration) {
	settled := 0
	var queued time.Duration
	for _, p := range a.parts {
		if p.settled {
			settled++
		} else if d := p.queued.Sub(now); d > queued {
			queued = d
		}
	}
	return settled, queued
}

// Await waits for the whole answer and returns it. Before that, show is
// given the answer so far: once when a tenant is queued for its request
// budget longer than the Runner's QueueNotice, and once when deadline
// passes with a tenant missing (unless nothing changed since the first).
// Both happen in Await's goroutine, before it returns.
func (a *Answer) Await(deadline time.Time, show func(Result, Interim)) Result {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	queuedShown, deadlineShown := false, false
	shownAt := -1 // tenants settled when last shown
	for {
		a.mu.Lock()
		changed := a.changed
		settled, queued := a.progress(time.Now())
		a.mu.Unlock()
		if !queuedShown && !deadlineShown && queued > a.notice {
			queuedShown, shownAt = true, settled
			if !isDone(a.done) {
				show(a.Result(), InterimQueued)
			}
		}
		select {
		case <-a.done:
			return a.Result()
		case <-timer.C:
			deadlineShown = true
			if settled != shownAt && !isDone(a.done) {
				show(a.Result(), InterimDeadline)
			}
		case <-changed:
		}
	}
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
