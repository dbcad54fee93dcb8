package defender

import (
	"github.com/soc/mcasbot/source"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// kqlTokens splits a query into what is outside string literals (the
// query's shape) and the literals' decoded values.
func kqlTokens(t *testing.T, q string) (shape string, literals []string) {
	t.Helper()
	var out, lit strings.Builder
	in := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case !in && c == '"':
			in = true
			lit.Reset()
			out.WriteString(`""`)
		case in && c == '\\':
			if i+1 == len(q) {
				t.Fatalf("dangling escape in %q", q)
			}
			i++
			lit.WriteByte(q[i])
		case in && c == '"':
			in = false
			literals = append(literals, lit.String())
		case in:
			lit.WriteByte(c)
		case c == '\'' || c == '@' || c == '\n' || c == '\r':
			t.Fatalf("a quote, verbatim marker or line break outside a literal: %q", q)
		default:
			out.WriteByte(c)
		}
	}
	if in {
		t.Fatalf("unterminated literal: %q", q)
	}
	return out.String(), literals
}

// FuzzHuntingQuery: no address or user, whatever it holds, ends the
// string literal or adds an operator: the query's shape is always the
// benign one, and the literal reads back as the value.
func FuzzHuntingQuery(f *testing.F) {
	for _, s := range []string{"185.220.101.4", "2a02:c207:3009:9999::1", "alice@contoso.com", `a" | take 1`, `a\" | union *`,
		"x\\", "o'brien@x.com", "::ffff:1.2.3.4", "#EXT#@t.onmicrosoft.com", "\"", "a\nb", "é@ü.de"} {
		f.Add(s)
	}
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	benignIP, _ := huntingQuery("1.2.3.4", "", from, 21)
	benignUser, _ := huntingQuery("", "a@b.c", from, 21)
	f.Fuzz(func(t *testing.T, s string) {
		for _, asIP := range []bool{true, false} {
			ip, user, benign := "", s, benignUser
			if asIP {
				ip, user, benign = s, "", benignIP
			}
			q, err := huntingQuery(ip, user, from, 21)
			if err != nil {
				continue
			}
			if !utf8.ValidString(q) {
				t.Fatalf("invalid UTF-8 query for %q", s)
			}
			shape, lits := kqlTokens(t, q)
			wantShape, _ := kqlTokens(t, benign)
			if shape != wantShape || len(lits) != 1 {
				t.Fatalf("input %q changed the query:\n%s", s, q)
			}
			want := s
			if asIP {
				want = netip.MustParseAddr(s).Unmap().String()
			}
			if lits[0] != want {
				t.Fatalf("literal %q, want %q", lits[0], want)
			}
		}
	})
}

// FuzzUserFilter: a user never ends the OData literal of the $filter.
func FuzzUserFilter(f *testing.F) {
	for _, s := range []string{"alice@contoso.com", "o'brien@x.com", "'') or (1 eq 1", "x' or status eq 'new", "#EXT#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return // no user: no clause
		}
		flt, err := alertFilter([]string{"microsoftDefenderForCloudApps"}, sourceQuery(s))
		if err != nil {
			return
		}
		prefix := "serviceSource eq 'microsoftDefenderForCloudApps' and evidence/any(e: e/microsoft.graph.security.userEvidence/userAccount/userPrincipalName eq '"
		if !strings.HasPrefix(flt, prefix) || !strings.HasSuffix(flt, "')") {
			t.Fatalf("%q", flt)
		}
		inner := strings.TrimSuffix(strings.TrimPrefix(flt, prefix), "')")
		// Inside, every quote is doubled: none ends the literal.
		if strings.ReplaceAll(inner, "''", "") != strings.ReplaceAll(inner, "'", "") || strings.ReplaceAll(inner, "''", "'") != s {
			t.Fatalf("literal %q of %q", inner, s)
		}
	})
}

func sourceQuery(user string) source.AlertQuery { return source.AlertQuery{User: user} }
