// Package graphfake is an in-process Microsoft Graph serving the two calls
// mcasbot makes, in the real wire format: a user's transitive group
// memberships (by UPN or id, OData paging with @odata.nextLink), and the
// search for the users with a mail address (GET /users?$filter=mail eq '…'
// or otherMails/any(x:x eq '…')). Bearer tokens are checked against
// entrafake (its own tenant, Graph's audience, GroupMember.Read.All for
// memberships, User.Read.All for the search), and Graph's errors are
// reproduced (400 BadRequest and Request_UnsupportedQuery, 401
// InvalidAuthenticationToken, 403 Authorization_RequestDenied, 404
// Request_ResourceNotFound, 429 with Retry-After), plus injectable faults.
package graphfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/internal/fault"
)

// Audience is Graph's resource, the audience of its tokens.
const Audience = "https://graph.microsoft.com"

// Fault is an injected answer; its default body is a Graph error.
type Fault = fault.Fault

// Request is what the fake received.
type Request struct {
	Path, Query      string
	User             string // the {user} of a memberships request
	Auth             string
	ConsistencyLevel string // the header, sent for advanced queries
}

// The application permissions each call accepts (least privileged first).
var (
	memberRoles = []string{"GroupMember.Read.All", "Group.Read.All", "Directory.Read.All"}
	searchRoles = []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)

type user struct {
	id, upn    string
	mail       string
	otherMails []string
	groups     []string
}

// Server is one tenant's Graph.
type Server struct {
	*httptest.Server

	faults fault.Queue

	mu        sync.Mutex
	tenantID  string
	authority *entrafake.Server
	users     map[string]*user // by UPN, lower case
	requests  []Request
	pageSize  int
}

// New starts a fake Graph for directory tenantID whose tokens authority
// issues.
func New(tenantID string, authority *entrafake.Server) *Server {
	s := &Server{tenantID: strings.ToLower(tenantID), authority: authority, users: map[string]*user{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1.0/users/{user}/transitiveMemberOf/microsoft.graph.group", s.memberOf)
	mux.HandleFunc("GET /v1.0/users", s.search)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+r.URL.Path+"'.")
	})
	s.Server = httptest.NewServer(mux)
	return s
}

// SetUser makes the user with this UPN exist, a member (directly or not)
// of groups.
func (s *Server) SetUser(upn string, groups ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user(upn).groups = slices.Clone(groups)
}

// SetMail gives the user with this UPN (made to exist if need be) a
// primary mail address and other mail addresses (aliases).
func (s *Server) SetMail(upn, mail string, otherMails ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.user(upn)
	u.mail, u.otherMails = mail, slices.Clone(otherMails)
}

// UserID is the object id of the user with this UPN.
func UserID(upn string) string {
	h := fnv(strings.ToLower(upn))
	return fmt.Sprintf("%08x-1111-4000-8000-%012x", h, h)
}

func (s *Server) user(upn string) *user {
	u, ok := s.users[strings.ToLower(upn)]
	if !ok {
		u = &user{id: UserID(upn), upn: upn}
		s.users[strings.ToLower(upn)] = u
	}
	return u
}

// find is the user with this UPN or object id; call with s.mu held.
func (s *Server) find(key string) *user {
	key = strings.ToLower(key)
	if u, ok := s.users[key]; ok {
		return u
	}
	for _, u := range s.users {
		if u.id == key {
			return u
		}
	}
	return nil
}

// SetPageSize caps every page below what $top asks (Graph may), so
// clients must follow @odata.nextLink.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// Fail queues faults for the next requests.
func (s *Server) Fail(f ...Fault) { s.faults.Add(f...) }

// SetLatency delays every answer.
func (s *Server) SetLatency(d time.Duration) { s.faults.SetLatency(d) }

// Requests are what was received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *Server) record(r *http.Request, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Path: r.URL.Path, Query: r.URL.RawQuery, User: user, Auth: r.Header.Get("Authorization"),
		ConsistencyLevel: r.Header.Get("ConsistencyLevel")})
}

func (s *Server) memberOf(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("user")
	s.record(r, user)
	if s.faults.Apply(w, r, s.faults.Take(r.URL.Path), defaultBody) {
		return
	}
	if status, code, msg := s.authorize(r, memberRoles); status != 0 {
		WriteError(w, status, code, msg)
		return
	}
	q := r.URL.Query()
	top := 100
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 999 {
			WriteError(w, http.StatusBadRequest, "Request_BadRequest", "Invalid page size specified: '"+v+"'. Must be between 1 and 999 inclusive.")
			return
		}
		top = n
	}
	if sel := q.Get("$select"); sel != "" && sel != "displayName" && sel != "id,displayName" {
		WriteError(w, http.StatusBadRequest, "Request_BadRequest", "Unsupported $select "+sel)
		return
	}
	s.mu.Lock()
	var groups []string
	u := s.find(user)
	if u != nil {
		groups = slices.Clone(u.groups)
	}
	if s.pageSize > 0 {
		top = min(top, s.pageSize)
	}
	s.mu.Unlock()
	if u == nil {
		WriteError(w, http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", user))
		return
	}
	skip, _ := strconv.Atoi(q.Get("$skiptoken"))
	end := min(len(groups), skip+top)
	values := []map[string]string{}
	for i := skip; i < end; i++ {
		values = append(values, map[string]string{"@odata.type": "#microsoft.graph.group", "id": groupID(groups[i]), "displayName": groups[i]})
	}
	body := map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#groups(displayName)", "value": values}
	if end < len(groups) {
		next := *r.URL
		next.Scheme, next.Host = "http", r.Host
		nq := next.Query()
		nq.Set("$skiptoken", strconv.Itoa(end))
		next.RawQuery = strings.NewReplacer("%24", "$").Replace(nq.Encode())
		body["@odata.nextLink"] = next.String()
	}
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	_ = json.NewEncoder(w).Encode(body)
}

func groupID(name string) string {
	h := fnv(name)
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", h, h)
}

func fnv(s string) uint32 {
	h := uint32(2166136261)
	for _, c := range []byte(s) {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}

// authorize checks the bearer token as Graph does, and that it carries one
// of roles.
func (s *Server) authorize(r *http.Request, roles []string) (int, string, string) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty."
	}
	if s.authority == nil {
		return http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure."
	}
	c, err := s.authority.Check(tok)
	switch {
	case err != nil:
		return http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure: " + err.Error()
	case c.Audience != Audience && c.Audience != "00000003-0000-0000-c000-000000000000":
		return http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience."
	case c.TenantID != s.tenantID:
		return http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure: the token was issued for another tenant."
	case !slices.ContainsFunc(c.Roles, func(r string) bool { return slices.Contains(roles, r) }):
		return http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
	}
	return 0, "", ""
}

// WriteError answers with Graph's error body (ErrorBody).
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(ErrorBody(code, msg)))
}

// ErrorBody is Graph's error body: {"error":{"code","message","innerError"}},
// as every Graph API (users, groups, security) answers it.
func ErrorBody(code, msg string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]string{"date": time.Now().UTC().Format("2006-01-02T15:04:05"), "request-id": "0d6a3e7c-7d0e-4c1e-9f3a-2b7f1c9e0a11",
			"client-request-id": "0d6a3e7c-7d0e-4c1e-9f3a-2b7f1c9e0a11"}}})
	return string(b)
}

func defaultBody(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return ErrorBody("TooManyRequests", "Too many requests.")
	case http.StatusServiceUnavailable:
		return ErrorBody("serviceNotAvailable", "The service is temporarily unavailable. Try again later.")
	case http.StatusForbidden:
		return ErrorBody("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	}
	return ErrorBody("generalException", http.StatusText(status))
}
