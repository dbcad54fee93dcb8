// Package jira is a small Jira REST v2 client: create an issue, find issues
// by label, and the discovery calls `bot check` uses. v2 with a wiki-markup
// description works on both Cloud and Data Center.
package jira

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/soc/mcasbot/integrations/httpx"
)

// Deployment selects the search API: Cloud removed /rest/api/2/search.
type Deployment string

const (
	Cloud      Deployment = "cloud"
	DataCenter Deployment = "datacenter"
)

// Config for the client. Cloud uses User + APIToken (basic auth); Data
// Center uses a personal access token (bearer).
type Config struct {
	URL        string // site URL, or https://api.atlassian.com/ex/jira/<cloudId> for scoped tokens
	User       string
	APIToken   string
	PAT        string
	Deployment Deployment    // default: Cloud with APIToken, DataCenter with PAT
	Timeout    time.Duration // per request, default 20s
	Attempts   int           // default 3
}

// Client talks to one Jira site.
type Client struct {
	base   string
	auth   string
	deploy Deployment
	caller *httpx.Caller
	create *httpx.Caller // never retries ambiguous failures
}

// New checks cfg and returns a client.
func New(cfg Config, hc *http.Client, logger *slog.Logger) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("jira: URL %q is not an http(s) URL", cfg.URL)
	}
	var auth string
	switch {
	case cfg.PAT != "" && cfg.APIToken != "":
		return nil, errors.New("jira: set either an API token (Cloud) or a personal access token (Data Center), not both")
	case cfg.PAT != "":
		auth = "Bearer " + cfg.PAT
		if cfg.Deployment == "" {
			cfg.Deployment = DataCenter
		}
	case cfg.APIToken != "" && cfg.User != "":
		auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.User+":"+cfg.APIToken))
		if cfg.Deployment == "" {
			cfg.Deployment = Cloud
		}
	case cfg.APIToken != "":
		return nil, errors.New("jira: an API token needs the account's e-mail as user")
	default:
		return nil, errors.New("jira: no credentials (API token with user, or personal access token)")
	}
	if cfg.Deployment != Cloud && cfg.Deployment != DataCenter {
		return nil, fmt.Errorf("jira: deployment %q is neither cloud nor datacenter", cfg.Deployment)
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
	c := &Client{base: u.String(), auth: auth, deploy: cfg.Deployment}
	c.caller = &httpx.Caller{Service: "jira", Client: hc, Timeout: cfg.Timeout, Attempts: cfg.Attempts, Detail: errorDetail,
		MaxRetryAfter: time.Minute, Logger: logger.With("integration", "jira")}
	// A create that timed out or got a 500/502/504 may have happened: retrying
	// could file a second issue. Only retry what Jira surely did not process.
	create := *c.caller
	create.Retry = func(status int) bool {
		return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
	}
	create.NoTransportRetry = true
	c.create = &create
	return c, nil
}

// Caller exposes the HTTP callers so wiring can attach metrics hooks.
func (c *Client) Callers() []*httpx.Caller { return []*httpx.Caller{c.caller, c.create} }

// Deployment is Cloud or DataCenter.
func (c *Client) Deployment() Deployment { return c.deploy }

// BrowseURL is the human link to an issue.
func (c *Client) BrowseURL(key string) string { return c.base + "/browse/" + url.PathEscape(key) }

// Issue is what to create. Custom maps field ids (customfield_10050) to
// values already shaped for their type.
type Issue struct {
	Project     string
	IssueType   string
	Summary     string
	Description string // wiki markup
	Priority    string // name; empty leaves Jira's default
	Labels      []string
	Custom      map[string]any
}

// Created is a new issue.
type Created struct {
	ID, Key, URL string
}

// Create files an issue.
func (c *Client) Create(ctx context.Context, is Issue) (Created, error) {
	const op = "create issue"
	fields := map[string]any{
		"project":     map[string]string{"key": is.Project},
		"issuetype":   map[string]string{"name": is.IssueType},
		"summary":     is.Summary,
		"description": is.Description,
		"labels":      is.Labels,
	}
	if is.Priority != "" {
		fields["priority"] = map[string]string{"name": is.Priority}
	}
	for k, v := range is.Custom {
		fields[k] = v
	}
	body, err := json.Marshal(map[string]any{"fields": fields})
	if err != nil {
		return Created{}, err
	}
	resp, err := c.create.Do(ctx, op, c.request(http.MethodPost, "/rest/api/2/issue", nil, body))
	if err != nil {
		return Created{}, err
	}
	var out struct {
		ID, Key, Self string
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil || out.Key == "" {
		if err == nil {
			err = errors.New("no key in response")
		}
		return Created{}, c.caller.Malformed(op, err)
	}
	return Created{ID: out.ID, Key: out.Key, URL: c.BrowseURL(out.Key)}, nil
}

// Found is an existing issue.
type Found struct {
	Key, URL, Summary string
	Labels            []string
}

// FindByLabel finds issues in project carrying every one of labels. On Cloud it uses
// /search/jql (the old /search answers 410 there); on Data Center /search.
// Cloud's results are eventually consistent: a just-created issue can be
// missing, so this is a fallback behind the local record, never the guard.
func (c *Client) FindByLabel(ctx context.Context, project string, labels ...string) ([]Found, error) {
	const op = "search issues"
	jql := "project = " + quoteJQL(project)
	for _, l := range labels {
		jql += " AND labels = " + quoteJQL(l)
	}
	q := url.Values{"jql": {jql}, "fields": {"summary,labels"}, "maxResults": {"10"}}
	path := "/rest/api/2/search/jql"
	if c.deploy == DataCenter {
		path = "/rest/api/2/search"
	}
	resp, err := c.caller.Do(ctx, op, c.request(http.MethodGet, path, q, nil))
	if err != nil {
		return nil, err
	}
	var out struct {
		Issues []struct {
			Key    string `json:"key"`
			Fields struct {
				Summary string   `json:"summary"`
				Labels  []string `json:"labels"`
			} `json:"fields"`
		} `json:"issues"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return nil, c.caller.Malformed(op, err)
	}
	found := make([]Found, 0, len(out.Issues))
	for _, is := range out.Issues {
		found = append(found, Found{Key: is.Key, URL: c.BrowseURL(is.Key), Summary: is.Fields.Summary, Labels: is.Fields.Labels})
	}
	return found, nil
}

// quoteJQL quotes a JQL string value.
func quoteJQL(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Myself returns the authenticated account's display name.
func (c *Client) Myself(ctx context.Context) (string, error) {
	const op = "read own account"
	resp, err := c.caller.Do(ctx, op, c.request(http.MethodGet, "/rest/api/2/myself", nil, nil))
	if err != nil {
		return "", err
	}
	var me struct {
		DisplayName  string `json:"displayName"`
		Name         string `json:"name"`
		EmailAddress string `json:"emailAddress"`
	}
	if err := json.Unmarshal(resp.Body, &me); err != nil {
		return "", c.caller.Malformed(op, err)
	}
	if me.DisplayName != "" {
		return me.DisplayName, nil
	}
	return me.Name, nil
}

// Field is one field of the site.
type Field struct {
	ID, Name, Type string
	Custom         bool
}

// Fields lists every field of the site.
func (c *Client) Fields(ctx context.Context) ([]Field, error) {
	const op = "list fields"
	resp, err := c.caller.Do(ctx, op, c.request(http.MethodGet, "/rest/api/2/field", nil, nil))
	if err != nil {
		return nil, err
	}
	var raw []struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Custom bool   `json:"custom"`
		Schema struct {
			Type string `json:"type"`
		} `json:"schema"`
	}
	if err := json.Unmarshal(resp.Body, &raw); err != nil {
		return nil, c.caller.Malformed(op, err)
	}
	out := make([]Field, len(raw))
	for i, f := range raw {
		out[i] = Field{ID: f.ID, Name: f.Name, Type: f.Schema.Type, Custom: f.Custom}
	}
	return out, nil
}

// CreateScreen lists the field ids on the create screen of a project's
// issue type, or a *httpx.Error of KindNotFound when either is missing.
func (c *Client) CreateScreen(ctx context.Context, project, issueType string) ([]string, error) {
	const op = "read create screen"
	resp, err := c.caller.Do(ctx, op, c.request(http.MethodGet, "/rest/api/2/issue/createmeta/"+url.PathEscape(project)+"/issuetypes", nil, nil))
	if err != nil {
		return nil, err
	}
	var types struct {
		Values     []struct{ ID, Name string } `json:"values"`
		IssueTypes []struct{ ID, Name string } `json:"issueTypes"`
	}
	if err := json.Unmarshal(resp.Body, &types); err != nil {
		return nil, c.caller.Malformed(op, err)
	}
	id := ""
	var names []string
	for _, t := range append(types.Values, types.IssueTypes...) {
		names = append(names, t.Name)
		if strings.EqualFold(t.Name, issueType) {
			id = t.ID
		}
	}
	if id == "" {
		sort.Strings(names)
		return nil, &httpx.Error{Service: "jira", Op: op, Kind: httpx.KindNotFound,
			Detail: fmt.Sprintf("issue type %q is not in project %s (it has: %s)", issueType, project, strings.Join(names, ", "))}
	}
	resp, err = c.caller.Do(ctx, op, c.request(http.MethodGet, "/rest/api/2/issue/createmeta/"+url.PathEscape(project)+"/issuetypes/"+url.PathEscape(id), nil, nil))
	if err != nil {
		return nil, err
	}
	var fields struct {
		Values []struct {
			FieldID string `json:"fieldId"`
		} `json:"values"`
		Fields []struct {
			FieldID string `json:"fieldId"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(resp.Body, &fields); err != nil {
		return nil, c.caller.Malformed(op, err)
	}
	var out []string
	for _, f := range append(fields.Values, fields.Fields...) {
		out = append(out, f.FieldID)
	}
	return out, nil
}

func (c *Client) request(method, path string, q url.Values, body []byte) func(ctx context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		u := c.base + path
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", c.auth)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, nil
	}
}

// errorDetail turns Jira's {"errorMessages":[…],"errors":{field:msg}} into
// one line that names each rejected field.
func errorDetail(body []byte) string {
	var e struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	parts := append([]string{}, e.ErrorMessages...)
	keys := make([]string, 0, len(e.Errors))
	for k := range e.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+": "+e.Errors[k])
	}
	return strings.Join(parts, "; ")
}
