// Package mcasfake is an in-process MCAS tenant speaking the real wire format,
// for tests, benchmarks and `bot demo`. It implements the alert and activity
// list endpoints with the filters mcasbot uses, one alert by id, the three
// close endpoints (alertsNotFound; 403 for a read-only token or an Entra ID
// app without Investigation.manage), token auth (and Entra ID bearer tokens
// for its own tenant: TrustEntra), paging, and injectable failures (401,
// 429 with or without Retry-After, 5xx, slow or malformed answers).
package mcasfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/internal/fault"
)

// Entity is an alert entity on the wire.
type Entity struct {
	Type       string `json:"type"`
	ID         any    `json:"id"`
	Label      string `json:"label,omitempty"`
	PA         string `json:"pa,omitempty"`
	EM         string `json:"em,omitempty"`
	PolicyType string `json:"policyType,omitempty"`
}

// Alert is an alert on the wire.
type Alert struct {
	ID                    string   `json:"_id"`
	Timestamp             int64    `json:"timestamp"`
	Title                 string   `json:"title"`
	Description           string   `json:"description"`
	SeverityValue         int      `json:"severityValue"`
	StatusValue           int      `json:"statusValue"`
	ResolutionStatusValue int      `json:"resolutionStatusValue"`
	URL                   string   `json:"URL"`
	ThreatScore           int      `json:"threatScore"`
	Entities              []Entity `json:"entities"`
	Evidence              []any    `json:"evidence,omitempty"`
	HandledByUser         string   `json:"handledByUser,omitempty"`
	ResolveTime           string   `json:"resolveTime,omitempty"`
	Stories               []any    `json:"stories,omitempty"`
	Intent                []any    `json:"intent,omitempty"`
}

// Activity is an activity on the wire.
type Activity struct {
	ID          string `json:"_id"`
	Timestamp   int64  `json:"timestamp"`
	AppName     string `json:"appName"`
	AppID       int    `json:"appId"`
	Description string `json:"description"`
	Severity    string `json:"severity"`
	Device      struct {
		ClientIP string `json:"clientIP"`
	} `json:"device"`
	Location struct {
		CountryCode string `json:"countryCode"`
		City        string `json:"city"`
	} `json:"location"`
	User struct {
		UserName string `json:"userName"`
	} `json:"user"`
	RawDataJSON map[string]any `json:"rawDataJson,omitempty"`
}

// Fault is an injected answer; its default body is a {"detail":…} JSON.
type Fault = fault.Fault

// Server is one fake tenant.
type Server struct {
	// URL is the tenant's base URL: its own server's, or its path on a
	// Fleet's.
	URL   string
	Token string
	// Actor is who the fake names as handledByUser when the API closes an
	// alert (MCAS names the token's owner).
	Actor string
	// Now, when set, is the tenant's clock (resolveTime of a close, request
	// times), for sandboxes and tests pinned to a date; default the wall clock.
	Now func() time.Time

	faults      fault.Queue
	fault.Limit // Throttle, Throttled: 429 beyond a rate, as MCAS's 30 a minute

	mu         sync.Mutex
	tenantID   string            // TrustEntra
	authority  *entrafake.Server // TrustEntra
	alerts     []Alert
	activities []Activity
	requests   []Request
	readOnly   map[string]bool
	closes     []Close

	hs      *httptest.Server // nil in a Fleet
	client  *http.Client
	handler http.Handler
}

// Request is what the fake received, for assertions.
type Request struct {
	Method, Path string
	Auth         string
	Body         ListBody
	At           time.Time
	Raw          json.RawMessage // the POST body as sent
}

// ListBody is the list endpoints' request body.
type ListBody struct {
	Filters       map[string]map[string]json.RawMessage `json:"filters"`
	Skip          int                                   `json:"skip"`
	Limit         int                                   `json:"limit"`
	SortField     string                                `json:"sortField"`
	SortDirection string                                `json:"sortDirection"`
}

// New starts a fake tenant that accepts token, on a server of its own.
func New(token string) *Server {
	s := newTenant(token)
	s.hs = httptest.NewServer(s.handler)
	s.URL, s.client = s.hs.URL, s.hs.Client()
	return s
}

// Client is an HTTP client for the tenant's server.
func (s *Server) Client() *http.Client { return s.client }

// Close shuts the tenant's own server down (a Fleet's tenants share the
// fleet's: close the fleet).
func (s *Server) Close() {
	if s.hs != nil {
		s.hs.Close()
	}
}

// newTenant is a tenant's handler, not yet served.
func newTenant(token string) *Server {
	s := &Server{Token: token, Actor: "api-token-owner@soc.example"}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/alerts/", s.listAlerts)
	mux.HandleFunc("GET /api/v1/alerts/{id}/", s.getAlert)
	mux.HandleFunc("POST /api/v1/activities/", s.listActivities)
	for _, kind := range []string{"benign", "false_positive", "true_positive"} {
		mux.HandleFunc("POST /api/v1/alerts/close_"+kind+"/", s.closeAlerts(kind))
	}
	s.handler = s.guard(mux)
	return s
}

// AddAlerts adds alerts to the tenant.
func (s *Server) AddAlerts(a ...Alert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alerts = append(s.alerts, a...)
}

// SetAlerts replaces every alert.
func (s *Server) SetAlerts(a []Alert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alerts = slices.Clone(a)
}

// AddActivities adds activities to the tenant.
func (s *Server) AddActivities(a ...Activity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.activities = append(s.activities, a...)
}

// Fail queues faults answered, in order, instead of the next requests.
func (s *Server) Fail(f ...Fault) { s.faults.Add(f...) }

// SetLatency delays every answer.
func (s *Server) SetLatency(d time.Duration) { s.faults.SetLatency(d) }

// Requests returns what was received so far.
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

func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body ListBody
		var raw []byte
		if r.Method == http.MethodPost {
			raw, _ = io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err := json.Unmarshal(raw, &body); err != nil {
				writeDetail(w, http.StatusBadRequest, "Invalid JSON body")
				return
			}
		}
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Body: body, Raw: raw, At: s.now()})
		readOnly := s.readOnly[strings.TrimPrefix(r.Header.Get("Authorization"), "Token ")]
		over := s.overBudget()
		s.mu.Unlock()
		if over {
			w.Header().Set("Retry-After", "1")
			writeDetail(w, http.StatusTooManyRequests, "Request was throttled.")
			return
		}
		if s.faults.Apply(w, r, s.faults.Take(r.URL.Path), detailBody) {
			return
		}
		if status, detail := s.authorize(r); status != 0 && !readOnly {
			writeDetail(w, status, detail)
			return
		}
		if strings.Contains(r.URL.Path, "/close_") {
			if readOnly {
				writeDetail(w, http.StatusForbidden, "You do not have permission to perform this action.")
				return
			}
			if !s.canManage(r) {
				writeDetail(w, http.StatusForbidden, "The application lacks the Investigation.manage permission.")
				return
			}
		}
		r = r.WithContext(withRaw(r.Context(), raw))
		// Re-encode the parsed body for the handlers.
		r = r.WithContext(withBody(r.Context(), body))
		next.ServeHTTP(w, r)
	})
}

func detailBody(status int) string {
	b, _ := json.Marshal(map[string]string{"detail": http.StatusText(status)})
	return string(b)
}

func writeDetail(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"detail": detail})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	body := bodyFrom(r.Context())
	if msg := checkPaging(body); msg != "" {
		writeDetail(w, http.StatusBadRequest, msg)
		return
	}
	s.mu.Lock()
	all := slices.Clone(s.alerts)
	s.mu.Unlock()
	var match []Alert
	for _, a := range all {
		ok, err := alertMatches(a, body.Filters)
		if err != nil {
			writeDetail(w, http.StatusBadRequest, err.Error())
			return
		}
		if ok {
			match = append(match, a)
		}
	}
	slices.SortStableFunc(match, func(a, b Alert) int {
		if body.SortDirection == "asc" {
			return cmpInt(a.Timestamp, b.Timestamp)
		}
		return cmpInt(b.Timestamp, a.Timestamp)
	})
	page, hasNext := window(match, body.Skip, body.Limit)
	writeJSON(w, map[string]any{"data": page, "hasNext": hasNext, "total": len(match), "max": 5000, "moreThanTotal": false})
}

func (s *Server) getAlert(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.alerts {
		if a.ID == id {
			writeJSON(w, a)
			return
		}
	}
	writeDetail(w, http.StatusNotFound, "Not found.")
}

func (s *Server) listActivities(w http.ResponseWriter, r *http.Request) {
	body := bodyFrom(r.Context())
	if msg := checkPaging(body); msg != "" {
		writeDetail(w, http.StatusBadRequest, msg)
		return
	}
	s.mu.Lock()
	all := slices.Clone(s.activities)
	s.mu.Unlock()
	var match []Activity
	for _, a := range all {
		ok, err := activityMatches(a, body.Filters)
		if err != nil {
			writeDetail(w, http.StatusBadRequest, err.Error())
			return
		}
		if ok {
			match = append(match, a)
		}
	}
	slices.SortStableFunc(match, func(a, b Activity) int { return cmpInt(b.Timestamp, a.Timestamp) })
	page, hasNext := window(match, body.Skip, body.Limit)
	writeJSON(w, map[string]any{"data": page, "hasNext": hasNext, "total": len(match)})
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func checkPaging(b ListBody) string {
	switch {
	case b.Limit < 0 || b.Limit > 100:
		return fmt.Sprintf("limit must be between 0 and 100, got %d", b.Limit)
	case b.Skip < 0:
		return "skip must not be negative"
	case b.SortField != "" && b.SortField != "date":
		return "unsupported sortField " + b.SortField
	case b.SortDirection != "" && b.SortDirection != "asc" && b.SortDirection != "desc":
		return "sortDirection must be asc or desc"
	}
	return ""
}

func window[T any](all []T, skip, limit int) ([]T, bool) {
	if limit == 0 {
		limit = 100
	}
	if skip >= len(all) {
		return []T{}, false
	}
	end := min(len(all), skip+limit)
	return all[skip:end], end < len(all)
}

func alertMatches(a Alert, filters map[string]map[string]json.RawMessage) (bool, error) {
	for field, ops := range filters {
		for op, raw := range ops {
			var ok bool
			var err error
			switch field {
			case "severity":
				ok, err = intIn(op, raw, a.SeverityValue)
			case "resolutionStatus":
				ok, err = intIn(op, raw, a.ResolutionStatusValue)
			case "alertOpen":
				var want bool
				err = json.Unmarshal(raw, &want)
				ok = (a.ResolutionStatusValue == 0) == want
			case "date":
				ok, err = dateMatches(op, raw, a.Timestamp)
			case "id":
				ok, err = stringIn(op, raw, []string{a.ID})
			case "entity.user":
				ok, err = stringIn(op, raw, entityValues(a, "user", "account"))
			case "entity.ip":
				ok, err = stringIn(op, raw, entityValues(a, "ip"))
			default:
				return false, fmt.Errorf("unknown filter %q", field)
			}
			if err != nil || !ok {
				return false, err
			}
		}
	}
	return true, nil
}

func activityMatches(a Activity, filters map[string]map[string]json.RawMessage) (bool, error) {
	for field, ops := range filters {
		for op, raw := range ops {
			var ok bool
			var err error
			switch field {
			case "ip.address":
				ok, err = stringIn(op, raw, []string{a.Device.ClientIP})
			case "user.username":
				ok, err = stringIn(op, raw, []string{a.User.UserName})
			case "date":
				ok, err = dateMatches(op, raw, a.Timestamp)
			default:
				return false, fmt.Errorf("unknown filter %q", field)
			}
			if err != nil || !ok {
				return false, err
			}
		}
	}
	return true, nil
}

func entityValues(a Alert, types ...string) []string {
	var out []string
	for _, e := range a.Entities {
		if slices.Contains(types, e.Type) {
			out = append(out, fmt.Sprint(e.ID), e.PA, e.EM, e.Label)
		}
	}
	return out
}

// list reads an eq value: a list or a scalar. An empty list is an error,
// as it is upstream.
func list[T any](raw json.RawMessage) ([]T, error) {
	var many []T
	if err := json.Unmarshal(raw, &many); err == nil {
		if len(many) == 0 {
			return nil, fmt.Errorf("eq must not be empty")
		}
		return many, nil
	}
	var one T
	if err := json.Unmarshal(raw, &one); err != nil {
		return nil, fmt.Errorf("bad filter value %s", raw)
	}
	return []T{one}, nil
}

func intIn(op string, raw json.RawMessage, v int) (bool, error) {
	vals, err := list[int](raw)
	if err != nil {
		return false, err
	}
	switch op {
	case "eq":
		return slices.Contains(vals, v), nil
	case "neq":
		return !slices.Contains(vals, v), nil
	}
	return false, fmt.Errorf("unsupported operator %q", op)
}

func stringIn(op string, raw json.RawMessage, have []string) (bool, error) {
	vals, err := list[string](raw)
	if err != nil {
		return false, err
	}
	if op != "eq" {
		return false, fmt.Errorf("unsupported operator %q", op)
	}
	for _, v := range vals {
		for _, h := range have {
			if h != "" && strings.EqualFold(h, v) {
				return true, nil
			}
		}
	}
	return false, nil
}

func dateMatches(op string, raw json.RawMessage, ts int64) (bool, error) {
	switch op {
	case "gte", "lte", "gt", "lt":
		var ms int64
		if err := json.Unmarshal(raw, &ms); err != nil {
			return false, fmt.Errorf("date %s wants epoch milliseconds", op)
		}
		if ms < 1e11 {
			return false, fmt.Errorf("date %s looks like seconds, not milliseconds", op)
		}
		switch op {
		case "gte":
			return ts >= ms, nil
		case "lte":
			return ts <= ms, nil
		case "gt":
			return ts > ms, nil
		default:
			return ts < ms, nil
		}
	case "range":
		var rs []struct{ Start, End int64 }
		if err := json.Unmarshal(raw, &rs); err != nil || len(rs) == 0 {
			return false, fmt.Errorf("date range wants [{start,end}]")
		}
		for _, rg := range rs {
			if ts >= rg.Start && ts <= rg.End {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("unsupported date operator %q", op)
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}
