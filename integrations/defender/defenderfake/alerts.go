package defenderfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/soc/mcasbot/integrations/graph/graphfake"
)

// MaxTop is the largest $top the fake serves (what XSOAR pages alerts_v2 at).
const MaxTop = 2000

// Tenant is one directory's alerts, activities, updates and comments.
type Tenant struct {
	s        *Server
	id       string
	alerts   []Alert
	events   []Event
	updates  []Update
	comments map[string][]comment
}

// Update is one PATCH the fake applied.
type Update struct {
	ID   string
	Body map[string]string
	At   time.Time
}

type comment struct {
	Comment
	raw json.RawMessage
}

// AddAlerts adds alerts to the directory.
func (t *Tenant) AddAlerts(a ...Alert) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	for _, x := range a {
		if x.TenantID == "" {
			x.TenantID = t.id
		}
		x.created = time.Time{}
		x.created = x.Created()
		t.alerts = append(t.alerts, x)
	}
}

// SetAlerts replaces every alert.
func (t *Tenant) SetAlerts(a []Alert) {
	t.s.mu.Lock()
	t.alerts = nil
	t.s.mu.Unlock()
	t.AddAlerts(a...)
}

// AddEvents adds CloudAppEvents rows for hunting.
func (t *Tenant) AddEvents(e ...Event) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	t.events = append(t.events, e...)
}

// Alert is an alert as the fake holds it now.
func (t *Tenant) Alert(id string) (Alert, bool) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if i := t.index(id); i >= 0 {
		return t.alerts[i], true
	}
	return Alert{}, false
}

// Updates are the PATCHes applied so far.
func (t *Tenant) Updates() []Update {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	return slices.Clone(t.updates)
}

// Comments are an alert's comments, with each POST's body as sent.
func (t *Tenant) Comments(id string) (out []Comment, bodies []json.RawMessage) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	for _, c := range t.comments[id] {
		out = append(out, c.Comment)
		bodies = append(bodies, c.raw)
	}
	return out, bodies
}

// Resolve resolves an alert as someone in the Defender portal would.
func (t *Tenant) Resolve(id, classification, determination, assignedTo string, at time.Time) bool {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	i := t.index(id)
	if i < 0 {
		return false
	}
	a := &t.alerts[i]
	a.Status, a.Classification, a.Determination = Ptr("resolved"), Ptr(classification), Ptr(determination)
	if assignedTo != "" {
		a.AssignedTo = Ptr(assignedTo)
	}
	a.ResolvedDateTime, a.LastUpdateDateTime = Ptr(Time(at)), Time(at)
	return true
}

// index finds an alert; call under s.mu.
func (t *Tenant) index(id string) int {
	return slices.IndexFunc(t.alerts, func(a Alert) bool { return a.ID == id })
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, t *Tenant, _ []byte) {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "$filter", "$top", "$skip", "$count":
		default:
			graphfake.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Query option '%s' is not allowed. To allow it, set the 'AllowedQueryOptions' property on EnableQueryAttribute or QueryValidationSettings.", k))
			return
		}
	}
	top := 100
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxTop {
			graphfake.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid value '%s' for $top query option found. The limit of '%d' for Top query has been exceeded.", v, MaxTop))
			return
		}
		top = n
	}
	skip, _ := strconv.Atoi(q.Get("$skip"))
	preds, err := parseFilter(q.Get("$filter"))
	if err != nil {
		graphfake.WriteError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	s.mu.Lock()
	all := slices.Clone(t.alerts)
	page := top
	if s.pageSize > 0 {
		page = min(page, s.pageSize)
	}
	s.mu.Unlock()
	var match []Alert
	for _, a := range all {
		if !slices.ContainsFunc(preds, func(p predicate) bool { return !p(a) }) {
			match = append(match, a)
		}
	}
	// The most recent alerts first, as Graph lists them.
	slices.SortStableFunc(match, func(a, b Alert) int { return b.Created().Compare(a.Created()) })
	end := min(len(match), skip+page)
	values := []Alert{}
	if skip < len(match) {
		values = match[skip:end]
	}
	body := map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/alerts_v2", "value": values}
	if q.Get("$count") == "true" {
		body["@odata.count"] = len(match)
	}
	if end < len(match) {
		next := *r.URL
		next.Scheme, next.Host = "http", r.Host
		nq := next.Query()
		nq.Set("$skip", strconv.Itoa(end))
		nq.Set("$top", strconv.Itoa(top))
		next.RawQuery = strings.NewReplacer("%24", "$", "+", "%20").Replace(nq.Encode())
		body["@odata.nextLink"] = next.String()
	}
	writeJSON(w, body)
}

func notFound(w http.ResponseWriter, id string) {
	graphfake.WriteError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("Alert %s not found", id))
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, t *Tenant, _ []byte) {
	id := r.PathValue("id")
	a, ok := t.Alert(id)
	if !ok {
		notFound(w, id)
		return
	}
	writeJSON(w, a)
}

// pairs are the determinations Defender XDR takes with each classification.
var pairs = map[string][]string{
	"truePositive":                  {"multiStagedAttack", "maliciousUserActivity", "compromisedAccount", "malware", "phishing", "unwantedSoftware", "other"},
	"informationalExpectedActivity": {"securityTesting", "lineOfBusinessApplication", "confirmedActivity", "other"},
	"falsePositive":                 {"notMalicious", "notEnoughDataToValidate", "other"},
}

var updatable = map[string][]string{
	"status":         {"new", "inProgress", "resolved"},
	"classification": {"unknown", "falsePositive", "truePositive", "informationalExpectedActivity"},
	"determination": {"unknown", "apt", "malware", "securityPersonnel", "securityTesting", "unwantedSoftware", "other", "multiStagedAttack",
		"compromisedAccount", "phishing", "maliciousUserActivity", "notMalicious", "notEnoughDataToValidate", "confirmedActivity", "lineOfBusinessApplication"},
	"assignedTo": nil,
}

func (s *Server) patch(w http.ResponseWriter, r *http.Request, t *Tenant, raw []byte) {
	id := r.PathValue("id")
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil || body == nil {
		graphfake.WriteError(w, http.StatusBadRequest, "BadRequest", "Empty Payload")
		return
	}
	set := map[string]string{}
	for k, v := range body {
		members, known := updatable[k]
		if !known {
			graphfake.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("The property '%s' does not exist on type 'microsoft.graph.security.alert'. Make sure to only use property names that are defined by the type.", k))
			return
		}
		var sv string
		if json.Unmarshal(v, &sv) != nil {
			graphfake.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid value for property '%s'.", k))
			return
		}
		if members != nil && !slices.Contains(members, sv) {
			graphfake.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Requested value '%s' was not found.", sv))
			return
		}
		set[k] = sv
	}
	if d, ok := set["determination"]; ok {
		if c := set["classification"]; c != "" && c != "unknown" && !slices.Contains(pairs[c], d) {
			graphfake.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Determination '%s' does not match classification '%s'.", d, c))
			return
		}
	}
	now := s.now()
	s.mu.Lock()
	i := t.index(id)
	if i < 0 {
		s.mu.Unlock()
		notFound(w, id)
		return
	}
	a := &t.alerts[i]
	for k, v := range set {
		switch k {
		case "status":
			if v == "resolved" && (a.Status == nil || *a.Status != "resolved") {
				a.ResolvedDateTime = Ptr(Time(now))
			}
			a.Status = Ptr(v)
		case "classification":
			a.Classification = Ptr(v)
		case "determination":
			a.Determination = Ptr(v)
		case "assignedTo":
			a.AssignedTo = Ptr(v)
		}
	}
	a.LastUpdateDateTime = Time(now)
	t.updates = append(t.updates, Update{ID: id, Body: set, At: now})
	out := *a
	s.mu.Unlock()
	writeJSON(w, out)
}

func (s *Server) comment(w http.ResponseWriter, r *http.Request, t *Tenant, raw []byte) {
	id := r.PathValue("id")
	var c struct {
		Type    string `json:"@odata.type"`
		Comment string `json:"comment"`
	}
	// An array (what the generated SDKs send) is an empty payload to Graph.
	if err := json.Unmarshal(raw, &c); err != nil {
		graphfake.WriteError(w, http.StatusBadRequest, "BadRequest", "Empty Payload")
		return
	}
	if strings.TrimSpace(c.Comment) == "" {
		graphfake.WriteError(w, http.StatusBadRequest, "BadRequest", "The comment must not be empty.")
		return
	}
	now := s.now()
	s.mu.Lock()
	i := t.index(id)
	if i < 0 {
		s.mu.Unlock()
		notFound(w, id)
		return
	}
	cm := Comment{Comment: c.Comment, CreatedByDisplayName: s.Actor, CreatedDateTime: Time(now)}
	t.alerts[i].Comments = append(t.alerts[i].Comments, cm)
	t.comments[id] = append(t.comments[id], comment{Comment: cm, raw: append(json.RawMessage(nil), raw...)})
	all := slices.Clone(t.alerts[i].Comments)
	s.mu.Unlock()
	writeJSON(w, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.security.alertComment)", "value": all})
}
