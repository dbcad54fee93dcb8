package jira_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
)

// hostileWiki is text an attacker controls (an alert title, an ISP's WHOIS
// name) trying every piece of Jira wiki markup.
var hostileWiki = []string{
	"[click here|https://evil.example/login]",
	"!https://evil.example/pixel.png!",
	"[~accountid:5b10a2844c20165700ede21g] please look",
	"{html}<img src=x onerror=alert(1)>{html}",
	"{noformat}raw{noformat} {code:java}x(){code} {color:red}alarm{color} {panel}p{panel}",
	`line one\\line two \ trailing \`,
	"----",
	"h1. Heading",
	"  bq. quoted",
	"||head||er||\n|cell|two|",
	"* bullet\n# numbered\n- dash",
	"*bold* _em_ +ins+ ^sup^ ~sub~ ??cite?? -del- {{mono}}",
	"a -- b --- c",
	"[^attachment.pdf] [#anchor] [mailto:x@evil.example]",
	"&amp; &lt;script&gt; &#91;x&#93; AT&T",
	"see https://evil.example/a_b-c?d=e#f!g and https://x.example/~u",
	"https://evil.example/&amp;[x]",
	"\u0007bell\ttab\r\nwindows",
}

// plain is what the reader must see: the original without control characters.
func plain(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		if r == '\t' {
			return ' '
		}
		if r != '\n' && unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

func TestEscapeLeavesNoLiveMarkupAndReadsAsTheOriginal(t *testing.T) {
	for _, in := range hostileWiki {
		out := jira.Escape(in)
		text, live := jirafake.Render(out)
		if len(live) > 0 {
			t.Errorf("Escape(%q) = %q: live markup %+v", in, out, live)
		}
		if text != plain(in) {
			t.Errorf("Escape(%q) = %q renders as %q, want the original text", in, out, text)
		}
	}
}

func TestRenderSeesLiveMarkup(t *testing.T) {
	// The checker itself must catch what an unescaped value would do.
	for in, kind := range map[string]string{
		"[click here|https://evil.example/login]": "link",
		"!https://evil.example/pixel.png!":        "image",
		"[~accountid:1]":                          "mention",
		"{html}x{html}":                           "macro",
		`a\\b`:                                    "linebreak",
		"h1. Heading":                             "heading",
		"----":                                    "rule",
		"*bold*":                                  "effect",
		"x|y":                                     "",
		"|x|y|":                                   "table",
	} {
		_, live := jirafake.Render(in)
		if kind == "" {
			continue
		}
		found := false
		for _, l := range live {
			found = found || l.Kind == kind
		}
		if !found {
			t.Errorf("Render(%q) found %+v, want a %s", in, live, kind)
		}
	}
}

func TestEscapeKeepsBareLinksReadable(t *testing.T) {
	u := "https://contoso.portal.cloudappsecurity.com/#/alerts/65a1b2c3d4e5f60718293a4b"
	if got := jira.Escape("Portal: " + u); got != "Portal: "+u {
		t.Fatalf("our own link was changed: %q", got)
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range hostileWiki {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if !utf8Valid(in) {
			return
		}
		out := jira.Escape(in)
		text, live := jirafake.Render(out)
		for _, l := range live {
			t.Fatalf("Escape(%q) = %q: live %s %q", in, out, l.Kind, l.Text)
		}
		if text != plain(in) {
			t.Fatalf("Escape(%q) = %q renders as %q", in, out, text)
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }
