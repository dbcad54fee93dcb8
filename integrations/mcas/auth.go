package mcas

import "context"

// Scope is Defender for Cloud Apps' resource in Entra ID: an application
// asks for tokens with this scope.
const Scope = "05a65629-4c1b-48c1-a78b-804c4abdd4af/.default"

// Auth gives each request's Authorization header: a legacy API token, or
// a bearer token from Entra ID.
type Auth interface {
	Authorization(ctx context.Context) (string, error)
}

// TokenSource hands out Entra ID tokens per scope (*entra.Credential).
type TokenSource interface {
	Token(ctx context.Context, scope string) (string, error)
}

// Bearer signs requests with the tenant's Entra ID application. Its
// failures (an *httpx.Error saying why, in words) become the request's.
func Bearer(src TokenSource) Auth { return bearer{src} }

type bearer struct{ src TokenSource }

func (b bearer) Authorization(ctx context.Context) (string, error) {
	tok, err := b.src.Token(ctx, Scope)
	if err != nil {
		return "", err
	}
	return "Bearer " + tok, nil
}

// legacyToken is MCAS's own API token.
type legacyToken string

func (t legacyToken) Authorization(context.Context) (string, error) { return "Token " + string(t), nil }
