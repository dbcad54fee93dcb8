package commands

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/soc/mcasbot/correlation"
	"github.com/soc/mcasbot/integrations/mcas"
)

// Relater says what other tenants' alerts share with alerts or with an
// address (*correlation.Finder), from what the store remembers: no MCAS
// calls.
type Relater interface {
	Alerts(ctx context.Context, as []mcas.Alert) ([]correlation.Match, error)
	IP(ctx context.Context, addr netip.Addr) ([]correlation.Match, error)
	Period() time.Duration
}

// Related is what other tenants' alerts share with a reply's alerts, or
// which tenants' alerts carry a looked-up address (issue #11).
type Related struct {
	Matches []correlation.Match
	Window  time.Duration // how far back alerts count
	Note    string        // why nothing could be looked up
}

// relate adds what other tenants share to a result.
func (r *Runner) relate(ctx context.Context, res Result) Result {
	if r.Related == nil {
		return res
	}
	switch res := res.(type) {
	case AlertsResult:
		if len(res.Alerts) > 0 {
			ms, err := r.Related.Alerts(ctx, res.Alerts)
			res.Related = r.related(ms, err)
		}
		return res
	case IPResult:
		ms, err := r.Related.IP(ctx, res.Addr)
		res.Related = r.related(ms, err)
		return res
	}
	return res
}

func (r *Runner) related(ms []correlation.Match, err error) *Related {
	rel := &Related{Matches: ms, Window: r.Related.Period()}
	if err != nil {
		rel.Matches = nil
		rel.Note = "related alerts in other tenants are unavailable: the state store did not answer"
		if errors.Is(err, context.DeadlineExceeded) {
			rel.Note = "related alerts in other tenants are unavailable: the lookup ran out of time"
		}
	}
	return rel
}
