package commands

import (
	"context"
	"fmt"
)

// One question's fan-out is bounded (FANOUT_CONCURRENCY, issue #18): at
// 500 tenants a question asks FanOut of them at a time rather than opening
// 500 connections at once. Each tenant call then still takes one of its
// tenant's call slots (MaxCalls), which bound a tenant across questions.
// The fan-out slot is taken first and is the question's own, so the two
// cannot wait on each other.

// DefaultFanOut is FANOUT_CONCURRENCY's default.
const DefaultFanOut = 128

func (r *Runner) fanOut() int {
	if r.FanOut <= 0 {
		return DefaultFanOut
	}
	return r.FanOut
}

// fanOutSlot waits for one of a question's fan-out slots (gate) and
// returns the func that gives it back.
func (r *Runner) fanOutSlot(ctx context.Context, gate chan struct{}) (func(), error) {
	release := func() { <-gate }
	select {
	case gate <- struct{}{}:
		return release, nil
	default:
	}
	if r.OnFanOutWait != nil {
		r.OnFanOutWait()
	}
	select {
	case gate <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, &notAsked{slots: cap(gate), err: ctx.Err()}
	}
}

// notAsked is a tenant a question never got to ask: its other calls held
// every fan-out slot until its time ran out. It says nothing about the
// tenant, so no breaker hears of it.
type notAsked struct {
	slots int
	err   error
}

func (e *notAsked) Error() string {
	return fmt.Sprintf("not asked: the question's other %d calls in flight (FANOUT_CONCURRENCY) left no room before its time ran out", e.slots)
}

func (e *notAsked) Unwrap() error { return e.err }
