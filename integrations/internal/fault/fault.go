// Package fault is the failure injection the fake servers share: a queue
// of canned answers (status, Retry-After, body, delay) and a latency.
package fault

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Fault is an injected answer to the next matching request.
type Fault struct {
	Path       string // only requests whose path starts with this ("" = any)
	Status     int    // HTTP status; 0 answers normally, after Delay
	RetryAfter string // Retry-After header, if any
	Body       string // raw body; empty = the API's usual error body
	Delay      time.Duration
}

// Queue holds faults and a latency for every answer.
type Queue struct {
	mu      sync.Mutex
	faults  []Fault
	latency time.Duration
}

// Add queues faults, answered in order.
func (q *Queue) Add(f ...Fault) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.faults = append(q.faults, f...)
}

// SetLatency delays every answer.
func (q *Queue) SetLatency(d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.latency = d
}

// Take removes the first fault for path; nil when none.
func (q *Queue) Take(path string) *Fault {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, f := range q.faults {
		if strings.HasPrefix(path, f.Path) {
			q.faults = slices.Delete(q.faults, i, i+1)
			return &f
		}
	}
	return nil
}

// Apply waits the latency (or the fault's delay) and writes the fault, if
// it has a status. It reports whether the request is answered: true means
// the handler must stop. defaultBody gives the API's error body for a status.
func (q *Queue) Apply(w http.ResponseWriter, r *http.Request, f *Fault, defaultBody func(status int) string) bool {
	q.mu.Lock()
	delay := q.latency
	q.mu.Unlock()
	if f != nil && f.Delay > 0 {
		delay = f.Delay
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return true
		}
	}
	if f == nil || f.Status == 0 {
		return false
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	body := f.Body
	if body == "" && defaultBody != nil {
		body = defaultBody(f.Status)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Status)
	_, _ = w.Write([]byte(body))
	return true
}
