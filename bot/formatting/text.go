// Package formatting turns command results into Slack messages (Block Kit)
// and plain text. Everything here is a pure function; every string from an
// upstream or a user is treated as hostile.
package formatting

import (
	"html"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/soc/mcasbot/integrations/httpx"
)

// Escape makes s safe inside mrkdwn: Slack parses exactly &, < and >, so an
// escaped "<!channel>" can never ping and "<https://evil|Login>" never
// becomes a disguised link.
func Escape(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

var (
	scriptRE = regexp.MustCompile(`(?is)<(script|style)\b.*?</(script|style)\s*>`)
	breakRE  = regexp.MustCompile(`(?i)<\s*(br|/p|/div|/li|/tr|/h[1-6])\b[^>]*>`)
	tagRE    = regexp.MustCompile(`<[^<>]*>`)
)

// StripHTML turns an HTML fragment (MCAS descriptions) into plain text:
// scripts and tags gone, entities decoded, the __siteIcon__ placeholder
// removed, whitespace folded.
func StripHTML(s string) string {
	s = scriptRE.ReplaceAllString(s, " ")
	s = breakRE.ReplaceAllString(s, " ")
	s = tagRE.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	return Clean(s)
}

// Clean removes the __siteIcon__ placeholder, control and bidi characters,
// and folds whitespace. It does not escape.
func Clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.ReplaceAll(s, "__siteIcon__", " ")
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || isBidi(r) || r == '\u200b' || r == '\ufeff' {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isBidi(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}

// Cut shortens s to at most n runes, marking the cut with "…".
func Cut(s string, n int) string { return httpx.Truncate(s, n) }

// CutEscaped escapes s for mrkdwn and keeps the result within n characters
// without splitting an entity.
func CutEscaped(s string, n int) string {
	e := Escape(s)
	if utf8.RuneCountInString(e) <= n {
		return e
	}
	// Cut the raw text until its escaped form fits.
	r := []rune(s)
	lo, hi := 0, len(r)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if utf8.RuneCountInString(Escape(string(r[:mid])))+1 <= n {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return Escape(string(r[:lo])) + "…"
}

// SafeURL returns u when it is an http(s) URL fit for a Slack link, else "".
func SafeURL(u string) string {
	if len(u) == 0 || len(u) > 3000 || strings.ContainsAny(u, " <>|\"'\n\r\t") {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return ""
	}
	return u
}
