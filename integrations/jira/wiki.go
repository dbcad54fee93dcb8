package jira

import (
	"net/url"
	"regexp"
	"strings"
	"unicode"
)

// Escape makes upstream text safe to put in any field Jira renders as wiki
// markup (the description, paragraph custom fields, comments): it cannot
// add links, images, mentions, macros, headings, rules, tables or line
// breaks, and still reads as the original text once rendered. Every such
// value goes through here; single-line fields are not rendered and only
// need control characters removed.
//
// Special characters are backslash-escaped. A backslash itself becomes the
// entity &#92;: "\\" is a forced line break and "\X" would escape whatever
// follows. Bare http(s) URLs stay as they are, so Jira shows them (and links
// them) as themselves; a URL can never be disguised behind other text.
func Escape(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, line := range lines {
		lines[i] = escapeLine(line)
	}
	return strings.Join(lines, "\n")
}

// special are the characters that start or end wiki markup.
const special = `{}[]|*_^~+!#-?`

// escapeText escapes every special character; a backslash becomes an
// entity, and so does the "&" of a named entity ("&amp;" stays text).
func escapeText(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for i, r := range s {
		switch {
		case r == '\\':
			b.WriteString("&#92;")
		case r == '&' && namedEntity.MatchString(s[i:]):
			b.WriteString("&#38;")
		case strings.ContainsRune(special, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

var (
	namedEntity = regexp.MustCompile(`^&[A-Za-z][A-Za-z0-9]*;`)
	// entityLike in a URL would be decoded by Jira: such a URL is escaped
	// as text instead of kept as a link.
	entityLike = regexp.MustCompile(`&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);`)
)

// urlRE finds bare URLs. It stops at every character that could end the URL
// and start markup, so those are escaped like any other text.
var urlRE = regexp.MustCompile(`https?://[^\s<>"'|\[\]{}!\\^~*\x{FFFF}]+`)

// blockStart matches the line-start markers of headings and quotes
// ("h1. ", "bq. "), which contain no special character of their own.
var blockStart = regexp.MustCompile(`^(\s*)(h[1-6]|bq)\.`)

func escapeLine(line string) string {
	line = strings.Map(func(r rune) rune {
		if r == '\t' {
			return ' '
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, line)
	var b strings.Builder
	rest := line
	for {
		loc := urlRE.FindStringIndex(rest)
		if loc == nil {
			b.WriteString(escapeText(rest))
			break
		}
		b.WriteString(escapeText(rest[:loc[0]]))
		u := rest[loc[0]:loc[1]]
		if safeURL(u) && !entityLike.MatchString(u) {
			b.WriteString(u)
		} else {
			b.WriteString(escapeText(u))
		}
		rest = rest[loc[1]:]
	}
	// The dot of "h1." is written as an entity: the marker no longer
	// matches, and the reader still sees "h1.".
	return blockStart.ReplaceAllString(b.String(), "$1$2&#46;")
}

// Link is a wiki link the bot itself makes, to a URL it trusts the shape
// of (the alert's portal link, an AbuseIPDB page). A URL that could break
// out of the link's brackets is written as escaped text instead.
func Link(label, u string) string {
	if !safeURL(u) || strings.ContainsAny(u, "[]{}|!\\ \n") || entityLike.MatchString(u) {
		return Escape(label + ": " + u)
	}
	return "[" + escapeText(label) + "|" + u + "]"
}

func safeURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "https" || p.Scheme == "http") && p.Host != ""
}
