package defender

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/soc/mcasbot/source"
)

// The $filter of alerts_v2, built only in the forms Graph documents:
// serviceSource, severity and status with eq (several values OR-ed in
// parentheses), createdDateTime ge/le with unquoted date literals, and a
// user through userEvidence's UPN. Every value is quoted with OData's
// rule (' doubles); users are validated first.

// userRE is what a user may be: a UPN (a guest's carries #EXT#), an
// e-mail or an account name, as /mcas user accepts them.
var userRE = regexp.MustCompile(`^[\p{L}\p{N}._%+\-'@\\#]{1,256}$`)

// ValidUser reports whether s may be looked up as a user.
func ValidUser(s string) bool { return userRE.MatchString(s) }

// odataString quotes s as an OData string literal.
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// odataTime is an unquoted DateTimeOffset literal, in UTC.
func odataTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// anyOf is "p eq 'a'", or "(p eq 'a' or p eq 'b')" for several values.
func anyOf(prop string, values []string) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = prop + " eq " + odataString(v)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "(" + strings.Join(parts, " or ") + ")"
}

// severityNames are Graph's severities of source's.
var severityNames = map[source.Severity]string{
	source.SeverityInformational: "informational", source.SeverityLow: "low",
	source.SeverityMedium: "medium", source.SeverityHigh: "high",
}

// alertFilter is the $filter of q over the tenant's products.
func alertFilter(sources []string, q source.AlertQuery) (string, error) {
	clauses := []string{anyOf("serviceSource", sources)}
	if len(q.Severities) > 0 {
		var sevs []string
		for _, s := range q.Severities {
			name, ok := severityNames[s]
			if !ok {
				return "", fmt.Errorf("unknown severity %d", s)
			}
			sevs = append(sevs, name)
		}
		clauses = append(clauses, anyOf("severity", sevs))
	}
	switch q.Status {
	case source.StatusOpen:
		clauses = append(clauses, anyOf("status", []string{"new", "inProgress"}))
	case source.StatusClosed:
		clauses = append(clauses, anyOf("status", []string{"resolved"}))
	}
	if !q.Since.IsZero() {
		clauses = append(clauses, "createdDateTime ge "+odataTime(q.Since))
	}
	if !q.Until.IsZero() {
		clauses = append(clauses, "createdDateTime le "+odataTime(q.Until))
	}
	if q.User != "" {
		if !ValidUser(q.User) {
			return "", fmt.Errorf("%q is not a user principal name", q.User)
		}
		clauses = append(clauses, "evidence/any(e: e/microsoft.graph.security.userEvidence/userAccount/userPrincipalName eq "+odataString(q.User)+")")
	}
	return strings.Join(clauses, " and "), nil
}

// queryEscape escapes a query option's value; a space is %20, which
// every OData server reads as one (some read + as a plus sign).
func queryEscape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// listQuery is the raw query of a list request.
func listQuery(filter string, top int) string {
	return "$filter=" + queryEscape(filter) + fmt.Sprintf("&$top=%d", top)
}
