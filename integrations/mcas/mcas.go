// Package mcas is a small client for the Microsoft Defender for Cloud Apps
// (MCAS) REST API: alerts and activities of one tenant.
package mcas

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/source"
)

// Config describes one tenant.
type Config struct {
	Name  string // short name shown to analysts, e.g. "contoso"
	URL   string // https://<tenant>.<region>.portal.cloudappsecurity.com
	Token string // legacy API token
	// Auth, when set, replaces Token: Bearer(an Entra ID credential).
	Auth Auth
	// Timeout bounds each HTTP request (default 20s).
	Timeout time.Duration
	// RequestsPerMinute caps calls to this tenant (default 25; MCAS allows 30
	// per tenant, shared with every other API user).
	RequestsPerMinute int
	// Attempts is how many times a throttled or failed call is tried (default 3).
	Attempts int
	// BudgetWindow is the period RequestsPerMinute counts over (default a
	// minute; tests shorten it).
	BudgetWindow time.Duration
	// Limiter, when set, hands out this tenant's requests instead of a
	// local window (a budget shared by replicas, issue #10).
	Limiter httpx.Limiter
}

// PageSize is the largest page MCAS serves.
const PageSize = 100

// Client talks to one tenant.
type Client struct {
	name   string
	base   *url.URL
	auth   Auth
	caller *httpx.Caller
	budget int
	per    time.Duration
}

// New checks cfg and returns a client for that tenant.
func New(cfg Config, hc *http.Client, logger *slog.Logger) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("mcas tenant %q: URL %q is not an http(s) URL", cfg.Name, cfg.URL)
	}
	if cfg.Auth == nil && cfg.Token == "" {
		return nil, fmt.Errorf("mcas tenant %q: no API token or Entra ID credential", cfg.Name)
	}
	if cfg.Auth == nil {
		cfg.Auth = legacyToken(cfg.Token)
	}
	name := cfg.Name
	if name == "" {
		name = DefaultName(u.Host)
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
	if cfg.RequestsPerMinute == 0 {
		cfg.RequestsPerMinute = 25
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	if cfg.BudgetWindow <= 0 {
		cfg.BudgetWindow = time.Minute
	}
	if cfg.Limiter == nil {
		cfg.Limiter = httpx.NewWindow(cfg.RequestsPerMinute, cfg.BudgetWindow)
	}
	c := &Client{name: name, base: u, auth: cfg.Auth, budget: cfg.RequestsPerMinute, per: cfg.BudgetWindow}
	c.caller = &httpx.Caller{
		Service:  "mcas " + name,
		Client:   hc,
		Timeout:  cfg.Timeout,
		Attempts: cfg.Attempts,
		Limiter:  cfg.Limiter,
		Detail:   errorDetail,
		Logger:   logger.With("integration", "mcas", "tenant", name),
	}
	return c, nil
}

// DefaultName is the first DNS label of host: "contoso" for
// contoso.eu2.portal.cloudappsecurity.com.
func DefaultName(host string) string {
	host = strings.Split(host, ":")[0]
	name, _, _ := strings.Cut(host, ".")
	return name
}

// Name is the tenant's short name.
func (c *Client) Name() string { return c.name }

// Source is source.MCAS: the tenant is read through MCAS's REST API.
func (c *Client) Source() string { return source.MCAS }

// Caller exposes the HTTP caller so wiring can attach metrics hooks.
func (c *Client) Caller() *httpx.Caller { return c.caller }

// Budget is the tenant's request budget: n requests per period (n <= 0:
// unlimited).
func (c *Client) Budget() (int, time.Duration) { return c.budget, c.per }

var closedResolutions = []int{1, 2, 3, 4, 5}

// Alerts lists alerts newest first, following pages only as far as q.Limit needs.
func (c *Client) Alerts(ctx context.Context, q source.AlertQuery) (source.AlertList, error) {
	filters := map[string]any{}
	if len(q.Severities) > 0 {
		codes := make([]int, len(q.Severities))
		for i, s := range q.Severities {
			codes[i] = int(s)
		}
		filters["severity"] = map[string]any{"eq": codes}
	}
	switch q.Status {
	case source.StatusOpen:
		filters["resolutionStatus"] = map[string]any{"eq": []int{source.ResolutionOpen}}
	case source.StatusClosed:
		filters["resolutionStatus"] = map[string]any{"eq": closedResolutions}
	}
	if date := dateFilter(q.Since, q.Until); date != nil {
		filters["date"] = date
	}
	if q.User != "" {
		filters["entity.user"] = map[string]any{"eq": q.User}
	}
	var out source.AlertList
	dir := "desc"
	if q.Oldest {
		dir = "asc"
	}
	err := c.page(ctx, "list alerts", "/api/v1/alerts/", filters, dir, limitOr(q.Limit), &out.More, &out.Calls, func(raw json.RawMessage) error {
		var w wireAlert
		if err := json.Unmarshal(raw, &w); err != nil {
			return err
		}
		a, err := w.alert(c.name)
		if err != nil {
			return err
		}
		out.Alerts = append(out.Alerts, a)
		return nil
	})
	return out, err
}

// Alert fetches one alert by id.
func (c *Client) Alert(ctx context.Context, id string) (source.Alert, error) {
	op := "get alert"
	if !source.ValidID(id) {
		return source.Alert{}, &httpx.Error{Service: c.caller.Service, Op: op, Kind: httpx.KindBadRequest, Detail: "invalid alert id"}
	}
	resp, err := c.caller.Do(ctx, op, c.request(http.MethodGet, "/api/v1/alerts/"+id+"/", nil))
	if err != nil {
		return source.Alert{}, err
	}
	var w wireAlert
	if err := json.Unmarshal(resp.Body, &w); err != nil {
		return source.Alert{}, c.caller.Malformed(op, err)
	}
	a, err := w.alert(c.name)
	if err != nil {
		return source.Alert{}, c.caller.Malformed(op, err)
	}
	return a, nil
}

// Activities lists activities newest first.
func (c *Client) Activities(ctx context.Context, q source.ActivityQuery) (source.ActivityList, error) {
	filters := map[string]any{}
	if q.IP != "" {
		filters["ip.address"] = map[string]any{"eq": []string{q.IP}}
	}
	if q.User != "" {
		filters["user.username"] = map[string]any{"eq": []string{q.User}}
	}
	if date := dateFilter(q.Since, time.Time{}); date != nil {
		filters["date"] = date
	}
	var out source.ActivityList
	err := c.page(ctx, "list activities", "/api/v1/activities/", filters, "desc", limitOr(q.Limit), &out.More, &out.Calls, func(raw json.RawMessage) error {
		var w wireActivity
		if err := json.Unmarshal(raw, &w); err != nil {
			return err
		}
		out.Activities = append(out.Activities, w.activity(c.name))
		return nil
	})
	return out, err
}

func limitOr(n int) int {
	if n <= 0 {
		return 20
	}
	return n
}

func dateFilter(since, until time.Time) map[string]any {
	switch {
	case !since.IsZero() && !until.IsZero():
		return map[string]any{"range": []map[string]int64{{"start": since.UnixMilli(), "end": until.UnixMilli()}}}
	case !since.IsZero():
		return map[string]any{"gte": since.UnixMilli()}
	case !until.IsZero():
		return map[string]any{"lte": until.UnixMilli()}
	}
	return nil
}

type listRequest struct {
	Filters       map[string]any `json:"filters"`
	Skip          int            `json:"skip"`
	Limit         int            `json:"limit"`
	SortField     string         `json:"sortField"`
	SortDirection string         `json:"sortDirection"`
}

type listResponse struct {
	Data    []json.RawMessage `json:"data"`
	HasNext bool              `json:"hasNext"`
	Total   int               `json:"total"`
}

// maxSkip is where MCAS stops honouring skip.
const maxSkip = 5000

// page follows hasNext with skip until limit records were seen.
func (c *Client) page(ctx context.Context, op, path string, filters map[string]any, dir string, limit int, more *bool, calls *int, each func(json.RawMessage) error) error {
	seen := 0
	for skip := 0; seen < limit; {
		size := min(PageSize, limit-seen)
		body, _ := json.Marshal(listRequest{Filters: filters, Skip: skip, Limit: size, SortField: "date", SortDirection: dir})
		resp, err := c.caller.Do(ctx, op, c.request(http.MethodPost, path, body))
		*calls++
		if err != nil {
			return err
		}
		var lr listResponse
		if err := json.Unmarshal(resp.Body, &lr); err != nil {
			return c.caller.Malformed(op, err)
		}
		for _, raw := range lr.Data {
			if seen == limit {
				*more = true
				return nil
			}
			if err := each(raw); err != nil {
				return c.caller.Malformed(op, err)
			}
			seen++
		}
		*more = lr.HasNext
		if !lr.HasNext || len(lr.Data) == 0 {
			return nil
		}
		skip += len(lr.Data)
		if skip >= maxSkip {
			return nil
		}
	}
	return nil
}

func (c *Client) request(method, path string, body []byte) func(ctx context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		u := c.base.JoinPath(path)
		// JoinPath drops the trailing slash MCAS expects.
		if strings.HasSuffix(path, "/") && !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		var rd *bytes.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
		if err != nil {
			return nil, err
		}
		auth, err := c.auth.Authorization(ctx)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", auth)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, nil
	}
}

func errorDetail(body []byte) string {
	var e struct {
		Detail string `json:"detail"`
		Error  string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	if e.Detail != "" {
		return e.Detail
	}
	return e.Error
}
