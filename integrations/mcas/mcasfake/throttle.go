package mcasfake

import (
	"time"

	"github.com/soc/mcasbot/integrations/internal/fault"
)

func (r Request) at() time.Time { return r.At }

// overBudget reports whether the request just recorded is one too many
// (MCAS allows 30 a minute; Throttle sets the fake's limit); call under s.mu.
func (s *Server) overBudget() bool { return fault.Over(&s.Limit, s.requests, Request.at) }

// MostInWindow is the most requests received in any period.
func (s *Server) MostInWindow(per time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fault.Most(s.requests, Request.at, per)
}
