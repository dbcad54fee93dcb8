// Package defender reads and closes one tenant's alerts through Microsoft
// Graph's security API (Defender XDR): alerts_v2 with their evidence, an
// alert's PATCH and comments, and advanced hunting (runHuntingQuery) for
// an address's activities. It implements source.Tenant, so the commands,
// the digest, filing and closing treat a Graph tenant as any other.
package defender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/soc/mcasbot/integrations/graph"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/source"
)

// TokenSource hands out Entra ID tokens per scope (*entra.Credential).
type TokenSource interface {
	Token(ctx context.Context, scope string) (string, error)
}

// Config describes one tenant read through Graph.
type Config struct {
	Name   string      // short name shown to analysts, e.g. "contoso"
	URL    string      // Graph's base URL (default https://graph.microsoft.com)
	Tokens TokenSource // the tenant's Entra ID application
	// ServiceSources are the Defender products whose alerts the tenant
	// reads (Graph's serviceSource; default Defender for Cloud Apps only).
	ServiceSources []string
	// Timeout bounds each HTTP request (default 20s).
	Timeout time.Duration
	// Attempts is how many times a throttled or failed call is tried (default 3).
	Attempts int
	// RequestsPerMinute caps alert calls to this tenant (default 120;
	// Graph documents 150 a minute per app per tenant); BudgetWindow is the
	// period it counts over (default a minute; tests shorten it). Limiter,
	// when set, hands out the slots instead (a budget shared by replicas).
	RequestsPerMinute int
	BudgetWindow      time.Duration
	Limiter           httpx.Limiter
	// HuntingPerMinute caps advanced hunting calls (default 40; Graph
	// allows "at least 45" a minute per tenant); HuntingLimiter, when set,
	// hands out those slots.
	HuntingPerMinute int
	HuntingLimiter   httpx.Limiter
	// HuntingWindow is how far back /mcas ip looks (default 7 days, at
	// most the 30 days advanced hunting keeps).
	HuntingWindow time.Duration
	// Now is the clock hunting windows are computed from (default the wall clock).
	Now func() time.Time
}

// DefaultServiceSource is the one product a tenant reads by default.
const DefaultServiceSource = "microsoftDefenderForCloudApps"

// ServiceSources are the serviceSource values Graph's metadata knows.
var ServiceSources = []string{
	"microsoftDefenderForCloudApps", "microsoftDefenderForEndpoint", "microsoftDefenderForIdentity",
	"microsoftDefenderForOffice365", "microsoft365Defender", "azureAdIdentityProtection", "microsoftAppGovernance",
	"dataLossPrevention", "microsoftDefenderForCloud", "microsoftSentinel", "microsoftInsiderRiskManagement",
	"microsoftThreatIntelligence", "microsoftSecurityForAI",
}

// KnownServiceSource reports whether s is a serviceSource value, and its
// spelling as Graph writes it (the match ignores case).
func KnownServiceSource(s string) (string, bool) {
	for _, k := range ServiceSources {
		if strings.EqualFold(k, strings.TrimSpace(s)) {
			return k, true
		}
	}
	return "", false
}

// The application permissions each kind of call needs.
const (
	PermRead    = "SecurityAlert.Read.All"
	PermWrite   = "SecurityAlert.ReadWrite.All"
	PermHunting = "ThreatHunting.Read.All"
)

// Defaults.
const (
	DefaultRequestsPerMinute = 120
	DefaultHuntingPerMinute  = 40
	DefaultHuntingWindow     = 7 * 24 * time.Hour
	// MaxHuntingWindow is what advanced hunting keeps.
	MaxHuntingWindow = 30 * 24 * time.Hour
)

// Client talks to one tenant's Defender XDR through Graph.
type Client struct {
	name     string
	base     *url.URL
	scope    string
	tokens   TokenSource
	sources  []string
	caller   *httpx.Caller // alerts: list, get, PATCH
	comments *httpx.Caller // comments: a POST that must not run twice
	hunting  *httpx.Caller // runHuntingQuery, on its own budget
	budget   int
	per      time.Duration
	window   time.Duration
	logger   *slog.Logger
	now      func() time.Time
}

// New checks cfg and returns a client for that tenant.
func New(cfg Config, hc *http.Client, logger *slog.Logger) (*Client, error) {
	if cfg.URL == "" {
		cfg.URL = graph.DefaultURL
	}
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("graph tenant %q: URL %q is not an http(s) URL", cfg.Name, cfg.URL)
	}
	if cfg.Name == "" {
		return nil, errors.New("graph tenant: no name")
	}
	if cfg.Tokens == nil {
		return nil, fmt.Errorf("graph tenant %q: no Entra ID credential (Graph needs the tenant's application)", cfg.Name)
	}
	var sources []string
	for _, s := range cfg.ServiceSources {
		k, ok := KnownServiceSource(s)
		if !ok {
			return nil, fmt.Errorf("graph tenant %q: %q is not a Defender product Graph knows (serviceSource: %s)", cfg.Name, s, strings.Join(ServiceSources, ", "))
		}
		if !slices.Contains(sources, k) {
			sources = append(sources, k)
		}
	}
	if len(sources) == 0 {
		sources = []string{DefaultServiceSource}
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	if cfg.RequestsPerMinute == 0 {
		cfg.RequestsPerMinute = DefaultRequestsPerMinute
	}
	if cfg.BudgetWindow <= 0 {
		cfg.BudgetWindow = time.Minute
	}
	if cfg.Limiter == nil {
		cfg.Limiter = httpx.NewWindow(cfg.RequestsPerMinute, cfg.BudgetWindow)
	}
	if cfg.HuntingPerMinute == 0 {
		cfg.HuntingPerMinute = DefaultHuntingPerMinute
	}
	if cfg.HuntingLimiter == nil {
		cfg.HuntingLimiter = httpx.NewWindow(cfg.HuntingPerMinute, cfg.BudgetWindow)
	}
	if cfg.HuntingWindow <= 0 {
		cfg.HuntingWindow = DefaultHuntingWindow
	}
	cfg.HuntingWindow = min(cfg.HuntingWindow, MaxHuntingWindow)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	logger = logger.With("integration", "defender", "tenant", cfg.Name)
	c := &Client{name: cfg.Name, base: u, scope: graph.ScopeFor(cfg.URL), tokens: cfg.Tokens, sources: sources,
		budget: cfg.RequestsPerMinute, per: cfg.BudgetWindow, window: cfg.HuntingWindow, logger: logger, now: cfg.Now}
	newCaller := func(service string, lim httpx.Limiter) *httpx.Caller {
		return &httpx.Caller{Service: service, Client: hc, Timeout: cfg.Timeout, Attempts: cfg.Attempts,
			Limiter: lim, Detail: graph.ErrorDetail, Logger: logger}
	}
	c.caller = newCaller("graph "+cfg.Name, cfg.Limiter)
	// A comment retried after a lost answer would be posted twice: only
	// answers that say it was not taken (429, 503) are retried.
	c.comments = newCaller("graph "+cfg.Name, cfg.Limiter)
	c.comments.NoTransportRetry = true
	c.comments.Retry = func(status int) bool {
		return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
	}
	c.hunting = newCaller("graph "+cfg.Name, cfg.HuntingLimiter)
	return c, nil
}

// Name is the tenant's short name.
func (c *Client) Name() string { return c.name }

// Source is source.Graph: the tenant is read through Microsoft Graph.
func (c *Client) Source() string { return source.Graph }

// Caller is the alert calls' HTTP caller (tests replace its Sleep).
func (c *Client) Caller() *httpx.Caller { return c.caller }

// Callers are every HTTP caller, so wiring can attach metrics hooks.
func (c *Client) Callers() []*httpx.Caller { return []*httpx.Caller{c.caller, c.comments, c.hunting} }

// Budget is the tenant's alert request budget: n requests per period.
func (c *Client) Budget() (int, time.Duration) { return c.budget, c.per }

// ServiceSources are the products the tenant reads.
func (c *Client) ServiceSources() []string { return slices.Clone(c.sources) }

// Reasons are the determinations Defender XDR pairs with c, as the Close…
// form lists them.
func (c *Client) Reasons(kind source.Classification) []source.Reason {
	return source.Reasons(source.Graph, kind)
}

// call describes one request for the caller: method, the URL it goes to
// (a path under v1.0, or a nextLink as given) and a JSON body.
type call struct {
	method string
	target *url.URL
	body   []byte
}

// endpoint is path under {base}/v1.0 with a raw query (Graph wants the $
// of its options as is).
func (c *Client) endpoint(rawQuery string, path ...string) *url.URL {
	u := c.base.JoinPath(append([]string{"v1.0"}, path...)...)
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path
	}
	u.RawQuery = rawQuery
	return u
}

func (c *Client) request(k call) func(ctx context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		tok, err := c.tokens.Token(ctx, c.scope)
		if err != nil {
			return nil, err
		}
		var body *bytes.Reader
		if k.body != nil {
			body = bytes.NewReader(k.body)
		} else {
			body = bytes.NewReader(nil)
		}
		req, err := http.NewRequestWithContext(ctx, k.method, k.target.String(), body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		// Enum members newer than unknownFutureValue come as themselves.
		req.Header.Set("Prefer", "include-unknown-enum-members")
		if k.body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, nil
	}
}

// do sends one call and explains Graph's refusals in words: which
// permission a 403 lacks and how to grant it; a 400 is logged with the
// request (never its token).
func (c *Client) do(ctx context.Context, caller *httpx.Caller, op, perm string, k call) (*httpx.Response, error) {
	resp, err := caller.Do(ctx, op, c.request(k))
	if err == nil {
		return resp, nil
	}
	var e *httpx.Error
	if !errors.As(err, &e) {
		return nil, err
	}
	switch {
	case e.Status == http.StatusForbidden:
		x := *e
		x.Detail = strings.TrimSpace(x.Detail + fmt.Sprintf(" (the application lacks %s in this tenant: grant it in Entra ID, API permissions, Microsoft Graph, application permission, then grant admin consent)", perm))
		return nil, &x
	case e.Status == http.StatusBadRequest:
		query, _ := url.QueryUnescape(k.target.RawQuery)
		httpx.LoggerFrom(ctx, c.logger).Error("graph rejected the request", "op", op,
			"method", k.method, "path", k.target.Path, "query", query, "error", e.Detail)
	}
	return nil, err
}

// sameGraph reports whether a link Graph gave stays on the Graph the
// token was asked for: the token goes nowhere else.
func (c *Client) sameGraph(raw string) (*url.URL, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != c.base.Scheme || !strings.EqualFold(u.Host, c.base.Host) || u.User != nil {
		return nil, false
	}
	return u, true
}
