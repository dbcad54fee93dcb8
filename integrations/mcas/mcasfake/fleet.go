package mcasfake

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fleet serves many fake tenants from one server, each under a path of
// its own (<fleet URL>/<name>, which the MCAS client keeps as its base), so
// a test or `bot demo --tenants=100` runs a hundred tenants cheaply.
type Fleet struct {
	srv *httptest.Server

	mu      sync.RWMutex
	tenants map[string]*Server
	order   []*Server
	served  atomic.Int64
	busy    atomic.Int64 // requests being served now
	most    atomic.Int64 // the most served at once
}

// NewFleet starts an empty fleet.
func NewFleet() *Fleet {
	f := &Fleet{tenants: map[string]*Server{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// Add serves a new tenant called name (a path segment) that accepts token.
func (f *Fleet) Add(name, token string) *Server {
	s := newTenant(token)
	s.URL, s.client = f.srv.URL+"/"+name, f.srv.Client()
	f.mu.Lock()
	f.tenants[name] = s
	f.order = append(f.order, s)
	f.mu.Unlock()
	return s
}

// Tenant is the tenant called name, if served.
func (f *Fleet) Tenant(name string) (*Server, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s, ok := f.tenants[name]
	return s, ok
}

// URL is the fleet's base: tenant name is served at URL()+"/"+name.
func (f *Fleet) URL() string { return f.srv.URL }

// Requests is how many requests the fleet has received, for any tenant
// or none.
func (f *Fleet) Requests() int { return int(f.served.Load()) }

// MostAtOnce is the most requests the fleet has served at the same time.
func (f *Fleet) MostAtOnce() int { return int(f.most.Load()) }

// SetLatency delays every answer of every tenant served now.
func (f *Fleet) SetLatency(d time.Duration) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, s := range f.order {
		s.SetLatency(d)
	}
}

// Client is an HTTP client for every tenant of the fleet.
func (f *Fleet) Client() *http.Client { return f.srv.Client() }

// Close shuts the fleet's server down.
func (f *Fleet) Close() { f.srv.Close() }

func (f *Fleet) serve(w http.ResponseWriter, r *http.Request) {
	f.served.Add(1)
	n := f.busy.Add(1)
	defer f.busy.Add(-1)
	for m := f.most.Load(); n > m && !f.most.CompareAndSwap(m, n); m = f.most.Load() {
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	s, ok := f.Tenant(name)
	if !ok {
		// What a wrong tenant host gets from MCAS's front door.
		writeDetail(w, http.StatusNotFound, "no such tenant")
		return
	}
	http.StripPrefix("/"+name, s.handler).ServeHTTP(w, r)
}
