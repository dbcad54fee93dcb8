// Package source is what mcasbot knows of an alert, whichever API a
// tenant's alerts are read from: Defender for Cloud Apps' own REST API
// (integrations/mcas) or Microsoft Graph's security API
// (integrations/defender). The commands, the digest, filing and closing
// work on these types and on Tenant, and never ask which API is behind it.
package source

import "context"

// Tenant is one tenant's alerts and activities, read and closed through
// its API.
type Tenant interface {
	// Name is the tenant's short name shown to analysts ("contoso").
	Name() string
	// Source names the API behind the tenant: "mcas" or "graph".
	Source() string
	// Alerts lists alerts newest first (oldest first with q.Oldest),
	// following pages only as far as q.Limit needs.
	Alerts(ctx context.Context, q AlertQuery) (AlertList, error)
	// Alert reads one alert by id.
	Alert(ctx context.Context, id string) (Alert, error)
	// Activities lists what happened from an address or by a user.
	Activities(ctx context.Context, q ActivityQuery) (ActivityList, error)
	// Reasons are the reasons an analyst picks from to close an alert as
	// c (none: c is closed without a reason).
	Reasons(c Classification) []Reason
	// Close closes alerts; ids the API does not know, or finds closed
	// already, come back in CloseResult.NotFound.
	Close(ctx context.Context, req CloseRequest) (CloseResult, error)
}

// MCAS and Graph are the values of Tenant.Source.
const (
	MCAS  = "mcas"
	Graph = "graph"
)
