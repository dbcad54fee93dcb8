package commands

import (
	"context"
	"fmt"
)

// Calls in flight to one tenant are bounded (MaxCalls): a lookup waits for
// its tenants outside the bot's worker pool (issue #16), so this is what
// keeps a burst of questions from opening a connection each at once, and
// a hung tenant holds only its own slots.

// slot waits for one of the tenant's call slots and returns the
// semaphore to give it back to (<-sem). waited reports whether the call had
// to wait for it.
func (r *Runner) slot(ctx context.Context, tenant string) (sem chan struct{}, waited bool, err error) {
	r.slotMu.Lock()
	if r.slots == nil {
		r.slots = map[string]chan struct{}{}
	}
	sem = r.slots[tenant]
	if sem == nil {
		sem = make(chan struct{}, r.maxCalls())
		r.slots[tenant] = sem
	}
	r.slotMu.Unlock()
	select {
	case sem <- struct{}{}:
		return sem, false, nil
	default:
	}
	select {
	case sem <- struct{}{}:
		return sem, true, nil
	case <-ctx.Done():
		return nil, true, fmt.Errorf("waiting for one of the %d calls in flight to %s: %w", cap(sem), tenant, ctx.Err())
	}
}

func (r *Runner) maxCalls() int {
	if r.MaxCalls <= 0 {
		return 8
	}
	return r.MaxCalls
}
