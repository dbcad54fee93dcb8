package graphfake

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// search answers GET /v1.0/users?$filter=… for the filters ParseMailFilter
// reads.
//
// Microsoft's table of filter support marks eq on otherMails as working by
// default. The fake asks for the advanced query parameters (ConsistencyLevel:
// eventual and $count=true) for the any form all the same, answering 400
// Request_UnsupportedQuery as Graph does for a query that needs them: the
// client always sends them, and a client that stopped would fail here.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	s.record(r, "")
	if s.faults.Apply(w, r, s.faults.Take(r.URL.Path), defaultBody) {
		return
	}
	if status, code, msg := s.authorize(r, searchRoles); status != 0 {
		WriteError(w, status, code, msg)
		return
	}
	q := r.URL.Query()
	mails, others, err := ParseMailFilter(q.Get("$filter"))
	if err != nil {
		WriteError(w, http.StatusBadRequest, "BadRequest", "Invalid filter clause: "+err.Error())
		return
	}
	advanced := r.Header.Get("ConsistencyLevel") == "eventual" && q.Get("$count") == "true"
	if len(others) > 0 && !advanced {
		WriteError(w, http.StatusBadRequest, "Request_UnsupportedQuery", "Operator 'any' is not supported because the required parameters might be missing. "+
			"Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information")
		return
	}
	fields := []string{"id", "userPrincipalName"}
	if sel := q.Get("$select"); sel != "" {
		fields = strings.Split(sel, ",")
		for _, f := range fields {
			if !slices.Contains([]string{"id", "userPrincipalName", "mail", "otherMails"}, f) {
				WriteError(w, http.StatusBadRequest, "Request_BadRequest", "Could not find a property named '"+f+"' on type 'microsoft.graph.user'.")
				return
			}
		}
	}
	s.mu.Lock()
	var found []*user
	for _, u := range s.users {
		if slices.ContainsFunc(mails, func(m string) bool { return u.mail != "" && strings.EqualFold(u.mail, m) }) ||
			slices.ContainsFunc(others, func(m string) bool {
				return slices.ContainsFunc(u.otherMails, func(o string) bool { return strings.EqualFold(o, m) })
			}) {
			found = append(found, u)
		}
	}
	slices.SortFunc(found, func(a, b *user) int { return strings.Compare(a.upn, b.upn) })
	values := []map[string]any{}
	for _, u := range found {
		v := map[string]any{}
		for _, f := range fields {
			switch f {
			case "id":
				v[f] = u.id
			case "userPrincipalName":
				v[f] = u.upn
			case "mail":
				v[f] = u.mail
			case "otherMails":
				v[f] = slices.Clone(u.otherMails)
			}
		}
		values = append(values, v)
	}
	s.mu.Unlock()
	body := map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(" + strings.Join(fields, ",") + ")", "value": values}
	// Without ConsistencyLevel, Graph ignores $count=true.
	if advanced {
		body["@odata.count"] = len(values)
	}
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	_ = json.NewEncoder(w).Encode(body)
}

// ParseMailFilter reads the $filter forms mcasbot sends, and only those:
// clauses mail eq '…' and otherMails/any(x:x eq '…') joined by " or ",
// each '…' an OData string literal (a quote inside doubled). It returns the
// addresses of each kind of clause.
func ParseMailFilter(f string) (mails, otherMails []string, err error) {
	rest := f
	for {
		var addr string
		var ok bool
		switch {
		case strings.HasPrefix(rest, "mail eq "):
			if addr, rest, ok = literal(strings.TrimPrefix(rest, "mail eq ")); !ok {
				return nil, nil, errors.New("unterminated string literal")
			}
			mails = append(mails, addr)
		case strings.HasPrefix(rest, "otherMails/any(x:x eq "):
			if addr, rest, ok = literal(strings.TrimPrefix(rest, "otherMails/any(x:x eq ")); !ok {
				return nil, nil, errors.New("unterminated string literal")
			}
			if rest, ok = strings.CutPrefix(rest, ")"); !ok {
				return nil, nil, errors.New("')' expected after the lambda")
			}
			otherMails = append(otherMails, addr)
		default:
			return nil, nil, errors.New("expected mail eq '…' or otherMails/any(x:x eq '…') at '" + rest + "'")
		}
		if rest == "" {
			return mails, otherMails, nil
		}
		if rest, ok = strings.CutPrefix(rest, " or "); !ok {
			return nil, nil, errors.New("expected ' or ' at '" + rest + "'")
		}
	}
}

// literal reads the OData string literal s starts with, and what follows
// it.
func literal(s string) (value, rest string, ok bool) {
	if !strings.HasPrefix(s, "'") {
		return "", "", false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '\'' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		return b.String(), s[i+1:], true
	}
	return "", "", false
}
