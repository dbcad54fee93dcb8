package fault

import (
	"slices"
	"sync"
	"time"
)

// Limit is a request limit per period, answered with 429, as MCAS (30 a
// minute per tenant) and Graph enforce. Embedded in a fake server, its
// Throttle and Throttled are the server's.
type Limit struct {
	mu      sync.Mutex
	n       int
	per     time.Duration
	refused int
}

// Throttle refuses requests beyond n in any period; n <= 0 turns it off.
func (l *Limit) Throttle(n int, per time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n, l.per, l.refused = n, per, 0
}

// Throttled is how many requests the limit refused.
func (l *Limit) Throttled() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refused
}

// Over reports whether the last of reqs, every request received so far in
// order, is one too many, and counts it refused.
func Over[R any](l *Limit, reqs []R, at func(R) time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n <= 0 || len(reqs) == 0 {
		return false
	}
	last := at(reqs[len(reqs)-1])
	n := 0
	for _, r := range reqs {
		if last.Sub(at(r)) < l.per {
			n++
		}
	}
	if n > l.n {
		l.refused++
		return true
	}
	return false
}

// Most is the most of reqs received in any period.
func Most[R any](reqs []R, at func(R) time.Time, per time.Duration) int {
	times := make([]time.Time, len(reqs))
	for i, r := range reqs {
		times[i] = at(r)
	}
	slices.SortFunc(times, time.Time.Compare)
	most := 0
	for i := range times {
		j := i
		for j < len(times) && times[j].Sub(times[i]) < per {
			j++
		}
		most = max(most, j-i)
	}
	return most
}
