package mcasfake

import (
	"net/http"
	"slices"
	"strings"

	"github.com/soc/mcasbot/integrations/entra/entrafake"
)

// Resource is Defender for Cloud Apps' application ID in Entra ID: the
// audience of its tokens.
const Resource = "05a65629-4c1b-48c1-a78b-804c4abdd4af"

// TrustEntra makes the tenant accept bearer tokens from authority, but
// only those issued in its own directory (tenantID) for Defender for Cloud
// Apps; a token of another tenant is a 401. Reading alerts needs the
// Investigation.Read (or .manage) permission, else 403. The legacy Token
// keeps working unless it is "".
func (s *Server) TrustEntra(tenantID string, authority *entrafake.Server) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tenantID, s.authority = strings.ToLower(tenantID), authority
}

// SetToken changes the legacy token the tenant accepts ("" = none) while
// it serves.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Token = token
}

// authorize checks the Authorization header: 0 when it may pass.
func (s *Server) authorize(r *http.Request) (int, string) {
	s.mu.Lock()
	legacy, tenantID, authority := s.Token, s.tenantID, s.authority
	s.mu.Unlock()
	h := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Token "); ok && legacy != "" && tok == legacy {
		return 0, ""
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || authority == nil {
		return http.StatusUnauthorized, "Invalid token"
	}
	c, err := authority.Check(tok)
	switch {
	case err != nil:
		return http.StatusUnauthorized, "Invalid token: " + err.Error()
	case c.TenantID != tenantID:
		return http.StatusUnauthorized, "Invalid token: issued for another tenant"
	case c.Audience != Resource:
		return http.StatusUnauthorized, "Invalid token: wrong audience " + c.Audience
	case !slices.Contains(c.Roles, "Investigation.Read") && !slices.Contains(c.Roles, "Investigation.manage"):
		return http.StatusForbidden, "The application lacks the Investigation.Read permission."
	}
	return 0, ""
}
