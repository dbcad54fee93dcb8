package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/soc/mcasbot/integrations/httpx"
)

// A hung tenant (issue #16): when a call to a tenant runs out of time, the
// tenant is marked as not answering for Cooldown (TENANT_COOLDOWN).
// Questions then skip it and say so at once; once the cooldown is over, one
// question at a time (the probe) asks it again, and its answer decides. The
// mark is per replica: each replica finds out for itself. Only commands go
// through it: the digest and the other scheduled jobs ask every tenant.

// NotAnswering is a tenant skipped because a call to it timed out lately.
type NotAnswering struct {
	Tenant string
	Ago    time.Duration // since the call timed out
	// RetryIn is how long until a question asks the tenant again; 0 when a
	// question is asking it now.
	RetryIn time.Duration
}

func (e *NotAnswering) Error() string {
	return fmt.Sprintf("%s: not answering (timed out %s ago)", e.Tenant, e.Ago.Round(time.Second))
}

// TenantState is a tenant's mark on this replica.
type TenantState int

const (
	TenantAnswering    TenantState = iota // asked as usual
	TenantChecking                        // the cooldown is over: one question asks it
	TenantNotAnswering                    // skipped until the cooldown is over
)

func (s TenantState) String() string {
	return [...]string{"answering", "checking", "not answering"}[s]
}

// tenantBreaker is one tenant's circuit breaker and when it last tripped.
type tenantBreaker struct {
	cb *gobreaker.CircuitBreaker[struct{}]

	mu      sync.Mutex
	tripped time.Time // by the runner's clock
}

func (b *tenantBreaker) trippedAt() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tripped
}

// breaker is the tenant's breaker; nil when Cooldown is 0 (off).
func (r *Runner) breaker(tenant string) *tenantBreaker {
	if r.Cooldown <= 0 {
		return nil
	}
	r.breakMu.Lock()
	defer r.breakMu.Unlock()
	if b := r.breakers[tenant]; b != nil {
		return b
	}
	if r.breakers == nil {
		r.breakers = map[string]*tenantBreaker{}
	}
	b := &tenantBreaker{}
	b.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        tenant,
		MaxRequests: 1, // one probe at a time
		Timeout:     r.Cooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 1 },
		// A tenant that answers, even with an error (401, 403, 5xx), is
		// answering: only running out of time counts against it.
		IsSuccessful: func(err error) bool { return !timedOut(err) },
		IsExcluded:   excluded,
		OnStateChange: func(_ string, from, to gobreaker.State) {
			r.stateChanged(tenant, b, from, to)
		},
	})
	r.breakers[tenant] = b
	return b
}

// stateChanged logs and records a tenant's new mark. It runs under the
// breaker's lock: it must not call the breaker.
func (r *Runner) stateChanged(tenant string, b *tenantBreaker, from, to gobreaker.State) {
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := r.now()
	b.mu.Lock()
	tripped := b.tripped
	if to == gobreaker.StateOpen {
		b.tripped = now
	}
	b.mu.Unlock()
	switch {
	case to == gobreaker.StateOpen && from == gobreaker.StateHalfOpen:
		log.Warn("tenant still not answering: questions skip it", "tenant", tenant, "cooldown", r.Cooldown)
	case to == gobreaker.StateOpen:
		log.Warn("tenant not answering: questions skip it", "tenant", tenant, "cooldown", r.Cooldown, "timeout", r.timeout())
	case to == gobreaker.StateHalfOpen:
		log.Info("tenant cooldown over: the next question checks whether it answers", "tenant", tenant)
	case to == gobreaker.StateClosed:
		log.Info("tenant answering again", "tenant", tenant, "timed_out_ago", now.Sub(tripped).Round(time.Second))
	}
}

// TenantState is the tenant's mark on this replica (for metrics).
func (r *Runner) TenantState(tenant string) TenantState {
	b := r.breaker(tenant)
	if b == nil {
		return TenantAnswering
	}
	return TenantState(b.cb.State())
}

// skip returns a *NotAnswering while the tenant is marked as not
// answering. It is checked before joining a call in flight, which may be
// the very call that hangs.
func (r *Runner) skip(tenant string) error {
	b := r.breaker(tenant)
	if b == nil || b.cb.State() != gobreaker.StateOpen {
		return nil
	}
	return r.notAnswering(tenant, b, false)
}

// guarded makes one call to a tenant, bounded by ctx: it waits for one of
// the tenant's call slots, skips the call while the tenant is not
// answering, and tells the tenant's breaker how it went. call reports
// whether it waited for the tenant's request budget. A call whose time ran
// out (then an *outOfTime) after part of it went to waiting, for a slot or
// for the budget, says nothing about the tenant.
func (r *Runner) guarded(ctx context.Context, tenant string, call func() (queued bool, err error)) error {
	sem, waited, err := r.slot(ctx, tenant)
	if errors.Is(err, context.DeadlineExceeded) {
		return &outOfTime{err}
	} else if err != nil {
		return err
	}
	defer func() { <-sem }()
	b := r.breaker(tenant)
	var cerr error
	run := func() (struct{}, error) {
		queued, err := call()
		if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = &outOfTime{err}
		}
		cerr = err
		if _, out := errors.AsType[*outOfTime](err); out && (queued || waited) {
			err = queuedOut{err}
		}
		r.record(tenant, err)
		return struct{}{}, err
	}
	if b == nil {
		_, _ = run()
		return cerr
	}
	_, err = b.cb.Execute(run)
	switch {
	case errors.Is(err, gobreaker.ErrOpenState):
		return r.notAnswering(tenant, b, false)
	case errors.Is(err, gobreaker.ErrTooManyRequests):
		return r.notAnswering(tenant, b, true)
	}
	return cerr
}

func (r *Runner) notAnswering(tenant string, b *tenantBreaker, probing bool) error {
	if r.OnSkipped != nil {
		r.OnSkipped(tenant)
	}
	return r.skipped(tenant, b, probing)
}

// skipped says since when the tenant is not answering and, unless a
// question is checking it now (probing), when it is asked again.
func (r *Runner) skipped(tenant string, b *tenantBreaker, probing bool) *NotAnswering {
	at := b.trippedAt()
	now := r.now()
	e := &NotAnswering{Tenant: tenant, Ago: max(0, now.Sub(at))}
	if !probing {
		e.RetryIn = max(time.Second, at.Add(r.Cooldown).Sub(now))
	}
	return e
}

// timedOut reports whether err says the tenant did not answer in time: the
// command's or the shared call's time ran out, or the HTTP request's, or
// the tenant's gateway answered 504/408. Other failures, 5xx included, are
// answers: they come back at once and hold nothing up, and their own
// message says more than "not answering".
func timedOut(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if _, ok := errors.AsType[*outOfTime](err); ok {
		return true
	}
	return httpx.KindOf(err) == httpx.KindTimeout || errors.Is(err, context.DeadlineExceeded)
}

// excluded are outcomes that say nothing about the tenant: a cancelled call
// (the command gave up, the bot is stopping), one that spent its time
// waiting for the request budget, and one the budget refused (never sent).
func excluded(err error) bool {
	if _, ok := errors.AsType[queuedOut](err); ok {
		return true
	}
	if e, ok := errors.AsType[*httpx.Error](err); ok && e.Kind == httpx.KindThrottled && e.Status == 0 {
		return true
	}
	return errors.Is(err, context.Canceled)
}

// queuedOut marks a timeout of a call that waited for its request budget.
type queuedOut struct{ error }

func (e queuedOut) Unwrap() error { return e.error }
