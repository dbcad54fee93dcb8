// Package abuseipdb is a small client for the AbuseIPDB v2 check endpoint,
// with a per-IP cache and collapsing of concurrent lookups of one address.
package abuseipdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/patrickmn/go-cache"
	"golang.org/x/sync/singleflight"

	"github.com/soc/mcasbot/integrations/httpx"
)

// DefaultURL is the API base.
const DefaultURL = "https://api.abuseipdb.com/api/v2"

// Config for the client.
type Config struct {
	APIKey     string
	URL        string        // default DefaultURL
	MaxAgeDays int           // default 90
	CacheTTL   time.Duration // default 6h
	Timeout    time.Duration // default 10s
	// Shared, when set, is a cache every replica reads (the state store on
	// PostgreSQL): reports and the quota AbuseIPDB reports are kept there,
	// so replicas do not spend the daily quota twice on one address.
	Shared SharedCache
}

// SharedCache is a key-value cache with expiry that replicas share
// (store.Store implements it).
type SharedCache interface {
	CacheGet(ctx context.Context, key string) ([]byte, bool, error)
	CachePut(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// Report is AbuseIPDB's view of one address.
type Report struct {
	IP            string
	Public        bool
	Score         int // abuseConfidenceScore, 0–100
	Reports       int
	DistinctUsers int
	ISP           string
	UsageType     string
	Domain        string
	Hostnames     []string // reverse DNS names, chosen by whoever holds the address
	Country       string
	Tor           bool
	Whitelisted   bool
	LastReported  time.Time // zero when never reported
	Cached        bool      // served from the cache
}

// ErrNotPublic is returned for addresses that are never sent upstream.
var ErrNotPublic = errors.New("private or reserved address, not sent to AbuseIPDB")

// Quota is what the last answer said about the daily allowance.
type Quota struct {
	Limit, Remaining int
	Reset            time.Time
	Known            bool
}

// Client checks IP reputations.
type Client struct {
	cfg    Config
	base   string
	caller *httpx.Caller
	cache  *cache.Cache
	group  singleflight.Group
	logger *slog.Logger

	mu        sync.Mutex
	quota     Quota
	exhausted time.Time // no calls until then: the daily quota is spent

	// OnCache, when set, is told of every cache hit (true) or miss (false).
	OnCache func(hit bool)
}

// New returns a client; cfg.APIKey must be set.
func New(cfg Config, hc *http.Client, logger *slog.Logger) (*Client, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("abuseipdb: no API key")
	}
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if _, err := url.Parse(cfg.URL); err != nil {
		return nil, fmt.Errorf("abuseipdb: URL %q: %w", cfg.URL, err)
	}
	if cfg.MaxAgeDays <= 0 {
		cfg.MaxAgeDays = 90
	}
	if cfg.MaxAgeDays > 365 {
		return nil, fmt.Errorf("abuseipdb: max age %d days is over the API's 365", cfg.MaxAgeDays)
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 6 * time.Hour
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{cfg: cfg, base: strings.TrimRight(cfg.URL, "/"), cache: cache.New(cfg.CacheTTL, cfg.CacheTTL), logger: logger}
	c.caller = &httpx.Caller{
		Service: "abuseipdb", Client: hc, Timeout: cfg.Timeout, Attempts: 2,
		// A 429 here means the daily quota is spent (Retry-After in hours):
		// only retry short waits and server errors.
		MaxRetryAfter: 5 * time.Second,
		Detail:        errorDetail,
		Logger:        logger.With("integration", "abuseipdb"),
	}
	return c, nil
}

// Caller exposes the HTTP caller so wiring can attach metrics hooks.
func (c *Client) Caller() *httpx.Caller { return c.caller }

// Public reports whether addr is worth asking about: not private, loopback,
// link-local, multicast, unspecified, CGNAT, documentation or otherwise reserved.
func Public(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.IsPrivate() || addr.IsLoopback() || addr.IsLinkLocalUnicast() ||
		addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast() || addr.IsMulticast() || addr.IsUnspecified() {
		return false
	}
	for _, p := range reserved {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

var reserved = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24",
		"203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32", "2001:db8::/32", "64:ff9b:1::/48", "100::/64",
		"2001::/23", "fc00::/7",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// Check returns the reputation of addr, from the cache when fresh.
// Concurrent checks of one address make one call.
func (c *Client) Check(ctx context.Context, addr netip.Addr) (Report, error) {
	addr = addr.Unmap()
	if !Public(addr) {
		return Report{IP: addr.String()}, ErrNotPublic
	}
	key := addr.String()
	if v, ok := c.cache.Get(key); ok {
		c.cacheEvent(true)
		r := v.(Report)
		r.Cached = true
		return r, nil
	}
	c.cacheEvent(false)
	v, err, _ := c.group.Do(key, func() (any, error) {
		if v, ok := c.cache.Get(key); ok {
			return v.(Report), nil
		}
		if r, ok := c.sharedReport(ctx, key); ok {
			c.cache.SetDefault(key, r)
			return r, nil
		}
		r, err := c.fetch(ctx, key)
		if err != nil {
			return Report{}, err
		}
		c.cache.SetDefault(key, r)
		c.share(ctx, reportKey+key, r, c.cfg.CacheTTL)
		return r, nil
	})
	if err != nil {
		return Report{IP: key}, err
	}
	return v.(Report), nil
}

func (c *Client) cacheEvent(hit bool) {
	if c.OnCache != nil {
		c.OnCache(hit)
	}
}

// Quota returns what the API last said about the daily allowance.
func (c *Client) Quota() Quota {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.quota
}

// Keys in the shared cache.
const (
	reportKey = "abuseipdb:report:"
	quotaKey  = "abuseipdb:quota"
)

// sharedQuota is the daily allowance as the replicas last saw it.
type sharedQuota struct {
	Quota
	Exhausted time.Time // no calls until then
}

func (c *Client) sharedReport(ctx context.Context, ip string) (Report, bool) {
	var r Report
	if !c.shared(ctx, reportKey+ip, &r) {
		return Report{}, false
	}
	r.Cached = true
	return r, true
}

// shared reads a shared cache entry into v; a store failure is a miss.
func (c *Client) shared(ctx context.Context, key string, v any) bool {
	if c.cfg.Shared == nil {
		return false
	}
	b, ok, err := c.cfg.Shared.CacheGet(ctx, key)
	if err != nil {
		c.logger.Debug("shared cache unavailable; asking AbuseIPDB", "error", err)
		return false
	}
	return ok && json.Unmarshal(b, v) == nil
}

func (c *Client) share(ctx context.Context, key string, v any, ttl time.Duration) {
	if c.cfg.Shared == nil || ttl <= 0 {
		return
	}
	b, _ := json.Marshal(v)
	if err := c.cfg.Shared.CachePut(ctx, key, b, ttl); err != nil {
		c.logger.Debug("shared cache unavailable; keeping the answer locally", "error", err)
	}
}

// loadQuota adopts what another replica learned about the daily quota.
func (c *Client) loadQuota(ctx context.Context) {
	var q sharedQuota
	if !c.shared(ctx, quotaKey, &q) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if q.Known {
		c.quota = q.Quota
	}
	if q.Exhausted.After(c.exhausted) {
		c.exhausted = q.Exhausted
	}
}

// shareQuota publishes the quota for the other replicas, until it resets.
func (c *Client) shareQuota(ctx context.Context) {
	c.mu.Lock()
	q := sharedQuota{Quota: c.quota, Exhausted: c.exhausted}
	c.mu.Unlock()
	ttl := 24 * time.Hour
	if until := time.Until(q.Reset); q.Reset.After(time.Now()) && until < ttl {
		ttl = until
	}
	if until := time.Until(q.Exhausted); until > ttl {
		ttl = until
	}
	c.share(ctx, quotaKey, q, ttl)
}

func (c *Client) fetch(ctx context.Context, ip string) (Report, error) {
	const op = "check " + "ip"
	c.loadQuota(ctx)
	c.mu.Lock()
	until := c.exhausted
	c.mu.Unlock()
	if time.Now().Before(until) {
		return Report{}, &httpx.Error{Service: "abuseipdb", Op: op, Kind: httpx.KindThrottled, Status: http.StatusTooManyRequests,
			RetryAfter: time.Until(until), Detail: "daily quota exhausted"}
	}
	q := url.Values{"ipAddress": {ip}, "maxAgeInDays": {strconv.Itoa(c.cfg.MaxAgeDays)}}
	resp, err := c.caller.Do(ctx, op, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/check?"+q.Encode(), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Key", c.cfg.APIKey)
		req.Header.Set("Accept", "application/json")
		return req, nil
	})
	if err != nil {
		var e *httpx.Error
		if errors.As(err, &e) && e.Status == http.StatusTooManyRequests {
			wait := e.RetryAfter
			if wait <= 0 {
				wait = time.Minute
			}
			c.mu.Lock()
			c.exhausted = time.Now().Add(wait)
			c.quota.Remaining, c.quota.Known = 0, true
			c.mu.Unlock()
			c.shareQuota(ctx)
			c.logger.Warn("abuseipdb quota exhausted; reputation lookups paused", "for", wait.Round(time.Second))
		}
		return Report{}, err
	}
	c.noteQuota(resp.Header)
	c.shareQuota(ctx)
	var body struct {
		Data *wireReport `json:"data"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		return Report{}, c.caller.Malformed(op, err)
	}
	if body.Data == nil {
		return Report{}, c.caller.Malformed(op, errors.New("response has no data"))
	}
	return body.Data.report(), nil
}

func (c *Client) noteQuota(h http.Header) {
	limit, err1 := strconv.Atoi(h.Get("X-RateLimit-Limit"))
	remaining, err2 := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	if err1 != nil || err2 != nil {
		return
	}
	q := Quota{Limit: limit, Remaining: remaining, Known: true}
	if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
		q.Reset = time.Unix(reset, 0).UTC()
	}
	c.mu.Lock()
	c.quota = q
	c.mu.Unlock()
}

type wireReport struct {
	IPAddress            string   `json:"ipAddress"`
	IsPublic             bool     `json:"isPublic"`
	IsWhitelisted        *bool    `json:"isWhitelisted"`
	AbuseConfidenceScore int      `json:"abuseConfidenceScore"`
	CountryCode          *string  `json:"countryCode"`
	UsageType            *string  `json:"usageType"`
	ISP                  *string  `json:"isp"`
	Domain               *string  `json:"domain"`
	IsTor                bool     `json:"isTor"`
	TotalReports         int      `json:"totalReports"`
	NumDistinctUsers     int      `json:"numDistinctUsers"`
	LastReportedAt       *string  `json:"lastReportedAt"`
	Hostnames            []string `json:"hostnames"`
}

func (w wireReport) report() Report {
	r := Report{
		IP: w.IPAddress, Public: w.IsPublic, Score: w.AbuseConfidenceScore, Reports: w.TotalReports,
		DistinctUsers: w.NumDistinctUsers, ISP: deref(w.ISP), UsageType: deref(w.UsageType), Domain: deref(w.Domain),
		Country: deref(w.CountryCode), Tor: w.IsTor, Whitelisted: w.IsWhitelisted != nil && *w.IsWhitelisted, Hostnames: w.Hostnames,
	}
	if w.LastReportedAt != nil {
		if t, err := time.Parse(time.RFC3339, *w.LastReportedAt); err == nil {
			r.LastReported = t.UTC()
		}
	}
	return r
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func errorDetail(body []byte) string {
	var e struct {
		Errors []struct {
			Detail string `json:"detail"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Detail
}
