package defenderfake

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/soc/mcasbot/integrations/graph/graphfake"
)

// huntRE is the one query shape the fake runs: CloudAppEvents from a
// time, one equality on a column, a projection, newest first, a take.
var huntRE = regexp.MustCompile(`^CloudAppEvents \| where Timestamp >= datetime\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)\) \| where (IPAddress|AccountId) =~ "((?:[^"\\]|\\.)*)" \| project ([A-Za-z]+(?:, [A-Za-z]+)*) \| order by Timestamp desc \| take (\d+)$`)

var timespanRE = regexp.MustCompile(`^P(\d+)D$`)

// HuntingQueries are the KQL queries received so far, in order.
func (s *Server) HuntingQueries() []string {
	var out []string
	for _, r := range s.Requests() {
		if strings.HasSuffix(r.Path, "/runHuntingQuery") {
			var body map[string]string
			_ = json.Unmarshal(r.Body, &body)
			for k, v := range body {
				if strings.EqualFold(k, "query") {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

func (s *Server) hunt(w http.ResponseWriter, r *http.Request, t *Tenant, raw []byte) {
	var body map[string]json.RawMessage
	if json.Unmarshal(raw, &body) != nil {
		graphfake.WriteError(w, http.StatusBadRequest, "BadRequest", "Empty Payload")
		return
	}
	var query, span string
	for k, v := range body {
		switch strings.ToLower(k) {
		case "query":
			_ = json.Unmarshal(v, &query)
		case "timespan":
			_ = json.Unmarshal(v, &span)
		}
	}
	m := huntRE.FindStringSubmatch(query)
	if m == nil {
		graphfake.WriteError(w, http.StatusBadRequest, "BadRequest", "Query could not be parsed: the fake runs only mcasbot's CloudAppEvents query.")
		return
	}
	from, _ := time.Parse(time.RFC3339Nano, m[1])
	col, value := m[2], unescapeKQL(m[3])
	cols := strings.Split(m[4], ", ")
	take, _ := strconv.Atoi(m[5])
	for _, c := range cols {
		if _, ok := columnTypes[c]; !ok {
			graphfake.WriteError(w, http.StatusBadRequest, "BadRequest", "Semantic error: 'project' operator: Failed to resolve scalar expression named '"+c+"'")
			return
		}
	}
	now := s.now()
	days := 30 // advanced hunting's default and its limit
	if span != "" {
		sm := timespanRE.FindStringSubmatch(span)
		if sm == nil {
			graphfake.WriteError(w, http.StatusBadRequest, "BadRequest", "Invalid timespan '"+span+"'.")
			return
		}
		days, _ = strconv.Atoi(sm[1])
		days = min(days, 30)
	}
	oldest := now.Add(-time.Duration(days) * 24 * time.Hour)
	s.mu.Lock()
	events := slices.Clone(t.events)
	upper := s.upper
	s.mu.Unlock()
	var rows []Event
	for _, e := range events {
		if e.Timestamp.Before(from) || e.Timestamp.Before(oldest) || e.Timestamp.After(now) {
			continue
		}
		if v, _ := e.column(col).(string); strings.EqualFold(v, value) {
			rows = append(rows, e)
		}
	}
	slices.SortStableFunc(rows, func(a, b Event) int { return b.Timestamp.Compare(a.Timestamp) })
	if len(rows) > take {
		rows = rows[:take]
	}
	name, typ := "name", "type"
	if upper {
		name, typ = "Name", "Type"
	}
	schema := []map[string]string{}
	for _, c := range cols {
		schema = append(schema, map[string]string{name: c, typ: columnTypes[c]})
	}
	results := []map[string]any{}
	for _, e := range rows {
		row := map[string]any{}
		for _, c := range cols {
			row[c] = e.column(c)
		}
		results = append(results, row)
	}
	writeJSON(w, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.security.huntingQueryResults",
		"schema": schema, "results": results})
}

// unescapeKQL reads the inside of a double-quoted KQL literal.
func unescapeKQL(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
