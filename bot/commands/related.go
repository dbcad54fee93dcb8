package commands

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/soc/mcasbot/correlation"
	"github.com/soc/mcasbot/source"
)

// Relater says what other tenants' alerts share with alerts or with an
// address (*correlation.Finder), from what the store remembers: no MCAS
// calls.
type Relater interface {
	Alerts(ctx context.Context, as []source.Alert) ([]correlation.Match, error)
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

// relateWait bounds the store lookup; the command's own time may be spent.
const relateWait = 3 * time.Second

// relate looks up what other tenants share with a complete answer.
func (r *Runner) relate(ctx context.Context, res Result) *Related {
	if r.Related == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), relateWait)
	defer cancel()
	switch res := res.(type) {
	case AlertsResult:
		if len(res.Alerts) == 0 {
			return nil
		}
		ms, err := r.Related.Alerts(ctx, res.Alerts)
		return r.related(ms, err)
	case IPResult:
		ms, err := r.Related.IP(ctx, res.Addr)
		return r.related(ms, err)
	}
	return nil
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
