package defender

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode"
)

// The KQL of /mcas ip (and a user's activities): built only from a
// validated address or user, as one double-quoted string literal with
// every backslash and quote escaped; anything with a control character is
// refused. FuzzHuntingQuery checks no input ends the literal.

// huntingColumns are what the query projects, in order.
var huntingColumns = []string{"Timestamp", "ReportId", "Application", "ActionType", "ObjectName", "AccountId",
	"AccountDisplayName", "AccountObjectId", "IPAddress", "CountryCode", "City"}

// kqlString quotes s as a KQL string literal.
func kqlString(s string) (string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\\' || r == '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case unicode.IsControl(r) || r == unicode.ReplacementChar || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r):
			return "", fmt.Errorf("%q holds a control character", s)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}

// kqlTime is a datetime literal (our own value, never user text).
func kqlTime(t time.Time) string {
	return "datetime(" + t.UTC().Format("2006-01-02T15:04:05.000Z") + ")"
}

// huntingQuery is the KQL for activities from ip, or by user, since from,
// newest first, at most limit rows.
func huntingQuery(ip, user string, from time.Time, limit int) (string, error) {
	var where string
	switch {
	case ip != "" && user != "":
		return "", fmt.Errorf("an address or a user, not both")
	case ip != "":
		addr, err := netip.ParseAddr(ip)
		if err != nil || addr.Zone() != "" {
			return "", fmt.Errorf("%q is not an IP address", ip)
		}
		lit, err := kqlString(addr.Unmap().String())
		if err != nil {
			return "", err
		}
		where = "IPAddress =~ " + lit
	case user != "":
		if !ValidUser(user) {
			return "", fmt.Errorf("%q is not a user principal name", user)
		}
		lit, err := kqlString(user)
		if err != nil {
			return "", err
		}
		where = "AccountId =~ " + lit
	default:
		return "", fmt.Errorf("no address or user to look for")
	}
	if limit <= 0 {
		return "", fmt.Errorf("limit %d", limit)
	}
	return fmt.Sprintf("CloudAppEvents | where Timestamp >= %s | where %s | project %s | order by Timestamp desc | take %d",
		kqlTime(from), where, strings.Join(huntingColumns, ", "), limit), nil
}
