// Package abusefake is an in-process AbuseIPDB v2 API speaking the real wire
// format: key auth, a daily quota with X-RateLimit headers and 429 when it is
// spent, 422 for bad addresses, and injectable faults.
package abusefake

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/soc/mcasbot/integrations/internal/fault"
)

// Report is the check endpoint's data object.
type Report struct {
	IPAddress            string   `json:"ipAddress"`
	IsPublic             bool     `json:"isPublic"`
	IPVersion            int      `json:"ipVersion"`
	IsWhitelisted        *bool    `json:"isWhitelisted"`
	AbuseConfidenceScore int      `json:"abuseConfidenceScore"`
	CountryCode          *string  `json:"countryCode"`
	UsageType            string   `json:"usageType"`
	ISP                  string   `json:"isp"`
	Domain               *string  `json:"domain"`
	Hostnames            []string `json:"hostnames"`
	IsTor                bool     `json:"isTor"`
	TotalReports         int      `json:"totalReports"`
	NumDistinctUsers     int      `json:"numDistinctUsers"`
	LastReportedAt       *string  `json:"lastReportedAt"`
}

// Fault is an injected answer for the next request (an empty body stays
// empty).
type Fault = fault.Fault

// Server is a fake AbuseIPDB.
type Server struct {
	*httptest.Server
	Key string
	// Now, when set, dates the reports the fake makes up; default the wall
	// clock.
	Now func() time.Time

	faults fault.Queue

	mu      sync.Mutex
	reports map[string]Report
	limit   int
	used    int
	calls   map[string]int
	total   int
}

// New starts a fake accepting key with a daily quota of limit checks.
func New(key string, limit int) *Server {
	s := &Server{Key: key, limit: limit, reports: map[string]Report{}, calls: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.check))
	return s
}

// Set fixes the report for an address.
func (s *Server) Set(r Report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reports[r.IPAddress] = r
}

// Fail queues faults for the next requests.
func (s *Server) Fail(f ...Fault) { s.faults.Add(f...) }

// SetLatency delays every answer.
func (s *Server) SetLatency(d time.Duration) { s.faults.SetLatency(d) }

// Calls is how many checks of ip were received.
func (s *Server) Calls(ip string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[ip]
}

// TotalCalls is how many requests were received.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

func (s *Server) check(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.total++
	ip := r.URL.Query().Get("ipAddress")
	s.calls[ip]++
	s.mu.Unlock()
	if s.faults.Apply(w, r, s.faults.Take(r.URL.Path), nil) {
		return
	}
	jsonWanted := r.Header.Get("Accept") == "application/json"
	if r.URL.Path != "/check" && r.URL.Path != "/api/v2/check" {
		s.fail(w, jsonWanted, http.StatusNotFound, "Not found", "")
		return
	}
	if r.Header.Get("Key") != s.Key {
		s.fail(w, jsonWanted, http.StatusUnauthorized, "Authentication failed. Your API key is either missing, incorrect, or revoked. Note: The APIv2 key differs from the APIv1 key.", "")
		return
	}
	s.mu.Lock()
	if s.used >= s.limit {
		s.mu.Unlock()
		reset := time.Now().Truncate(24 * time.Hour).Add(24 * time.Hour)
		w.Header().Set("Retry-After", strconv.Itoa(int(time.Until(reset).Seconds())))
		w.Header().Set("X-RateLimit-Limit", strconv.Itoa(s.limit))
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		s.fail(w, jsonWanted, http.StatusTooManyRequests, fmt.Sprintf("Daily rate limit of %d requests exceeded for this endpoint. See headers for additional details.", s.limit), "")
		return
	}
	s.used++
	remaining := s.limit - s.used
	s.mu.Unlock()
	age, err := strconv.Atoi(r.URL.Query().Get("maxAgeInDays"))
	if r.URL.Query().Has("maxAgeInDays") && (err != nil || age < 1 || age > 365) {
		s.fail(w, jsonWanted, http.StatusUnprocessableEntity, "The max age in days must be between 1 and 365.", "maxAgeInDays")
		return
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		s.fail(w, jsonWanted, http.StatusUnprocessableEntity, "The ip address must be a valid IPv4 or IPv6 address (e.g. 8.8.8.8 or 2001:4860:4860::8888).", "ipAddress")
		return
	}
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(s.limit))
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": s.report(addr)})
}

func (s *Server) fail(w http.ResponseWriter, jsonWanted bool, status int, detail, param string) {
	if !jsonWanted {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, "<html><body><h1>%d</h1></body></html>", status)
		return
	}
	e := map[string]any{"detail": detail, "status": status}
	if param != "" {
		e["source"] = map[string]string{"parameter": param}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{e}})
}

// report is the fixed report for addr, or a stable made-up one.
func (s *Server) report(addr netip.Addr) Report {
	s.mu.Lock()
	r, ok := s.reports[addr.String()]
	s.mu.Unlock()
	if ok {
		return r
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(addr.String()))
	n := int(h.Sum32())
	version := 4
	if addr.Is6() && !addr.Is4In6() {
		version = 6
	}
	country := []string{"NL", "RU", "US", "DE", "BR"}[n%5]
	r = Report{
		IPAddress: addr.String(), IsPublic: !addr.IsPrivate() && !addr.IsLoopback(), IPVersion: version,
		AbuseConfidenceScore: n % 101, CountryCode: &country, UsageType: []string{"Data Center/Web Hosting/Transit", "Fixed Line ISP", "Mobile ISP"}[n%3],
		ISP: []string{"Hetzner Online GmbH", "DigitalOcean LLC", "Deutsche Telekom AG"}[n%3], TotalReports: n % 500, NumDistinctUsers: n % 60,
		IsTor: n%7 == 0, Hostnames: []string{},
	}
	if r.TotalReports > 0 {
		ts := s.now().Truncate(time.Hour).Add(-time.Duration(n%1000) * time.Hour).Format(time.RFC3339)
		r.LastReportedAt = &ts
	}
	return r
}

// Samples are realistic reports for the addresses the MCAS sample data
// uses, last reported a few hours before now.
func Samples() []Report { return SamplesAt(time.Now()) }

// SamplesAt are Samples as of now.
func SamplesAt(now time.Time) []Report {
	ptr := func(s string) *string { return &s }
	recent := func(h int) *string {
		return ptr(now.UTC().Add(-time.Duration(h) * time.Hour).Truncate(time.Minute).Format(time.RFC3339))
	}
	return []Report{
		{IPAddress: "185.220.101.4", IsPublic: true, IPVersion: 4, AbuseConfidenceScore: 100, CountryCode: ptr("DE"), UsageType: "Data Center/Web Hosting/Transit",
			ISP: "Zwiebelfreunde e.V.", Domain: ptr("torservers.net"), IsTor: true, TotalReports: 3120, NumDistinctUsers: 410, LastReportedAt: recent(1), Hostnames: []string{"tor-exit-4.zbau.f3netze.de"}},
		{IPAddress: "185.220.102.8", IsPublic: true, IPVersion: 4, AbuseConfidenceScore: 100, CountryCode: ptr("DE"), UsageType: "Data Center/Web Hosting/Transit",
			ISP: "Zwiebelfreunde e.V.", Domain: ptr("torservers.net"), IsTor: true, TotalReports: 2480, NumDistinctUsers: 355, LastReportedAt: recent(2), Hostnames: []string{}},
		{IPAddress: "45.155.205.233", IsPublic: true, IPVersion: 4, AbuseConfidenceScore: 87, CountryCode: ptr("RU"), UsageType: "Data Center/Web Hosting/Transit",
			ISP: "Partner LLC", TotalReports: 512, NumDistinctUsers: 96, LastReportedAt: recent(5), Hostnames: []string{}},
		{IPAddress: "91.240.118.172", IsPublic: true, IPVersion: 4, AbuseConfidenceScore: 42, CountryCode: ptr("NL"), UsageType: "Data Center/Web Hosting/Transit",
			ISP: "Chang Way Technologies Co. Limited", TotalReports: 38, NumDistinctUsers: 12, LastReportedAt: recent(30), Hostnames: []string{}},
		{IPAddress: "104.28.55.12", IsPublic: true, IPVersion: 4, AbuseConfidenceScore: 0, CountryCode: ptr("US"), UsageType: "Content Delivery Network",
			ISP: "Cloudflare, Inc.", Domain: ptr("cloudflare.com"), Hostnames: []string{}},
		{IPAddress: "2a02:c207:3009:9999::1", IsPublic: true, IPVersion: 6, AbuseConfidenceScore: 12, CountryCode: ptr("DE"), UsageType: "Data Center/Web Hosting/Transit",
			ISP: "Contabo GmbH", TotalReports: 3, NumDistinctUsers: 2, LastReportedAt: recent(200), Hostnames: []string{}},
	}
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}
