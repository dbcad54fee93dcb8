// Package defenderfake is an in-process Microsoft Graph security API
// (Defender XDR) speaking the real wire format, for tests, benchmarks and
// `bot demo`: alerts_v2 with OData paging (@odata.nextLink) and the $filter
// forms mcasbot sends (others are a 400, as Graph answers them), one alert,
// its PATCH and its comments (400 "Empty Payload" for an array body, as
// the real one), and runHuntingQuery over CloudAppEvents with a schema and
// results. Evidence comes in several @odata.types, unknown ones included,
// and enums may be null.
//
// Like Graph, one server answers every directory: the bearer token (checked
// against entrafake) says whose alerts a request reads, and its roles what
// it may do (SecurityAlert.Read.All or .ReadWrite.All to read,
// .ReadWrite.All to update and comment, ThreatHunting.Read.All to hunt).
// Every other path goes to the rest handler, so one server can be all of
// GRAPH_URL: give it graphfake's handler for /v1.0/users/…. Faults (401,
// 403, 429 with Retry-After, 5xx, slow answers) can be injected.
package defenderfake

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/graph/graphfake"
	"github.com/soc/mcasbot/integrations/internal/fault"
)

// Audience is Graph's resource, the audience of its tokens.
const Audience = "https://graph.microsoft.com"

// The application permissions the fake checks.
const (
	RoleRead      = "SecurityAlert.Read.All"
	RoleReadWrite = "SecurityAlert.ReadWrite.All"
	RoleHunting   = "ThreatHunting.Read.All"
)

// Fault is an injected answer; its default body is a Graph error.
type Fault = fault.Fault

// Request is what the fake received, for assertions.
type Request struct {
	Method, Path string
	Query        string // raw, as sent
	Filter       string // $filter, decoded
	Top          string
	Auth         string
	Prefer       string
	Directory    string // the token's tenant, when it had one
	Body         json.RawMessage
	At           time.Time
}

// Server is Graph's security API for every directory.
type Server struct {
	*httptest.Server
	// Now, when set, is the fake's clock (resolvedDateTime, hunting
	// windows, throttling); default the wall clock.
	Now func() time.Time
	// Actor is who the fake names as a comment's author.
	Actor string

	faults      fault.Queue
	fault.Limit // Throttle, Throttled: 429 beyond a rate
	authority   *entrafake.Server
	rest        http.Handler

	mu       sync.Mutex
	dirs     map[string]*Tenant
	requests []Request
	pageSize int
	upper    bool
}

// New starts a fake Graph whose tokens authority issues; paths other than
// /v1.0/security/… go to rest (nil: Graph's 400 for an unknown segment).
func New(authority *entrafake.Server, rest http.Handler) *Server {
	s := &Server{authority: authority, rest: rest, dirs: map[string]*Tenant{}, Actor: "mcasbot (application)"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1.0/security/alerts_v2", s.guard(RoleRead, s.list))
	mux.HandleFunc("GET /v1.0/security/alerts_v2/{id}", s.guard(RoleRead, s.get))
	mux.HandleFunc("PATCH /v1.0/security/alerts_v2/{id}", s.guard(RoleReadWrite, s.patch))
	mux.HandleFunc("POST /v1.0/security/alerts_v2/{id}/comments", s.guard(RoleReadWrite, s.comment))
	mux.HandleFunc("POST /v1.0/security/runHuntingQuery", s.guard(RoleHunting, s.hunt))
	mux.HandleFunc("/v1.0/security/", func(w http.ResponseWriter, r *http.Request) {
		s.record(r, nil, "")
		graphfake.WriteError(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+strings.TrimPrefix(r.URL.Path, "/v1.0/")+"'.")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if s.rest != nil {
			s.rest.ServeHTTP(w, r)
			return
		}
		graphfake.WriteError(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+strings.TrimPrefix(r.URL.Path, "/v1.0/")+"'.")
	})
	s.Server = httptest.NewServer(mux)
	return s
}

// Tenant is one directory's alerts and activities.
func (s *Server) Tenant(directory string) *Tenant {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tenant(directory)
}

// tenant is Tenant under s.mu.
func (s *Server) tenant(directory string) *Tenant {
	id := strings.ToLower(directory)
	t, ok := s.dirs[id]
	if !ok {
		t = &Tenant{s: s, id: id, comments: map[string][]comment{}}
		s.dirs[id] = t
	}
	return t
}

// Fail queues faults answered, in order, instead of the next requests
// (Path "/v1.0/security/runHuntingQuery" to hit hunting only).
func (s *Server) Fail(f ...Fault) { s.faults.Add(f...) }

// SetLatency delays every answer.
func (s *Server) SetLatency(d time.Duration) { s.faults.SetLatency(d) }

// SetPageSize serves pages smaller than $top asks (Graph may), so clients
// must follow @odata.nextLink.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// CapitalizedSchema answers hunting with "Name"/"Type" in its schema, as
// one of Microsoft's examples shows it.
func (s *Server) CapitalizedSchema(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upper = on
}

// Requests are what was received so far (security paths only).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// ResetRequests forgets recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Server) record(r *http.Request, body []byte, dir string) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Filter: q.Get("$filter"), Top: q.Get("$top"),
		Auth: r.Header.Get("Authorization"), Prefer: r.Header.Get("Prefer"), Directory: dir, Body: body, At: s.now()})
}

type handler func(w http.ResponseWriter, r *http.Request, t *Tenant, body []byte)

// guard records the request, applies faults and throttling, and checks
// the token: 401 without a valid one for Graph, 403 without role.
func (s *Server) guard(role string, next handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		claims, status, code, msg := s.authorize(r)
		s.record(r, body, claims.TenantID)
		s.mu.Lock()
		over := s.overBudget()
		s.mu.Unlock()
		if over {
			w.Header().Set("Retry-After", "1")
			graphfake.WriteError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests.")
			return
		}
		if s.faults.Apply(w, r, s.faults.Take(r.URL.Path), defaultBody) {
			return
		}
		if status != 0 {
			graphfake.WriteError(w, status, code, msg)
			return
		}
		if !allowed(claims.Roles, role) {
			need := []string{RoleRead, RoleReadWrite}
			switch role {
			case RoleReadWrite:
				need = []string{RoleReadWrite}
			case RoleHunting:
				need = []string{RoleHunting}
			}
			graphfake.WriteError(w, http.StatusForbidden, "Forbidden", "Missing role permissions on the request. API requires one of '"+
				strings.Join(need, ", ")+"'. Roles on the request '"+strings.Join(claims.Roles, ", ")+"'.")
			return
		}
		s.mu.Lock()
		t := s.tenant(claims.TenantID)
		s.mu.Unlock()
		next(w, r, t, body)
	}
}

func allowed(roles []string, role string) bool {
	switch role {
	case RoleRead:
		return slices.Contains(roles, RoleRead) || slices.Contains(roles, RoleReadWrite)
	default:
		return slices.Contains(roles, role)
	}
}

// authorize checks the bearer token as Graph does.
func (s *Server) authorize(r *http.Request) (entrafake.Claims, int, string, string) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return entrafake.Claims{}, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty."
	}
	if s.authority == nil {
		return entrafake.Claims{}, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure."
	}
	c, err := s.authority.Check(tok)
	switch {
	case err != nil:
		return entrafake.Claims{}, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure: " + err.Error()
	case c.Audience != Audience && c.Audience != "00000003-0000-0000-c000-000000000000":
		return c, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience."
	}
	return c, 0, "", ""
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func defaultBody(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return graphfake.ErrorBody("TooManyRequests", "Too many requests.")
	case http.StatusServiceUnavailable:
		return graphfake.ErrorBody("ServiceUnavailable", "The service is temporarily unavailable. Try again later.")
	case http.StatusUnauthorized:
		return graphfake.ErrorBody("InvalidAuthenticationToken", "Access token validation failure.")
	case http.StatusForbidden:
		return graphfake.ErrorBody("Forbidden", "Missing role permissions on the request.")
	}
	return graphfake.ErrorBody("UnknownError", http.StatusText(status))
}

// overBudget reports whether the request just recorded is one too many
// (Throttle sets the limit; Retry-After: 1); call under s.mu.
func (s *Server) overBudget() bool {
	return fault.Over(&s.Limit, s.requests, func(r Request) time.Time { return r.At })
}
