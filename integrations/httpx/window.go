package httpx

import (
	"context"
	"sync"
	"time"
)

// Window allows at most N calls in any sliding period. MCAS counts requests
// per minute per tenant, so a token bucket (which allows burst plus refill in
// the same minute) would overshoot; a sliding log does not.
type Window struct {
	mu     sync.Mutex
	n      int
	per    time.Duration
	starts []time.Time
	now    func() time.Time
	// OnWait, when set, is told how long a caller had to wait.
	OnWait func(d time.Duration)
}

// NewWindow allows n calls per period; n <= 0 means unlimited.
func NewWindow(n int, per time.Duration) *Window {
	return &Window{n: n, per: per, now: time.Now}
}

// Wait blocks until a call is allowed or ctx is done.
func (w *Window) Wait(ctx context.Context) error {
	if w == nil || w.n <= 0 {
		return nil
	}
	var waited time.Duration
	for {
		w.mu.Lock()
		now := w.now()
		cut := 0
		for cut < len(w.starts) && now.Sub(w.starts[cut]) >= w.per {
			cut++
		}
		w.starts = w.starts[cut:]
		if len(w.starts) < w.n {
			w.starts = append(w.starts, now)
			w.mu.Unlock()
			if waited > 0 && w.OnWait != nil {
				w.OnWait(waited)
			}
			return nil
		}
		d := w.starts[0].Add(w.per).Sub(now)
		w.mu.Unlock()
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return context.DeadlineExceeded
		}
		if err := Sleep(ctx, d); err != nil {
			return err
		}
		waited += d
	}
}
