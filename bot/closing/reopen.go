package closing

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// Reopened alerts (issue #16): the store may record an alert as closed
// that its tenant shows open again, reopened in the portal. The tenant has
// the last word: the record is reopened, once across analysts and
// replicas (store.ReopenClose), its close kept in the history for the
// report, and the alert can be closed anew. A rule of the bot (the Jira
// sync) never closes a reopened alert again: people reopened it.

// Check is what Recheck found of an alert's close.
type Check struct {
	// Closed is the store's close, still standing: the tenant has the alert
	// closed, or could not be asked (with an error). nil when the store has
	// no close of the alert, or it is open again.
	Closed *store.CloseRecord
	// Reopened is the earlier close of an alert open again in its tenant;
	// Recorded says this call reopened it in the store, so its message is
	// to be redrawn.
	Reopened *store.CloseRecord
	Recorded bool
	// Alert is the alert as its tenant has it, when it was read.
	Alert *source.Alert
}

// Recheck is what Close… asks before opening its form: when the store
// records the alert as closed, the alert is read fresh from its tenant,
// and if it is open again its record is reopened. It reads the tenant
// only for an alert the store has closed.
func (s *Service) Recheck(ctx context.Context, tenant, alertID string) (Check, error) {
	log := httpx.LoggerFrom(ctx, s.logger()).With("tenant", tenant, "alert", alertID)
	t, ok := s.Tenants.Tenant(tenant)
	if !ok {
		return Check{}, fmt.Errorf("tenant %q is not configured here", tenant)
	}
	rec, ok, err := s.Store.AlertClose(ctx, tenant, alertID)
	switch {
	case err != nil:
		log.Error("could not read the alert's close: store unreachable", "error", err)
		return Check{}, ErrStoreDown
	case ok && rec.State == store.CloseReopened:
		return Check{Reopened: &rec}, nil
	case !ok || rec.State != store.CloseDone:
		return Check{}, nil
	}
	return s.recheck(ctx, log, t, rec)
}

// recheck reads an alert the store has closed (rec) and reopens its record
// if the tenant shows it open.
func (s *Service) recheck(ctx context.Context, log *slog.Logger, t source.Tenant, rec store.CloseRecord) (Check, error) {
	a, err := t.Alert(ctx, rec.AlertID)
	switch {
	case httpx.KindOf(err) == httpx.KindNotFound:
		return Check{Closed: &rec}, nil // gone from the tenant: the close stands
	case err != nil:
		return Check{Closed: &rec}, fmt.Errorf("the bot has alert %s closed, but could not read it from %s to see whether it was reopened there: %s; try again",
			rec.AlertID, rec.Tenant, httpx.Describe(err))
	case !a.Open():
		return Check{Closed: &rec, Alert: &a}, nil
	case s.now().Sub(rec.ClosedAt) < s.reopenAfter():
		log.Info("the alert reads as open just after its close: taken for a read that lags the close, not a reopen", "closed_at", rec.ClosedAt)
		return Check{Closed: &rec, Alert: &a}, nil
	}
	won, err := s.Store.ReopenClose(ctx, rec)
	if err != nil {
		log.Error("could not record the alert as reopened: store unreachable", "error", err)
		return Check{Closed: &rec, Alert: &a}, ErrStoreDown
	}
	if won {
		log.Info("audit: alert reopened in Defender", "earlier_closed_by", rec.By, "earlier_closed_by_name", rec.ByName,
			"earlier_classification", rec.Classification, "earlier_reason", rec.Reason, "earlier_closed_at", rec.ClosedAt,
			"earlier_elsewhere", rec.Elsewhere, "earlier_handled_by", rec.HandledBy, "closes_before", rec.Generation+1, "outcome", "reopened")
	}
	return Check{Reopened: &rec, Recorded: won, Alert: &a}, nil
}

func (s *Service) reopenAfter() time.Duration {
	if s.ReopenAfter > 0 {
		return s.ReopenAfter
	}
	return time.Minute
}
