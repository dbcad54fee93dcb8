package defenderfake

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The $filter forms the fake understands are exactly those mcasbot sends:
// clauses joined by " and ", each one of
//
//	prop eq 'v'  or  (prop eq 'a' or prop eq 'b' …)   for serviceSource, severity, status
//	createdDateTime ge|le 2026-12-01T00:00:00Z        (an unquoted literal)
//	evidence/any(e: e/microsoft.graph.security.userEvidence/userAccount/userPrincipalName eq 'upn')
//
// Anything else is a 400, as Graph answers a property it cannot filter on.

// filterable are the properties alerts_v2 documents for $filter.
var filterable = []string{"assignedTo", "classification", "determination", "createdDateTime", "lastUpdateDateTime", "severity", "serviceSource", "status"}

var enums = map[string][]string{
	"severity": {"unknown", "informational", "low", "medium", "high", "unknownFutureValue"},
	"status":   {"unknown", "new", "inProgress", "resolved", "unknownFutureValue"},
	"serviceSource": {"unknown", "microsoftDefenderForEndpoint", "microsoftDefenderForIdentity", "microsoftDefenderForCloudApps",
		"microsoftDefenderForOffice365", "microsoft365Defender", "azureAdIdentityProtection", "microsoftAppGovernance",
		"dataLossPrevention", "unknownFutureValue", "microsoftDefenderForCloud", "microsoftSentinel",
		"microsoftInsiderRiskManagement", "microsoftThreatIntelligence", "microsoftSecurityForAI"},
}

const quoted = `'((?:[^']|'')*)'`

var (
	eqRE   = regexp.MustCompile(`^([A-Za-z/]+) eq ` + quoted + `$`)
	dateRE = regexp.MustCompile(`^createdDateTime (ge|le) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,7})?Z)$`)
	userRE = regexp.MustCompile(`^evidence/any\(e: e/microsoft\.graph\.security\.userEvidence/userAccount/userPrincipalName eq ` + quoted + `\)$`)
	propRE = regexp.MustCompile(`^\(?([A-Za-z]+)`)
)

// predicate is one parsed clause.
type predicate func(a Alert) bool

// parseFilter reads a $filter; the error is Graph's message.
func parseFilter(f string) ([]predicate, error) {
	if strings.TrimSpace(f) == "" {
		return nil, nil
	}
	clauses, err := split(f, " and ")
	if err != nil {
		return nil, err
	}
	var out []predicate
	for _, c := range clauses {
		p, err := parseClause(c)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// split cuts s at sep outside quotes and parentheses.
func split(s, sep string) ([]string, error) {
	var out []string
	depth, inQuote, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			inQuote = !inQuote // '' inside a literal toggles twice
		case inQuote:
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return nil, badf("Syntax error: ')' at position %d is not expected", i)
			}
		case depth == 0 && strings.HasPrefix(s[i:], sep):
			out = append(out, s[start:i])
			start = i + len(sep)
			i += len(sep) - 1
		}
	}
	if inQuote || depth != 0 {
		return nil, badf("Syntax error: unterminated literal or parenthesis in '%s'", s)
	}
	return append(out, s[start:]), nil
}

func unquote(s string) string { return strings.ReplaceAll(s, "''", "'") }

func parseClause(c string) (predicate, error) {
	if m := dateRE.FindStringSubmatch(c); m != nil {
		t, err := time.Parse(time.RFC3339Nano, m[2])
		if err != nil {
			return nil, badf("The DateTimeOffset text '%s' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid range.", m[2])
		}
		if m[1] == "ge" {
			return func(a Alert) bool { return !a.Created().Before(t) }, nil
		}
		return func(a Alert) bool { return !a.Created().After(t) }, nil
	}
	if m := userRE.FindStringSubmatch(c); m != nil {
		upn := unquote(m[1])
		return func(a Alert) bool {
			return slices.ContainsFunc(a.upns(), func(u string) bool { return strings.EqualFold(u, upn) })
		}, nil
	}
	if strings.HasPrefix(c, "(") && strings.HasSuffix(c, ")") {
		parts, err := split(c[1:len(c)-1], " or ")
		if err == nil && len(parts) > 1 {
			prop := ""
			var values []string
			for _, p := range parts {
				m := eqRE.FindStringSubmatch(p)
				if m == nil || (prop != "" && m[1] != prop) {
					return nil, invalidClause(c)
				}
				prop = m[1]
				values = append(values, unquote(m[2]))
			}
			return enumIn(prop, values)
		}
	}
	if m := eqRE.FindStringSubmatch(c); m != nil {
		return enumIn(m[1], []string{unquote(m[2])})
	}
	return nil, invalidClause(c)
}

func invalidClause(c string) error {
	if m := propRE.FindStringSubmatch(c); m != nil && !slices.Contains(filterable, m[1]) && m[1] != "evidence" {
		return badf("Invalid filter clause: the property '%s' cannot be used in the $filter query option.", m[1])
	}
	return badf("Invalid filter clause: '%s' is not supported.", c)
}

func enumIn(prop string, values []string) (predicate, error) {
	members, ok := enums[prop]
	if !ok {
		if slices.Contains(filterable, prop) {
			return nil, badf("Invalid filter clause: '%s eq' is not supported by this fake.", prop)
		}
		return nil, badf("Invalid filter clause: the property '%s' cannot be used in the $filter query option.", prop)
	}
	for _, v := range values {
		if !slices.Contains(members, v) {
			return nil, badf("The string '%s' is not a valid enumeration type constant.", v)
		}
	}
	return func(a Alert) bool {
		var have *string
		switch prop {
		case "severity":
			have = a.Severity
		case "status":
			have = a.Status
		case "serviceSource":
			have = a.ServiceSource
		}
		return have != nil && slices.Contains(values, *have)
	}, nil
}

// upns are the user principal names in an alert's evidence.
func (a Alert) upns() []string {
	var out []string
	for _, e := range a.Evidence {
		if e["@odata.type"] != "#microsoft.graph.security.userEvidence" {
			continue
		}
		if acct, ok := e["userAccount"].(map[string]any); ok {
			if u, ok := acct["userPrincipalName"].(string); ok {
				out = append(out, u)
			}
		}
	}
	return out
}

// graphError is a 400's message as Graph words it (capitalised, with a
// full stop, unlike Go's errors).
type graphError string

func (e graphError) Error() string { return string(e) }

func badf(format string, a ...any) error { return graphError(fmt.Sprintf(format, a...)) }
