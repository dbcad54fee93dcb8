package jirafake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Comment is a comment on an issue.
type Comment struct {
	ID, Body string
	Created  time.Time
}

// Comments returns the comments of an issue, oldest first.
func (s *Server) Comments(key string) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.comments[key])
}

func (s *Server) issueExists(key string) bool {
	return slices.ContainsFunc(s.issues, func(is Issue) bool { return is.Key == key || is.ID == key })
}

func (s *Server) addComment(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	var body struct {
		Body *string `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeErr(w, http.StatusBadRequest, []string{"Can not deserialize instance of com.atlassian.jira.rest.v2.issue.comment.CommentJsonBean"}, nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.issueExists(key) {
		writeErr(w, http.StatusNotFound, []string{"Issue does not exist or you do not have permission to see it."}, nil)
		return
	}
	switch {
	case body.Body == nil || strings.TrimSpace(*body.Body) == "":
		writeErr(w, http.StatusBadRequest, nil, map[string]string{"comment": "Comment body can not be empty!"})
		return
	case utf8.RuneCountInString(*body.Body) > 32767:
		writeErr(w, http.StatusBadRequest, nil, map[string]string{"comment": "The entered text is too long. It exceeds the allowed limit of 32,767 characters."})
		return
	}
	if s.comments == nil {
		s.comments = map[string][]Comment{}
	}
	s.nextComment++
	c := Comment{ID: fmt.Sprint(20000 + s.nextComment), Body: *body.Body, Created: s.now()}
	s.comments[key] = append(s.comments[key], c)
	writeJSON(w, http.StatusCreated, commentView(s.URL, key, c))
}

func (s *Server) listComments(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.issueExists(key) {
		writeErr(w, http.StatusNotFound, []string{"Issue does not exist or you do not have permission to see it."}, nil)
		return
	}
	out := []map[string]any{}
	for _, c := range s.comments[key] {
		out = append(out, commentView(s.URL, key, c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"startAt": 0, "maxResults": len(out), "total": len(out), "comments": out})
}

func commentView(base, key string, c Comment) map[string]any {
	return map[string]any{"id": c.ID, "body": c.Body, "self": base + "/rest/api/2/issue/" + key + "/comment/" + c.ID,
		"created": c.Created.Format("2006-01-02T15:04:05.000-0700"),
		"author":  map[string]any{"displayName": "mcasbot service account"}}
}
