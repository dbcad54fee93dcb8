package httpx

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Limiter hands out request slots: a tenant's request budget. Reserve takes
// the next free slot and says how long until it starts; release gives it
// back when the caller will not use it (it gave up waiting). *Window is the
// in-process limiter; store.Budget shares one budget between replicas.
type Limiter interface {
	Reserve(ctx context.Context) (wait time.Duration, release func(), err error)
}

// Window allows at most N calls in any sliding period. MCAS counts requests
// per minute per tenant, so a token bucket (which allows burst plus refill in
// the same minute) would overshoot; a sliding log does not. Slots are
// reserved in order, so the k-th caller in a queue knows its wait at once.
type Window struct {
	mu    sync.Mutex
	n     int
	per   time.Duration
	slots []time.Time // reserved starts, in order; older than per are dropped
	now   func() time.Time
}

// NewWindow allows n calls per period; n <= 0 means unlimited.
func NewWindow(n int, per time.Duration) *Window {
	return &Window{n: n, per: per, now: time.Now}
}

// Limit is the window's budget: n calls per period (n <= 0: unlimited).
func (w *Window) Limit() (int, time.Duration) { return w.n, w.per }

// Reserve takes the next free slot. A slot starts no earlier than the one n
// places before it plus the period, so any period holds at most n starts.
func (w *Window) Reserve(context.Context) (time.Duration, func(), error) {
	if w == nil || w.n <= 0 {
		return 0, func() {}, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	cut := 0
	for cut < len(w.slots) && now.Sub(w.slots[cut]) >= w.per {
		cut++
	}
	w.slots = w.slots[cut:]
	at := now
	if len(w.slots) >= w.n {
		if t := w.slots[len(w.slots)-w.n].Add(w.per); t.After(at) {
			at = t
		}
	}
	w.slots = append(w.slots, at)
	return at.Sub(now), func() { w.release(at) }, nil
}

// release drops a reserved slot; removing any slot keeps every period
// within n, so later reservations simply move up.
func (w *Window) release(at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := len(w.slots) - 1; i >= 0; i-- {
		if w.slots[i].Equal(at) {
			w.slots = append(w.slots[:i], w.slots[i+1:]...)
			return
		}
	}
}

// Wait blocks until a call is allowed or ctx is done; a wait longer than
// ctx allows fails at once with context.DeadlineExceeded.
func (w *Window) Wait(ctx context.Context) error {
	d, release, err := w.Reserve(ctx)
	if err != nil || d <= 0 {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		release()
		return context.DeadlineExceeded
	}
	if err := Sleep(ctx, d); err != nil {
		release()
		return err
	}
	return nil
}

// BudgetText says a budget the way an analyst reads it: "25/min", "30 per 2s".
func BudgetText(n int, per time.Duration) string {
	if per == time.Minute {
		return fmt.Sprintf("%d/min", n)
	}
	return fmt.Sprintf("%d per %s", n, per)
}

type waitNoticeKey struct{}

// WithWaitNotice asks the Caller to tell notice how long a request will
// wait for its rate budget, before it waits (for "queued, about 20 s").
func WithWaitNotice(ctx context.Context, notice func(wait time.Duration)) context.Context {
	return context.WithValue(ctx, waitNoticeKey{}, notice)
}

func noteWait(ctx context.Context, d time.Duration) {
	if f, ok := ctx.Value(waitNoticeKey{}).(func(time.Duration)); ok && f != nil {
		f(d)
	}
}
