// Package jirafake is an in-process Jira speaking REST v2 as Cloud or Data
// Center do: it validates issue fields the way Jira does (required fields,
// lengths, labels without spaces, custom fields that exist and are on the
// create screen) and answers 400 with errors{field: message}, 401, 429 with
// Retry-After; it takes comments (400 when empty or too long, 404 for an
// unknown issue); its search is eventually consistent, and on Cloud the
// removed /rest/api/2/search answers 410.
package jirafake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/soc/mcasbot/integrations/internal/fault"
)

// FieldType is how a custom field's value is shaped and limited.
type FieldType string

const (
	SingleLine FieldType = "string"   // ≤ 255
	URLField   FieldType = "url"      // ≤ 255
	Paragraph  FieldType = "textarea" // ≤ 32,767
	LabelsType FieldType = "labels"   // array of strings without spaces
)

// CustomField is a field of the site.
type CustomField struct {
	ID, Name string
	Type     FieldType
	OnScreen bool // on the create screen of the project's issue types
}

// Options configure the fake.
type Options struct {
	Cloud   bool
	User    string // Cloud: e-mail for basic auth
	Token   string // Cloud API token, or Data Center PAT
	Project string // default SEC
	// Projects are the site's other projects (a managed SOC's per-customer
	// projects): issues can be created and searched in each.
	Projects   []string
	IssueTypes []string
	Priorities []string
	Fields     []CustomField
	// SearchLag hides a new issue from search for this long.
	SearchLag time.Duration
	// PageSize caps maxResults of a search page (default 100), as Jira may
	// return fewer issues than asked for.
	PageSize int
	// Now, when set, is the site's clock (created, comment times); default
	// the wall clock.
	Now func() time.Time
}

// Issue is a created issue.
type Issue struct {
	ID, Key string
	Project string
	Fields  map[string]json.RawMessage
	Created time.Time
	// Workflow state (status.go): To Do until moved.
	Status, Resolution string
	Assignee           string // account id (Cloud) or username (Data Center)
	Deleted            bool
}

// Fault is an injected answer for the next request to a path prefix
// ("" = any request); its default body is Jira's errorMessages JSON.
type Fault = fault.Fault

// Server is a fake Jira site.
type Server struct {
	*httptest.Server
	opt Options

	faults fault.Queue

	mu          sync.Mutex
	issues      []Issue
	users       map[string]User
	requests    map[string]int
	comments    map[string][]Comment
	nextComment int
}

// New starts a fake Jira.
func New(opt Options) *Server {
	if len(opt.IssueTypes) == 0 {
		opt.IssueTypes = []string{"Task", "Bug", "Incident"}
	}
	if len(opt.Priorities) == 0 {
		opt.Priorities = []string{"Highest", "High", "Medium", "Low", "Lowest"}
	}
	if opt.Project == "" {
		opt.Project = "SEC"
	}
	s := &Server{opt: opt, requests: map[string]int{}, users: map[string]User{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /rest/api/2/issue", s.create)
	mux.HandleFunc("POST /rest/api/2/issue/{key}/comment", s.addComment)
	mux.HandleFunc("GET /rest/api/2/issue/{key}/comment", s.listComments)
	mux.HandleFunc("GET /rest/api/2/search/jql", s.searchJQL)
	mux.HandleFunc("POST /rest/api/2/search/jql", s.searchJQL)
	mux.HandleFunc("GET /rest/api/2/search", s.searchOld)
	mux.HandleFunc("GET /rest/api/2/myself", s.myself)
	mux.HandleFunc("GET /rest/api/2/field", s.fields)
	mux.HandleFunc("GET /rest/api/2/issue/createmeta/{project}/issuetypes", s.issueTypes)
	mux.HandleFunc("GET /rest/api/2/issue/createmeta/{project}/issuetypes/{id}", s.screen)
	s.Server = httptest.NewServer(s.guard(mux))
	return s
}

// Fail queues faults.
func (s *Server) Fail(f ...Fault) { s.faults.Add(f...) }

// SetLatency delays every answer.
func (s *Server) SetLatency(d time.Duration) { s.faults.SetLatency(d) }

// Issues returns what was created.
func (s *Server) Issues() []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issues)
}

// Requests counts requests by "METHOD path".
func (s *Server) Requests(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[key]
}

// AddIssue plants an existing issue (filed by hand, or before a restore).
func (s *Server) AddIssue(summary string, labels []string, age time.Duration) string {
	return s.AddIssueIn(s.opt.Project, summary, labels, age)
}

// AddIssueIn plants an existing issue in project.
func (s *Server) AddIssueIn(project, summary string, labels []string, age time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.add(project, map[string]any{"summary": summary, "labels": labels}, s.now().Add(-age)).Key
}

// hasProject reports whether the site has project key.
func (s *Server) hasProject(key string) bool {
	return key == s.opt.Project || slices.Contains(s.opt.Projects, key)
}

// add files an issue numbered after the project's last, as Jira's keys are.
func (s *Server) add(project string, fields map[string]any, at time.Time) Issue {
	n := 1
	for _, is := range s.issues {
		if is.Project == project {
			n++
		}
	}
	raw := map[string]json.RawMessage{}
	for k, v := range fields {
		b, _ := json.Marshal(v)
		raw[k] = b
	}
	is := Issue{ID: fmt.Sprint(10001 + len(s.issues)), Key: fmt.Sprintf("%s-%d", project, n), Project: project, Fields: raw, Created: at, Status: "To Do"}
	s.issues = append(s.issues, is)
	return is
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if s.opt.Cloud {
		return h == "Basic "+base64.StdEncoding.EncodeToString([]byte(s.opt.User+":"+s.opt.Token))
	}
	return h == "Bearer "+s.opt.Token
}

func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[r.Method+" "+r.URL.Path]++
		s.mu.Unlock()
		if s.faults.Apply(w, r, s.faults.Take(r.URL.Path), func(status int) string {
			return fmt.Sprintf(`{"errorMessages":[%q],"errors":{}}`, http.StatusText(status))
		}) {
			return
		}
		if !s.authorized(r) {
			// Jira Cloud answers 401 with a JSON body for REST calls.
			writeErr(w, http.StatusUnauthorized, []string{"Client must be authenticated to access this resource."}, nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeErr(w http.ResponseWriter, status int, msgs []string, fields map[string]string) {
	if msgs == nil {
		msgs = []string{}
	}
	if fields == nil {
		fields = map[string]string{}
	}
	writeJSON(w, status, map[string]any{"errorMessages": msgs, "errors": fields})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) field(id string) *CustomField {
	for i := range s.opt.Fields {
		if s.opt.Fields[i].ID == id {
			return &s.opt.Fields[i]
		}
	}
	return nil
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Fields map[string]json.RawMessage `json:"fields"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Fields == nil {
		writeErr(w, http.StatusBadRequest, []string{"Can not deserialize instance of com.atlassian.jira.rest.v2.issue.IssueUpdateBean"}, nil)
		return
	}
	errs := map[string]string{}
	var named struct {
		Project   struct{ Key string }   `json:"project"`
		IssueType struct{ Name string }  `json:"issuetype"`
		Priority  *struct{ Name string } `json:"priority"`
	}
	raw, _ := json.Marshal(body.Fields)
	_ = json.Unmarshal(raw, &named)
	if !s.hasProject(named.Project.Key) {
		errs["project"] = "valid project is required"
	}
	if !slices.Contains(s.opt.IssueTypes, named.IssueType.Name) {
		errs["issuetype"] = "valid issue type is required"
	}
	if named.Priority != nil && !slices.Contains(s.opt.Priorities, named.Priority.Name) {
		errs["priority"] = "The priority selected is invalid."
	}
	var summary string
	if json.Unmarshal(body.Fields["summary"], &summary) != nil || strings.TrimSpace(summary) == "" {
		errs["summary"] = "You must specify a summary of the issue."
	} else if utf8.RuneCountInString(summary) > 255 {
		errs["summary"] = "Summary must be less than 255 characters."
	} else if strings.ContainsAny(summary, "\n\r") {
		errs["summary"] = "The summary is invalid because it contains newline characters."
	}
	if d, ok := body.Fields["description"]; ok {
		var desc string
		if json.Unmarshal(d, &desc) != nil {
			errs["description"] = "Operation value must be a string"
		} else if utf8.RuneCountInString(desc) > 32767 {
			errs["description"] = "The entered text is too long. It exceeds the allowed limit of 32,767 characters."
		}
	}
	if l, ok := body.Fields["labels"]; ok {
		if msg := checkLabels(l); msg != "" {
			errs["labels"] = msg
		}
	}
	for k, v := range body.Fields {
		if !strings.HasPrefix(k, "customfield_") {
			continue
		}
		f := s.field(k)
		if f == nil || !f.OnScreen {
			errs[k] = fmt.Sprintf("Field '%s' cannot be set. It is not on the appropriate screen, or unknown.", k)
			continue
		}
		if msg := checkValue(f, v); msg != "" {
			errs[k] = msg
		}
	}
	if len(errs) > 0 {
		writeErr(w, http.StatusBadRequest, nil, errs)
		return
	}
	fields := map[string]any{}
	for k, v := range body.Fields {
		fields[k] = v
	}
	s.mu.Lock()
	is := s.add(named.Project.Key, fields, s.now())
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]string{"id": is.ID, "key": is.Key, "self": s.URL + "/rest/api/2/issue/" + is.ID})
}

func checkLabels(raw json.RawMessage) string {
	var labels []string
	if json.Unmarshal(raw, &labels) != nil {
		return "data was not an array"
	}
	for _, l := range labels {
		if strings.ContainsAny(l, " \t\n") {
			return fmt.Sprintf("The label '%s' contains spaces which is invalid.", l)
		}
		if utf8.RuneCountInString(l) > 255 || l == "" {
			return "The label must not be empty or longer than 255 characters."
		}
	}
	return ""
}

func checkValue(f *CustomField, raw json.RawMessage) string {
	switch f.Type {
	case LabelsType:
		return checkLabels(raw)
	case SingleLine, URLField, Paragraph:
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "Operation value must be a string"
		}
		limit := 255
		if f.Type == Paragraph {
			limit = 32767
		}
		if utf8.RuneCountInString(s) > limit {
			return fmt.Sprintf("The entered text is too long. It exceeds the allowed limit of %d characters.", limit)
		}
		if f.Type == URLField && s != "" && !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
			return "Not a valid URL"
		}
		if f.Type != Paragraph && strings.ContainsAny(s, "\n\r") {
			return "Single-line text cannot contain line breaks"
		}
	}
	return ""
}

var (
	projectClause = regexp.MustCompile(`(?i)\bproject\s*=\s*"?([A-Z][A-Z0-9_]*)"?`)
	labelClause   = regexp.MustCompile(`(?i)\blabels\s*=\s*"((?:[^"\\]|\\.)*)"`)
	keyInClause   = regexp.MustCompile(`(?i)\bkey\s+in\s*\(([^)]*)\)`)
)

// search runs a JQL query: `project = X [AND labels = "…"]…` or
// `key in (A-1, B-2)`. It fails like Jira: unbounded queries are refused,
// and a key that does not exist (never did, or was deleted) fails the
// whole query with one message per key. Issues younger than SearchLag are
// not in the index yet, so they are missing from results, though their
// keys are valid.
func (s *Server) search(jql string) ([]Issue, []string) {
	pm := projectClause.FindStringSubmatch(jql)
	km := keyInClause.FindStringSubmatch(jql)
	if pm == nil && km == nil {
		return nil, []string{"Unbounded JQL queries are not allowed here. Please add a search restriction to your query."}
	}
	var labels []string
	for _, m := range labelClause.FindAllStringSubmatch(jql, -1) {
		labels = append(labels, strings.ReplaceAll(m[1], `\"`, `"`))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	if km != nil {
		var problems []string
		for _, k := range strings.Split(km[1], ",") {
			k = strings.Trim(strings.TrimSpace(k), `"`)
			if is := s.find(k); is == nil || is.Deleted {
				problems = append(problems, fmt.Sprintf("An issue with key '%s' does not exist for field 'key'.", k))
			}
			keys = append(keys, k)
		}
		if len(problems) > 0 {
			return nil, problems
		}
	}
	var out []Issue
	for _, is := range s.issues {
		if is.Deleted || (pm != nil && pm[1] != is.Project) || s.now().Sub(is.Created) < s.opt.SearchLag {
			continue
		}
		if km != nil && !slices.Contains(keys, is.Key) {
			continue
		}
		var have []string
		_ = json.Unmarshal(is.Fields["labels"], &have)
		ok := true
		for _, l := range labels {
			ok = ok && slices.Contains(have, l)
		}
		if ok {
			out = append(out, is)
		}
	}
	return out, nil
}

// page reads maxResults (default 50, at most PageSize) and the offset.
func (s *Server) page(r *http.Request, token bool) (offset, limit int) {
	limit = 50
	if n, err := strconv.Atoi(r.URL.Query().Get("maxResults")); err == nil && n > 0 {
		limit = n
	}
	most := s.opt.PageSize
	if most <= 0 {
		most = 100
	}
	limit = min(limit, most)
	if token {
		offset, _ = strconv.Atoi(r.URL.Query().Get("nextPageToken"))
	} else {
		offset, _ = strconv.Atoi(r.URL.Query().Get("startAt"))
	}
	return offset, limit
}

func (s *Server) searchJQL(w http.ResponseWriter, r *http.Request) {
	if !s.opt.Cloud {
		writeErr(w, http.StatusNotFound, []string{"null for uri: /rest/api/2/search/jql"}, nil)
		return
	}
	jql := r.URL.Query().Get("jql")
	if r.Method == http.MethodPost {
		var b struct{ JQL string }
		_ = json.NewDecoder(r.Body).Decode(&b)
		jql = b.JQL
	}
	found, problems := s.search(jql)
	if problems != nil {
		writeErr(w, http.StatusBadRequest, problems, nil)
		return
	}
	offset, limit := s.page(r, true)
	found = found[min(offset, len(found)):]
	resp := map[string]any{"isLast": len(found) <= limit}
	if len(found) > limit {
		found = found[:limit]
		resp["nextPageToken"] = strconv.Itoa(offset + limit)
	}
	resp["issues"] = s.view(found, r.URL.Query().Get("fields"))
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) searchOld(w http.ResponseWriter, r *http.Request) {
	if s.opt.Cloud {
		writeErr(w, http.StatusGone, []string{"The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"}, nil)
		return
	}
	found, problems := s.search(r.URL.Query().Get("jql"))
	if problems != nil {
		writeErr(w, http.StatusBadRequest, problems, nil)
		return
	}
	offset, limit := s.page(r, false)
	total := len(found)
	found = found[min(offset, len(found)):]
	found = found[:min(limit, len(found))]
	writeJSON(w, http.StatusOK, map[string]any{"startAt": offset, "maxResults": limit, "total": total, "issues": s.view(found, r.URL.Query().Get("fields"))})
}

// view shapes issues as search returns them, with the fields asked for
// (default: summary).
func (s *Server) view(is []Issue, fields string) []map[string]any {
	want := strings.Split(fields, ",")
	if fields == "" {
		want = []string{"summary"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, i := range is {
		f := map[string]any{}
		for _, name := range want {
			switch strings.TrimSpace(name) {
			case "summary":
				var summary string
				_ = json.Unmarshal(i.Fields["summary"], &summary)
				f["summary"] = summary
			case "labels":
				labels := []string{}
				_ = json.Unmarshal(i.Fields["labels"], &labels)
				f["labels"] = labels
			case "status":
				f["status"] = statusView(i.Status)
			case "resolution":
				f["resolution"] = nil
				if i.Resolution != "" {
					f["resolution"] = map[string]string{"name": i.Resolution}
				}
			case "assignee":
				f["assignee"] = s.userView(i.Assignee)
			}
		}
		out = append(out, map[string]any{"id": i.ID, "key": i.Key, "self": s.URL + "/rest/api/2/issue/" + i.ID, "fields": f})
	}
	return out
}

func (s *Server) myself(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"name": "mcasbot", "displayName": "mcasbot service account", "emailAddress": s.opt.User})
}

func (s *Server) fields(w http.ResponseWriter, r *http.Request) {
	out := []map[string]any{
		{"id": "summary", "name": "Summary", "custom": false, "schema": map[string]string{"type": "string"}},
		{"id": "description", "name": "Description", "custom": false, "schema": map[string]string{"type": "string"}},
		{"id": "labels", "name": "Labels", "custom": false, "schema": map[string]string{"type": "array"}},
		{"id": "priority", "name": "Priority", "custom": false, "schema": map[string]string{"type": "priority"}},
	}
	for _, f := range s.opt.Fields {
		out = append(out, map[string]any{"id": f.ID, "name": f.Name, "custom": true, "schema": map[string]string{"type": string(f.Type)}})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) issueTypes(w http.ResponseWriter, r *http.Request) {
	if !s.hasProject(r.PathValue("project")) {
		writeErr(w, http.StatusNotFound, []string{"No project could be found with key '" + r.PathValue("project") + "'."}, nil)
		return
	}
	var vals []map[string]string
	for i, t := range s.opt.IssueTypes {
		vals = append(vals, map[string]string{"id": fmt.Sprint(10001 + i), "name": t})
	}
	writeJSON(w, http.StatusOK, map[string]any{"values": vals, "isLast": true})
}

func (s *Server) screen(w http.ResponseWriter, r *http.Request) {
	vals := []map[string]any{{"fieldId": "summary", "required": true}, {"fieldId": "description"}, {"fieldId": "labels"}, {"fieldId": "priority"}}
	for _, f := range s.opt.Fields {
		if f.OnScreen {
			vals = append(vals, map[string]any{"fieldId": f.ID, "name": f.Name})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"values": vals, "isLast": true})
}

func (s *Server) now() time.Time {
	if s.opt.Now != nil {
		return s.opt.Now().UTC()
	}
	return time.Now().UTC()
}
