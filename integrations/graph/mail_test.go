package graph

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/soc/mcasbot/integrations/graph/graphfake"
)

// FuzzMailQuery checks that no address can break out of its quoted
// literal: every address mailQuery accepts comes back as exactly the three
// query options, and a filter of exactly two clauses, each with the
// address, unchanged.
func FuzzMailQuery(f *testing.F) {
	for _, s := range []string{
		"carol@contoso.com", "o'brien@contoso.com", "'@'", "a''@b", "x@y' or mail eq 'z@w",
		"x@y') or true or ('", "a@b&$top=1", "a@b%27", "a@b#frag", "a@b\x00", "a@b\n", "a @b", "é@ü.de",
		"a+b@c.d", "a@b;c", "\xff@b", "a%20b@c", "a@b'", "@", "a@", "@b", "a@b@c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		q, err := mailQuery(addr)
		if err != nil {
			return
		}
		if !utf8.ValidString(addr) || strings.ContainsFunc(addr, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
			t.Fatalf("%q accepted", addr)
		}
		v, err := url.ParseQuery(q)
		if err != nil || len(v) != 3 || len(v["$filter"]) != 1 || v.Get("$select") != "id,userPrincipalName" || v.Get("$count") != "true" ||
			len(v["$select"]) != 1 || len(v["$count"]) != 1 {
			t.Fatalf("%q: query %q (%v)", addr, q, err)
		}
		mails, others, err := graphfake.ParseMailFilter(v.Get("$filter"))
		if err != nil || !slices.Equal(mails, []string{addr}) || !slices.Equal(others, []string{addr}) {
			t.Fatalf("%q: filter %q reads as %q %q (%v)", addr, v.Get("$filter"), mails, others, err)
		}
	})
}

func TestMailQuery(t *testing.T) {
	q, err := mailQuery("o'brien+soc@contoso.com")
	want := "$filter=mail%20eq%20%27o%27%27brien%2Bsoc%40contoso.com%27%20or%20otherMails%2Fany%28x%3Ax%20eq%20%27o%27%27brien%2Bsoc%40contoso.com%27%29" +
		"&$select=id,userPrincipalName&$count=true"
	if err != nil || q != want {
		t.Fatalf("%s %v", q, err)
	}
	for _, bad := range []string{"carol", "a@b@c", "a@b\x00", "a\u2028@b", "a @b", "\xff@b", "a/b@c", strings.Repeat("a", 250) + "@b.cd"} {
		if _, err := mailQuery(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
