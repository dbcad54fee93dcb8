// Package graph reads from Microsoft Graph the one thing mcasbot needs:
// which groups a user is in (directly or through nested groups), for the
// priority rules that test group membership. It signs in with the tenant's
// Entra ID credential (application permission GroupMember.Read.All) and
// caches each user's groups. An alert may name its user by a mail address
// that is not the UPN: that user is then found by mail and other mail
// addresses, which needs User.Read.All too.
package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/patrickmn/go-cache"
	"golang.org/x/sync/singleflight"

	"github.com/soc/mcasbot/integrations/httpx"
)

// DefaultURL is Graph in Microsoft's public cloud.
const DefaultURL = "https://graph.microsoft.com"

// ScopeFor is the token scope for a Graph base URL: the base itself for
// Microsoft's Graph hosts (public and sovereign clouds), else the public
// one (a proxy or a test fake stands in for it).
func ScopeFor(base string) string {
	u, err := url.Parse(base)
	if err == nil {
		switch strings.ToLower(u.Hostname()) {
		case "graph.microsoft.com", "graph.microsoft.us", "dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn":
			return "https://" + strings.ToLower(u.Hostname()) + "/.default"
		}
	}
	return DefaultURL + "/.default"
}

// TokenSource hands out Entra ID tokens per scope (*entra.Credential).
type TokenSource interface {
	Token(ctx context.Context, scope string) (string, error)
}

// Config is one tenant's Graph.
type Config struct {
	URL      string        // default DefaultURL
	Timeout  time.Duration // per request (default 10s)
	Attempts int           // for 429 and 5xx (default 3)
	CacheTTL time.Duration // how long a user's groups, and who has an address, are kept (default 1h)
	// NotFoundTTL is how long an address that no user (or more than one)
	// has is remembered (default 5m): long enough that a bad address
	// costs no calls per alert, short enough for a fixed directory.
	NotFoundTTL time.Duration
}

// Client reads one tenant's directory.
type Client struct {
	base   *url.URL
	scope  string
	tokens TokenSource
	caller *httpx.Caller
	cache  *cache.Cache // user (UPN or id) → groups
	mails  *cache.Cache // address that is no UPN → user id, or the error finding it
	group  singleflight.Group

	notFoundTTL time.Duration
}

// maxPages stops a paging loop that would not end.
const maxPages = 100

// New checks cfg and returns a client for tenant.
func New(cfg Config, tenant string, tokens TokenSource, hc *http.Client, logger *slog.Logger) (*Client, error) {
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("graph: URL %q is not an http(s) URL", cfg.URL)
	}
	if tokens == nil {
		return nil, fmt.Errorf("graph %s: no Entra ID credential", tenant)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = time.Hour
	}
	if cfg.NotFoundTTL <= 0 {
		cfg.NotFoundTTL = 5 * time.Minute
	}
	c := &Client{base: u, scope: ScopeFor(cfg.URL), tokens: tokens, cache: cache.New(cfg.CacheTTL, 10*time.Minute),
		mails: cache.New(cfg.CacheTTL, 10*time.Minute), notFoundTTL: cfg.NotFoundTTL}
	c.caller = &httpx.Caller{
		Service:  "graph " + tenant,
		Client:   hc,
		Timeout:  cfg.Timeout,
		Attempts: cfg.Attempts,
		Detail:   ErrorDetail,
		Logger:   logger.With("integration", "graph", "tenant", tenant),
	}
	return c, nil
}

// Caller exposes the HTTP caller so wiring can attach metrics hooks.
func (c *Client) Caller() *httpx.Caller { return c.caller }

// Groups returns the display names of the groups user (a UPN, object id
// or mail address) belongs to, directly or through nested groups, sorted.
// A mail address that is no UPN is looked up by mail and other mail
// addresses.
func (c *Client) Groups(ctx context.Context, user string) ([]string, error) {
	key := strings.TrimSpace(user)
	// Checked before ToLower, which turns invalid UTF-8 into U+FFFD.
	if !plausible(key) {
		return nil, &httpx.Error{Service: c.caller.Service, Op: "list groups", Kind: httpx.KindBadRequest,
			Detail: fmt.Sprintf("%q is not a user principal name or mail address", user)}
	}
	key = strings.ToLower(key)
	if v, ok := c.mails.Get(key); ok {
		if err, ok := v.(error); ok {
			return nil, err
		}
		key = v.(string)
	}
	if v, ok := c.cache.Get(key); ok {
		return v.([]string), nil
	}
	ch := c.group.DoChan(key, func() (any, error) { return c.lookup(ctx, key) })
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.([]string), nil
	case <-ctx.Done():
		return nil, &httpx.Error{Service: c.caller.Service, Op: "list groups", Kind: httpx.KindTimeout, Err: ctx.Err()}
	}
}

// plausible reports whether user can be sent to Graph: it goes into a URL
// path (so no separators) and, as a mail address, into a filter.
func plausible(user string) bool {
	if user == "" || user == "." || user == ".." || len(user) > 1024 || !utf8.ValidString(user) || strings.ContainsAny(user, "/\\?#") {
		return false
	}
	return !strings.ContainsFunc(user, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) })
}

// lookup reads user's groups and caches them. A mail address Graph does
// not know as a UPN (404) is then looked up by mail, and the groups read
// by the user id found.
func (c *Client) lookup(ctx context.Context, user string) ([]string, error) {
	groups, err := c.fetch(ctx, user)
	if httpx.KindOf(err) == httpx.KindNotFound && mailLike(user) {
		var id string
		if id, err = c.findByMail(ctx, user); err != nil {
			return nil, err
		}
		user = id
		if v, ok := c.cache.Get(id); ok {
			return v.([]string), nil
		}
		groups, err = c.fetch(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	c.cache.SetDefault(user, groups)
	return groups, nil
}

func (c *Client) fetch(ctx context.Context, user string) ([]string, error) {
	const op = "list groups"
	next := c.base.JoinPath("v1.0", "users", user, "transitiveMemberOf", "microsoft.graph.group")
	// Graph wants the $ of its query options as is.
	next.RawQuery = "$select=displayName&$top=999"
	var out []string
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, &httpx.Error{Service: c.caller.Service, Op: op, Kind: httpx.KindBadResponse, Detail: fmt.Sprintf("more than %d pages of groups", maxPages)}
		}
		target := next.String()
		resp, err := c.caller.Do(ctx, op, c.request(target, false))
		if err != nil {
			return nil, explain(err, "grant the application GroupMember.Read.All, with admin consent")
		}
		var body struct {
			Value []struct {
				DisplayName string `json:"displayName"`
			} `json:"value"`
			NextLink string `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(resp.Body, &body); err != nil {
			return nil, c.caller.Malformed(op, err)
		}
		for _, g := range body.Value {
			if g.DisplayName != "" {
				out = append(out, g.DisplayName)
			}
		}
		if body.NextLink == "" {
			break
		}
		// The token goes only to the Graph it was asked for.
		n, err := url.Parse(body.NextLink)
		if err != nil || n.Scheme != c.base.Scheme || !strings.EqualFold(n.Host, c.base.Host) {
			return nil, &httpx.Error{Service: c.caller.Service, Op: op, Kind: httpx.KindBadResponse, Detail: "@odata.nextLink leaves " + c.base.Host}
		}
		next = n
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return slices.Compact(out), nil
}

// request builds a GET of target; advanced adds the header of Graph's
// advanced queries.
func (c *Client) request(target string, advanced bool) func(ctx context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		tok, err := c.tokens.Token(ctx, c.scope)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		if advanced {
			req.Header.Set("ConsistencyLevel", "eventual")
		}
		return req, nil
	}
}

// explain adds what to do to Graph's answers that need an administrator.
func explain(err error, todo string) error {
	var e *httpx.Error
	if errors.As(err, &e) && e.Status == http.StatusForbidden {
		c := *e
		c.Detail += " (" + todo + ")"
		return &c
	}
	return err
}

// ErrorDetail reads Graph's error body, {"error":{"code","message"}}, as
// "code: message" (either alone when the other is missing), for
// httpx.Caller's Detail; "" when the body is not one.
func ErrorDetail(body []byte) string {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || (e.Error.Code == "" && e.Error.Message == "") {
		return ""
	}
	switch {
	case e.Error.Message == "":
		return e.Error.Code
	case e.Error.Code == "":
		return e.Error.Message
	}
	return e.Error.Code + ": " + e.Error.Message
}

// Directory looks up users' groups in each tenant's own directory.
type Directory struct {
	Clients map[string]*Client // by tenant name
}

// Groups implements the filing service's group lookup.
func (d Directory) Groups(ctx context.Context, tenant, user string) ([]string, error) {
	c, ok := d.Clients[tenant]
	if !ok {
		return nil, fmt.Errorf("%s signs in with a legacy MCAS token, not Entra ID, so Microsoft Graph cannot be asked", tenant)
	}
	return c.Groups(ctx, user)
}
