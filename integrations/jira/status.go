package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/soc/mcasbot/integrations/httpx"
)

// Status categories, as Jira names them (statusCategory.key).
const (
	CategoryNew        = "new"
	CategoryInProgress = "indeterminate"
	CategoryDone       = "done"
)

// Status is where an issue stands in Jira.
type Status struct {
	Key        string
	Name       string // "In Progress"
	Category   string // new, indeterminate or done
	Resolution string // "" while unresolved, e.g. "Fixed"
	Assignee   *Person
}

// Person is a Jira user. Cloud hides Email unless the user's privacy
// settings allow it; Data Center has Name (the username) instead of an
// account id.
type Person struct {
	AccountID   string
	Name        string
	DisplayName string
	Email       string
}

// ID identifies a person across reads: the account id (Cloud) or username.
func (p *Person) ID() string {
	if p == nil {
		return ""
	}
	if p.AccountID != "" {
		return p.AccountID
	}
	return p.Name
}

// Statuses is what a status read found.
type Statuses struct {
	Found map[string]Status
	// Gone are keys Jira says do not exist: deleted, or no longer visible
	// to mcasbot's account.
	Gone []string
	// Searches counts the search requests made (pages and retries after a
	// gone key included).
	Searches int
}

// StatusBatch is how many keys one search names.
const StatusBatch = 100

// issueKey is what a Jira key looks like; anything else never reaches JQL.
var issueKey = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,254}-[1-9][0-9]{0,17}$`)

// goneKey is Jira's answer when a key in `key in (…)` does not exist: the
// whole search fails with 400 naming it.
var goneKey = regexp.MustCompile(`An issue with key '([^']+)' does not exist`)

// ReadStatuses reads the status, status category, resolution and assignee
// of keys with one JQL search per batch of up to StatusBatch keys. A key
// Jira says does not exist fails the whole search (400): it is dropped,
// reported in Gone, and the batch searched again. A key that is neither
// found nor gone (Cloud's search lags behind a just-created issue) is
// simply missing from Found. Malformed keys are ignored.
func (c *Client) ReadStatuses(ctx context.Context, keys []string) (Statuses, error) {
	out := Statuses{Found: map[string]Status{}}
	var valid []string
	for _, k := range keys {
		if issueKey.MatchString(k) && !slices.Contains(valid, k) {
			valid = append(valid, k)
		}
	}
	for batch := range slices.Chunk(valid, StatusBatch) {
		batch = slices.Clone(batch)
		for len(batch) > 0 {
			found, n, err := c.searchKeys(ctx, batch)
			out.Searches += n
			if err == nil {
				for _, s := range found {
					out.Found[s.Key] = s
				}
				break
			}
			gone := goneKeys(err, batch)
			if len(gone) == 0 {
				return out, err
			}
			out.Gone = append(out.Gone, gone...)
			batch = slices.DeleteFunc(batch, func(k string) bool { return slices.Contains(gone, k) })
		}
	}
	return out, nil
}

// goneKeys are the keys of batch that a 400 names as not existing.
func goneKeys(err error, batch []string) []string {
	e, ok := errors.AsType[*httpx.Error](err)
	if !ok || e.Status != http.StatusBadRequest {
		return nil
	}
	var out []string
	for _, m := range goneKey.FindAllStringSubmatch(e.Detail, -1) {
		if slices.Contains(batch, m[1]) && !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

type wireStatusIssue struct {
	Key    string `json:"key"`
	Fields struct {
		Status *struct {
			Name           string `json:"name"`
			StatusCategory struct {
				Key string `json:"key"`
			} `json:"statusCategory"`
		} `json:"status"`
		Assignee *struct {
			AccountID    string `json:"accountId"`
			Name         string `json:"name"`
			DisplayName  string `json:"displayName"`
			EmailAddress string `json:"emailAddress"`
		} `json:"assignee"`
		Resolution *struct {
			Name string `json:"name"`
		} `json:"resolution"`
	} `json:"fields"`
}

func (w wireStatusIssue) status() Status {
	s := Status{Key: w.Key}
	if st := w.Fields.Status; st != nil {
		s.Name, s.Category = st.Name, st.StatusCategory.Key
	}
	if r := w.Fields.Resolution; r != nil {
		s.Resolution = r.Name
	}
	if a := w.Fields.Assignee; a != nil {
		s.Assignee = &Person{AccountID: a.AccountID, Name: a.Name, DisplayName: a.DisplayName, Email: a.EmailAddress}
	}
	return s
}

// searchKeys runs one `key in (…)` search, following its pages, and
// returns the issues and the number of requests made.
func (c *Client) searchKeys(ctx context.Context, keys []string) ([]Status, int, error) {
	const op = "read issue statuses"
	jql := "key in (" + strings.Join(keys, ", ") + ")"
	q := url.Values{"jql": {jql}, "fields": {"status,assignee,resolution"}, "maxResults": {strconv.Itoa(StatusBatch)}}
	path := "/rest/api/2/search/jql"
	if c.deploy == DataCenter {
		path = "/rest/api/2/search"
	}
	var out []Status
	for n := 1; ; n++ {
		resp, err := c.caller.Do(ctx, op, c.request(http.MethodGet, path, q, nil))
		if err != nil {
			return out, n, err
		}
		var page struct {
			Issues        []wireStatusIssue `json:"issues"`
			NextPageToken string            `json:"nextPageToken"`
			IsLast        *bool             `json:"isLast"`
			StartAt       int               `json:"startAt"`
			Total         int               `json:"total"`
		}
		if err := json.Unmarshal(resp.Body, &page); err != nil {
			return out, n, c.caller.Malformed(op, err)
		}
		for _, is := range page.Issues {
			out = append(out, is.status())
		}
		// A page can never hold more than the batch; the guard stops a
		// server that keeps handing out pages.
		if n > len(keys) {
			return out, n, c.caller.Malformed(op, fmt.Errorf("more than %d pages for %d keys", n, len(keys)))
		}
		if c.deploy == DataCenter {
			next := page.StartAt + len(page.Issues)
			if len(page.Issues) == 0 || next >= page.Total {
				return out, n, nil
			}
			q.Set("startAt", strconv.Itoa(next))
			continue
		}
		if page.NextPageToken == "" || (page.IsLast != nil && *page.IsLast) {
			return out, n, nil
		}
		q.Set("nextPageToken", page.NextPageToken)
	}
}
