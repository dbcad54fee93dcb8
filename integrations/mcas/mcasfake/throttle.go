package mcasfake

import (
	"slices"
	"time"
)

// throttle is MCAS's per-tenant request limit (30 a minute).
type throttle struct {
	n         int
	per       time.Duration
	throttled int
}

// Throttle makes the tenant answer 429 to requests beyond n in any period,
// as MCAS does beyond 30 a minute; n <= 0 turns it off.
func (s *Server) Throttle(n int, per time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = throttle{n: n, per: per}
}

// Throttled is how many requests Throttle refused.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttle.throttled
}

// overBudget reports whether the request just recorded is one too many;
// call under s.mu.
func (s *Server) overBudget() bool {
	t := &s.throttle
	if t.n <= 0 {
		return false
	}
	last := s.requests[len(s.requests)-1].At
	n := 0
	for _, r := range s.requests {
		if last.Sub(r.At) < t.per {
			n++
		}
	}
	if n > t.n {
		t.throttled++
		return true
	}
	return false
}

// MostInWindow is the most requests received in any period.
func (s *Server) MostInWindow(per time.Duration) int {
	s.mu.Lock()
	at := make([]time.Time, len(s.requests))
	for i, r := range s.requests {
		at[i] = r.At
	}
	s.mu.Unlock()
	slices.SortFunc(at, time.Time.Compare)
	most := 0
	for i := range at {
		j := i
		for j < len(at) && at[j].Sub(at[i]) < per {
			j++
		}
		most = max(most, j-i)
	}
	return most
}
