package jirafake

import (
	"fmt"
	"strings"
)

// User is a Jira account that issues can be assigned to.
type User struct {
	AccountID   string // Cloud; on Data Center the username
	DisplayName string
	Email       string
	// HideEmail is Cloud's privacy setting: the e-mail is left out of
	// every answer.
	HideEmail bool
}

// statusCategory of each workflow status the fake knows.
var statusCategory = map[string][2]string{
	"To Do":       {"new", "To Do"},
	"In Progress": {"indeterminate", "In Progress"},
	"In Review":   {"indeterminate", "In Progress"},
	"Done":        {"done", "Done"},
	"Won't Do":    {"done", "Done"},
}

// AddUser makes an account known.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.AccountID] = u
}

// Move transitions an issue to status (To Do, In Progress, In Review,
// Done, Won't Do). Reaching a done status sets resolution (default
// "Done"); leaving it clears the resolution, as Jira's workflows do.
func (s *Server) Move(key, status, resolution string) error {
	cat, ok := statusCategory[status]
	if !ok {
		return fmt.Errorf("jirafake: no status %q", status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.find(key)
	if is == nil || is.Deleted {
		return fmt.Errorf("jirafake: no issue %s", key)
	}
	is.Status, is.Resolution = status, ""
	if cat[0] == "done" {
		is.Resolution = resolution
		if is.Resolution == "" {
			is.Resolution = "Done"
		}
	}
	return nil
}

// Assign sets an issue's assignee ("" unassigns).
func (s *Server) Assign(key, accountID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.find(key)
	if is == nil || is.Deleted {
		return fmt.Errorf("jirafake: no issue %s", key)
	}
	if _, ok := s.users[accountID]; !ok && accountID != "" {
		return fmt.Errorf("jirafake: no user %s", accountID)
	}
	is.Assignee = accountID
	return nil
}

// Delete deletes an issue: search no longer finds it, and a `key in`
// search naming it fails with 400.
func (s *Server) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.find(key)
	if is == nil || is.Deleted {
		return fmt.Errorf("jirafake: no issue %s", key)
	}
	is.Deleted = true
	return nil
}

// Searches counts search requests on either endpoint.
func (s *Server) Searches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.requests {
		if strings.HasSuffix(k, "/rest/api/2/search") || strings.HasSuffix(k, "/rest/api/2/search/jql") {
			n += v
		}
	}
	return n
}

// find is the issue with key; the caller holds s.mu.
func (s *Server) find(key string) *Issue {
	for i := range s.issues {
		if s.issues[i].Key == key {
			return &s.issues[i]
		}
	}
	return nil
}

func statusView(name string) map[string]any {
	cat := statusCategory[name]
	return map[string]any{"name": name, "statusCategory": map[string]any{"key": cat[0], "name": cat[1]}}
}

// userView is an assignee as Cloud or Data Center shows it; the caller
// holds s.mu.
func (s *Server) userView(id string) any {
	u, ok := s.users[id]
	if id == "" || !ok {
		return nil
	}
	v := map[string]any{"displayName": u.DisplayName, "active": true}
	if s.opt.Cloud {
		v["accountId"] = u.AccountID
		if !u.HideEmail {
			v["emailAddress"] = u.Email
		}
	} else {
		v["name"], v["key"], v["emailAddress"] = u.AccountID, u.AccountID, u.Email
	}
	return v
}
