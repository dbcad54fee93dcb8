package jirafake

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Live is one piece of wiki markup Jira would act on: a link, mention,
// image, macro, line break, heading, quote, rule, list, table or text effect.
type Live struct {
	Kind string // "link", "mention", "image", "macro", "monospace", "linebreak", "heading", "quote", "rule", "list", "table", "effect"
	Text string // what it wraps or points at
}

// Render reads wiki markup the way Jira's renderer does, well enough for
// tests: it returns the text a reader would see and every live construct.
// Escapes (\X) and entities (&#92;) are literal text; bare http(s) URLs are
// shown as themselves. Text that was escaped correctly renders back to
// itself with no Live at all.
func Render(wiki string) (string, []Live) {
	var out []string
	var live []Live
	for _, line := range splitLines(lex(wiki), &live) {
		text, l := renderLine(line)
		out = append(out, text)
		live = append(live, l...)
	}
	return strings.Join(out, "\n"), live
}

// char is one rune of the markup; lit is set when it was escaped or came
// from an entity, so it can never be markup.
type char struct {
	r   rune
	lit bool
}

var entityRE = regexp.MustCompile(`^&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});`)

var named = map[string]rune{"amp": '&', "lt": '<', "gt": '>', "quot": '"', "apos": '\'', "nbsp": '\u00a0'}

// breakMark stands for "\\": a forced line break.
const breakMark = -2

func lex(s string) []char {
	var out []char
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\\' && i+1 < len(rs) && rs[i+1] == '\\':
			out = append(out, char{r: breakMark})
			i++
		case r == '\\' && i+1 < len(rs) && rs[i+1] != '\n':
			out = append(out, char{r: rs[i+1], lit: true})
			i++
		case r == '&':
			m := entityRE.FindString(string(rs[i:min(len(rs), i+40)]))
			if d, ok := decodeEntity(m); ok {
				out = append(out, char{r: d, lit: true})
				i += len([]rune(m)) - 1
				continue
			}
			out = append(out, char{r: r})
		default:
			out = append(out, char{r: r})
		}
	}
	return out
}

func decodeEntity(m string) (rune, bool) {
	if m == "" {
		return 0, false
	}
	name := m[1 : len(m)-1]
	if strings.HasPrefix(name, "#x") || strings.HasPrefix(name, "#X") {
		n, err := strconv.ParseInt(name[2:], 16, 32)
		return rune(n), err == nil
	}
	if strings.HasPrefix(name, "#") {
		n, err := strconv.ParseInt(name[1:], 10, 32)
		return rune(n), err == nil
	}
	r, ok := named[name]
	return r, ok
}

func splitLines(cs []char, live *[]Live) [][]char {
	var lines [][]char
	var cur []char
	for _, c := range cs {
		switch {
		case c.r == breakMark:
			*live = append(*live, Live{Kind: "linebreak", Text: `\\`})
			lines = append(lines, cur)
			cur = nil
		case c.r == '\n' && !c.lit:
			lines = append(lines, cur)
			cur = nil
		default:
			cur = append(cur, c)
		}
	}
	return append(lines, cur)
}

func str(cs []char) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteRune(c.r)
	}
	return b.String()
}

// markup reports whether cs starts with the unescaped text s.
func markup(cs []char, s string) bool {
	rs := []rune(s)
	if len(cs) < len(rs) {
		return false
	}
	for i, r := range rs {
		if cs[i].lit || cs[i].r != r {
			return false
		}
	}
	return true
}

var headingRE = regexp.MustCompile(`^h[1-6]\. `)

func renderLine(line []char) (string, []Live) {
	var live []Live
	// Leading spaces do not stop block markers.
	start := 0
	for start < len(line) && line[start].r == ' ' && !line[start].lit {
		start++
	}
	lead, body := str(line[:start]), line[start:]
	switch {
	case len(body) >= 4 && headingRE.MatchString(str(body[:4])) && !body[0].lit && !body[1].lit && !body[2].lit:
		live = append(live, Live{Kind: "heading", Text: str(body[4:])})
		body = body[4:]
	case markup(body, "bq. "):
		live = append(live, Live{Kind: "quote", Text: str(body[4:])})
		body = body[4:]
	case isRule(body):
		return "", []Live{{Kind: "rule", Text: str(body)}}
	}
	if n := listMarker(body); n > 0 {
		live = append(live, Live{Kind: "list", Text: str(body[n:])})
		body = body[n:]
	}
	if markup(body, "|") {
		text, l := renderTable(body)
		return lead + text, append(live, l...)
	}
	text, l := renderInline(markURLs(body))
	return lead + text, append(live, l...)
}

func isRule(cs []char) bool {
	n := 0
	for _, c := range cs {
		if c.r != '-' || c.lit {
			return false
		}
		n++
	}
	return n >= 4
}

// listMarker is the length of a "* ", "# " or "- " (nested: "** ") prefix.
func listMarker(cs []char) int {
	i := 0
	for i < len(cs) && !cs[i].lit && (cs[i].r == '*' || cs[i].r == '#' || cs[i].r == '-') {
		i++
	}
	if i > 0 && i < len(cs) && cs[i].r == ' ' && !cs[i].lit {
		return i + 1
	}
	return 0
}

func renderTable(cs []char) (string, []Live) {
	var cells []string
	var live []Live
	var cur []char
	flush := func() {
		if len(cur) > 0 {
			t, l := renderInline(markURLs(cur))
			cells = append(cells, t)
			live = append(live, l...)
		}
		cur = nil
	}
	for _, c := range cs {
		if c.r == '|' && !c.lit {
			flush()
			continue
		}
		cur = append(cur, c)
	}
	flush()
	live = append(live, Live{Kind: "table", Text: strings.Join(cells, " ¦ ")})
	return strings.Join(cells, " ¦ "), live
}

// rendererURL is what Jira links by itself; its characters are not markup.
var rendererURL = regexp.MustCompile(`https?://[^\s<>"'|\[\]{}!\\^~*\x{FFFF}]+`)

func markURLs(cs []char) []char {
	// Escaped runes break a URL: mask them so the pattern stops there.
	masked := make([]rune, len(cs))
	for i, c := range cs {
		masked[i] = c.r
		if c.lit {
			masked[i] = '\uFFFF'
		}
	}
	s := string(masked)
	out := append([]char(nil), cs...)
	for _, loc := range rendererURL.FindAllStringIndex(s, -1) {
		from := len([]rune(s[:loc[0]]))
		to := from + len([]rune(s[loc[0]:loc[1]]))
		for i := from; i < to; i++ {
			out[i].lit = true
		}
	}
	return out
}

var effects = []string{"??", "*", "_", "+", "^", "~", "-"}

func renderInline(cs []char) (string, []Live) {
	var b strings.Builder
	var live []Live
	for i := 0; i < len(cs); {
		c := cs[i]
		if c.lit {
			b.WriteRune(c.r)
			i++
			continue
		}
		switch c.r {
		case '[':
			if j := closing(cs, i+1, "]"); j > 0 {
				inner := cs[i+1 : j]
				text := str(inner)
				switch {
				case strings.HasPrefix(text, "~"):
					live = append(live, Live{Kind: "mention", Text: text})
					b.WriteString("@" + text[1:])
				default:
					live = append(live, Live{Kind: "link", Text: text})
					label, _, _ := strings.Cut(text, "|")
					b.WriteString(label)
				}
				i = j + 1
				continue
			}
		case '!':
			if i+1 < len(cs) && cs[i+1].r != ' ' {
				if j := closing(cs, i+1, "!"); j > i+1 {
					live = append(live, Live{Kind: "image", Text: str(cs[i+1 : j])})
					i = j + 1
					continue
				}
			}
		case '{':
			if markup(cs[i:], "{{") {
				if j := closing(cs, i+2, "}}"); j > 0 {
					live = append(live, Live{Kind: "monospace", Text: str(cs[i+2 : j])})
					t, l := renderInline(cs[i+2 : j])
					b.WriteString(t)
					live = append(live, l...)
					i = j + 2
					continue
				}
			}
			if j := closing(cs, i+1, "}"); j > 0 {
				live = append(live, Live{Kind: "macro", Text: str(cs[i+1 : j])})
				i = j + 1
				continue
			}
		}
		if e := effectAt(cs, i); e != "" {
			n := len(e)
			if j := closing(cs, i+n, e); j > i+n && cs[j-1].r != ' ' && !wordAt(cs, j+n) {
				live = append(live, Live{Kind: "effect", Text: e + str(cs[i+n:j]) + e})
				t, l := renderInline(cs[i+n : j])
				b.WriteString(t)
				live = append(live, l...)
				i = j + n
				continue
			}
		}
		b.WriteRune(c.r)
		i++
	}
	return b.String(), live
}

// effectAt is the text-effect marker opening at i ("*", "??", …), if any:
// it must be followed by a non-space.
func effectAt(cs []char, i int) string {
	// Like Jira, an effect opens only at a word boundary: 2026-11-24 is a date.
	if wordAt(cs, i-1) {
		return ""
	}
	for _, e := range effects {
		if markup(cs[i:], e) && i+len(e) < len(cs) && cs[i+len(e)].r != ' ' {
			return e
		}
	}
	return ""
}

func wordAt(cs []char, i int) bool {
	return i >= 0 && i < len(cs) && (unicode.IsLetter(cs[i].r) || unicode.IsDigit(cs[i].r))
}

// closing finds the next unescaped s at or after from; -1 when none.
func closing(cs []char, from int, s string) int {
	for j := from; j < len(cs); j++ {
		if markup(cs[j:], s) {
			return j
		}
	}
	return -1
}

// WikiFields are the fields of an issue Jira renders as wiki markup: the
// description and every paragraph (textarea) custom field, by field id.
func (s *Server) WikiFields(is Issue) map[string]string {
	out := map[string]string{}
	read := func(id string) {
		var v string
		if raw, ok := is.Fields[id]; ok && json.Unmarshal(raw, &v) == nil {
			out[id] = v
		}
	}
	read("description")
	for _, f := range s.opt.Fields {
		if f.Type == Paragraph {
			read(f.ID)
		}
	}
	return out
}
