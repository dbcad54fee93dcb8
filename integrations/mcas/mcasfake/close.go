package mcasfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Close is one close request the fake answered.
type Close struct {
	Kind     string // benign, false_positive, true_positive
	IDs      []string
	ReasonID *int
	Comment  string
	Closed   []string
	NotFound []string
	At       time.Time
}

// The documented reasonIds per close endpoint.
var reasonIDs = map[string][]int{"benign": {2, 4, 5, 6}, "false_positive": {0, 1, 3, 4}}

var resolutionOf = map[string]int{"false_positive": 3, "benign": 4, "true_positive": 5}

// AddReadOnlyToken accepts tok for reading; closing with it answers 403,
// as MCAS does for a token without Investigation.manage.
func (s *Server) AddReadOnlyToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readOnly == nil {
		s.readOnly = map[string]bool{}
	}
	s.readOnly[tok] = true
}

// Closes returns every close request answered so far.
func (s *Server) Closes() []Close {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.closes)
}

// Alert returns an alert as the fake holds it now.
func (s *Server) Alert(id string) (Alert, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.alerts {
		if a.ID == id {
			return a, true
		}
	}
	return Alert{}, false
}

// Resolve closes an alert as if someone did it in the portal.
func (s *Server) Resolve(id string, resolution int, by string, at time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.alerts {
		if s.alerts[i].ID == id {
			s.alerts[i].ResolutionStatusValue = resolution
			s.alerts[i].HandledByUser = by
			s.alerts[i].ResolveTime = isoTime(at)
			return true
		}
	}
	return false
}

// Reopen opens a closed alert again, as an analyst can in the portal.
func (s *Server) Reopen(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.alerts {
		if s.alerts[i].ID == id {
			s.alerts[i].ResolutionStatusValue = 0
			s.alerts[i].HandledByUser, s.alerts[i].ResolveTime = "", ""
			return true
		}
	}
	return false
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (s *Server) closeAlerts(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Filters      map[string]map[string]json.RawMessage `json:"filters"`
			Comment      string                                `json:"comment"`
			ReasonID     *int                                  `json:"reasonId"`
			SendFeedback *bool                                 `json:"sendFeedback"`
		}
		if err := json.Unmarshal(rawFrom(r.Context()), &body); err != nil {
			writeDetail(w, http.StatusBadRequest, "Invalid JSON body")
			return
		}
		idFilter, ok := body.Filters["id"]["eq"]
		if !ok || len(body.Filters) != 1 {
			writeDetail(w, http.StatusBadRequest, "filters: an id filter is required")
			return
		}
		ids, err := list[string](idFilter)
		if err != nil {
			writeDetail(w, http.StatusBadRequest, "filters.id: "+err.Error())
			return
		}
		if allowed, needs := reasonIDs[kind]; needs {
			if body.ReasonID == nil {
				writeDetail(w, http.StatusBadRequest, "reasonId: This field is required.")
				return
			}
			if !slices.Contains(allowed, *body.ReasonID) {
				writeDetail(w, http.StatusBadRequest, fmt.Sprintf("reasonId: \"%d\" is not a valid choice.", *body.ReasonID))
				return
			}
		}
		c := Close{Kind: kind, IDs: ids, ReasonID: body.ReasonID, Comment: body.Comment, At: s.now()}
		s.mu.Lock()
		for _, id := range ids {
			i := slices.IndexFunc(s.alerts, func(a Alert) bool { return a.ID == id })
			if i < 0 || s.alerts[i].ResolutionStatusValue != 0 {
				c.NotFound = append(c.NotFound, id)
				continue
			}
			s.alerts[i].ResolutionStatusValue = resolutionOf[kind]
			s.alerts[i].HandledByUser = s.Actor
			s.alerts[i].ResolveTime = isoTime(c.At)
			c.Closed = append(c.Closed, id)
		}
		s.closes = append(s.closes, c)
		s.mu.Unlock()
		out := map[string]any{"closed_" + kind: len(c.Closed)}
		if len(c.NotFound) > 0 {
			out["alertsNotFound"] = c.NotFound
		}
		writeJSON(w, out)
	}
}

// canManage reports whether a request may close alerts: a legacy token
// carries its owner's rights; an Entra ID application needs the
// Investigation.manage permission, as in MCAS.
func (s *Server) canManage(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return true
	}
	s.mu.Lock()
	authority := s.authority
	s.mu.Unlock()
	if authority == nil {
		return false
	}
	c, err := authority.Check(tok)
	return err == nil && slices.Contains(c.Roles, "Investigation.manage")
}
