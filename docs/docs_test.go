// Package docs_test keeps the documentation honest: the README stays short,
// it still starts with the two quick-start commands and lists every page of
// docs/, and every relative link in README.md and docs/*.md reaches a file
// that exists and, when it names a #fragment of a Markdown file, a heading
// that is there under GitHub's anchor rules.
//
// The files are read relative to this test's own directory (docs/), which is
// the working directory `go test` gives it.
package docs_test

import (
	"fmt"
	"html"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"
)

// readmeMaxLines: the README must stay under this many lines. What does not
// fit belongs in a page of docs/.
const readmeMaxLines = 250

// quickStart are the README's set-up commands on a fresh machine.
var quickStart = []string{"go run ./cmd/bot demo", "go test ./..."}

// root is the repository's root, found from this test's directory.
func root(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(wd, "docs_test.go")); err != nil {
		t.Fatalf("the test must run in its own directory (docs/), not %s: %v", wd, err)
	}
	return filepath.Dir(wd)
}

// pages are README.md and docs/*.md, as paths relative to the root.
func pages(t *testing.T, root string) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("no docs/*.md found")
	}
	files := []string{"README.md"}
	for _, d := range docs {
		rel, err := filepath.Rel(root, d)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, filepath.ToSlash(rel))
	}
	sort.Strings(files[1:])
	return files
}

func read(t *testing.T, root, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReadmeIsShort(t *testing.T) {
	readme := read(t, root(t), "README.md")
	n := strings.Count(readme, "\n")
	if !strings.HasSuffix(readme, "\n") {
		n++
	}
	if n >= readmeMaxLines {
		t.Errorf("README.md has %d lines; it must stay under %d: move the detail into a page of docs/ and link it", n, readmeMaxLines)
	}
}

func TestReadmeQuickStart(t *testing.T) {
	readme := read(t, root(t), "README.md")
	for _, cmd := range quickStart {
		if !strings.Contains(readme, cmd) {
			t.Errorf("README.md no longer shows the quick-start command %q", cmd)
		}
	}
}

// TestReadmeListsEveryPage: each page of docs/ is linked from the README.
func TestReadmeListsEveryPage(t *testing.T) {
	r := root(t)
	linked := map[string]bool{}
	for _, l := range scan(read(t, r, "README.md")).links {
		if p, _, ok := local(l.target); ok {
			linked[filepath.ToSlash(filepath.Clean(p))] = true
		}
	}
	for _, p := range pages(t, r)[1:] {
		if !linked[p] {
			t.Errorf("README.md does not link %s", p)
		}
	}
}

func TestLinks(t *testing.T) {
	r := root(t)
	anchors := map[string]map[string]bool{} // page → its anchors, read once
	anchorsOf := func(rel string) map[string]bool {
		if a, ok := anchors[rel]; ok {
			return a
		}
		a := scan(read(t, r, rel)).anchors
		anchors[rel] = a
		return a
	}
	checked := 0
	for _, page := range pages(t, r) {
		for _, l := range scan(read(t, r, page)).links {
			p, frag, ok := local(l.target)
			if !ok {
				continue // another site, or mail
			}
			checked++
			where := fmt.Sprintf("%s:%d: link %q", page, l.line, l.target)
			target := page // a bare #fragment is this page
			if p != "" {
				target = filepath.ToSlash(filepath.Join(filepath.Dir(page), p))
				if strings.HasPrefix(target, "../") {
					t.Errorf("%s points outside the repository", where)
					continue
				}
				if _, err := os.Stat(filepath.Join(r, filepath.FromSlash(target))); err != nil {
					t.Errorf("%s: %s does not exist", where, target)
					continue
				}
			}
			if frag == "" || !strings.HasSuffix(target, ".md") {
				continue
			}
			if a := anchorsOf(target); !a[frag] {
				t.Errorf("%s: %s has no heading with the anchor #%s (its anchors: %s)", where, target, frag, list(a))
			}
		}
	}
	if checked == 0 {
		t.Error("found no relative link at all: is the link scanner broken?")
	}
	t.Logf("checked %d relative links", checked)
}

func list(a map[string]bool) string {
	s := make([]string, 0, len(a))
	for k := range a {
		s = append(s, "#"+k)
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

// local splits a link target into its path and fragment, both unescaped;
// ok is false for a link to another site (a scheme, or //host).
func local(target string) (path, frag string, ok bool) {
	if scheme.MatchString(target) || strings.HasPrefix(target, "//") {
		return "", "", false
	}
	path, frag, _ = strings.Cut(target, "#")
	path, _, _ = strings.Cut(path, "?")
	if p, err := url.PathUnescape(path); err == nil {
		path = p
	}
	if f, err := url.PathUnescape(frag); err == nil {
		frag = f
	}
	return path, frag, true
}

var scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

type link struct {
	line   int
	target string
}

type page struct {
	links   []link
	anchors map[string]bool
}

var (
	fence   = regexp.MustCompile("^ *(```+|~~~+)")
	heading = regexp.MustCompile(`^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	// An inline link or image: [text](target "title"); the text may hold
	// one level of brackets, and both may run over several lines.
	inline = regexp.MustCompile(`!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s)]*)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)`)
	refDef = regexp.MustCompile(`(?m)^ {0,3}\[[^\]]+\]:[ \t]*(<[^>]*>|\S+)`)
	// Raw HTML: <a href="…">, <img src="…">, and explicit anchors <a name="…"> or id="…".
	htmlRef    = regexp.MustCompile(`(?i)<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*"([^"]*)"`)
	htmlAnchor = regexp.MustCompile(`(?i)<[a-z][a-z0-9]*\b[^>]*?\b(?:id|name)\s*=\s*"([^"]*)"`)
)

// scan reads a Markdown page: its links and the anchors of its headings.
// Fenced code blocks and code spans hold neither. Only ATX headings (# …)
// are read: these pages use no setext (underlined) headings.
func scan(md string) page {
	p := page{anchors: map[string]bool{}}
	s := slugger{}
	var para []string // the paragraph being read, for links that wrap
	start := 0        // its first line
	flush := func() {
		p.scanLinks(strings.Join(para, "\n"), start)
		para = nil
	}
	var open string // the fence of the code block we are in, if any
	for i, line := range strings.Split(md, "\n") {
		if m := fence.FindStringSubmatch(line); m != nil {
			switch {
			case open == "":
				flush()
				open = m[1]
				continue
			case m[1][0] == open[0] && len(m[1]) >= len(open) && strings.TrimSpace(line) == m[1]:
				open = ""
				continue
			}
		}
		switch {
		case open != "":
		case heading.MatchString(line):
			flush()
			p.anchors[s.slug(slug(text(heading.FindStringSubmatch(line)[2])))] = true
			p.scanLinks(line, i+1)
		case strings.TrimSpace(line) == "":
			flush()
		default:
			if len(para) == 0 {
				start = i + 1
			}
			para = append(para, line)
		}
	}
	flush()
	return p
}

// scanLinks adds the links and explicit anchors of md, whose first line is
// line first.
func (p *page) scanLinks(md string, first int) {
	if md == "" {
		return
	}
	bare := withoutCode(md)
	for _, m := range htmlAnchor.FindAllStringSubmatch(bare, -1) {
		p.anchors[m[1]] = true
	}
	add := func(re *regexp.Regexp, unescape bool) {
		for _, m := range re.FindAllStringSubmatchIndex(bare, -1) {
			target := bare[m[2]:m[3]]
			if unescape {
				target = html.UnescapeString(target)
			}
			target = strings.TrimSuffix(strings.TrimPrefix(target, "<"), ">")
			if target != "" {
				p.links = append(p.links, link{line: first + strings.Count(bare[:m[0]], "\n"), target: target})
			}
		}
	}
	add(inline, false)
	add(refDef, false)
	add(htmlRef, true)
	sort.SliceStable(p.links, func(i, j int) bool { return p.links[i].line < p.links[j].line })
}

// backticks matches a run of backticks, which opens or closes a code span.
var backticks = regexp.MustCompile("`+")

// splitCode cuts Markdown text into text and code spans: the code spans'
// contents are at the odd indexes. A run of backticks with no run of the
// same length after it is text, as in CommonMark.
func splitCode(s string) []string {
	parts := []string{""}
	for s != "" {
		open := backticks.FindStringIndex(s)
		if open == nil {
			parts[len(parts)-1] += s
			break
		}
		n := open[1] - open[0]
		rest := s[open[1]:]
		end := -1
		for _, c := range backticks.FindAllStringIndex(rest, -1) {
			if c[1]-c[0] == n {
				end = c[0]
				break
			}
		}
		if end < 0 {
			parts[len(parts)-1] += s[:open[1]]
			s = rest
			continue
		}
		code := strings.ReplaceAll(rest[:end], "\n", " ")
		if len(code) > 2 && code[0] == ' ' && code[len(code)-1] == ' ' && strings.Trim(code, " ") != "" {
			code = code[1 : len(code)-1]
		}
		parts[len(parts)-1] += s[:open[0]]
		parts = append(parts, code, "")
		s = rest[end+n:]
	}
	return parts
}

// withoutCode blanks the code spans of md, so that a link written in code is
// not taken for one; line breaks stay where they were.
func withoutCode(md string) string {
	var b strings.Builder
	for s := md; s != ""; {
		open := backticks.FindStringIndex(s)
		if open == nil {
			b.WriteString(s)
			break
		}
		n := open[1] - open[0]
		rest := s[open[1]:]
		end := -1
		for _, c := range backticks.FindAllStringIndex(rest, -1) {
			if c[1]-c[0] == n {
				end = c[0]
				break
			}
		}
		if end < 0 {
			b.WriteString(s[:open[1]])
			s = rest
			continue
		}
		b.WriteString(s[:open[0]])
		b.WriteString("code")
		b.WriteString(strings.Repeat("\n", strings.Count(rest[:end], "\n")))
		s = rest[end+n:]
	}
	return b.String()
}

var (
	linkText   = regexp.MustCompile(`!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\([^)]*\)`)
	htmlTag    = regexp.MustCompile(`</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>`)
	escaped    = regexp.MustCompile(`\\([!-/:-@\[-` + "`" + `{-~])`)
	emphasisUs = regexp.MustCompile(`(^|[^\p{L}\p{N}])_+|_+($|[^\p{L}\p{N}])`)
)

// escapedUs stands for an escaped underscore while emphasis is resolved.
const escapedUs = "\uE000"

// text is what a heading shows once rendered: code spans keep their text
// as written; elsewhere backslash escapes, links (their text), images
// (their alt text), HTML tags, emphasis underscores and entities are
// resolved as GitHub renders them. (Asterisks and tildes need no care: the
// slug drops them anyway.)
func text(md string) string {
	parts := splitCode(md)
	for i := 0; i < len(parts); i += 2 {
		t := parts[i]
		t = linkText.ReplaceAllString(t, "$1")
		t = htmlTag.ReplaceAllString(t, "")
		t = strings.ReplaceAll(t, `\_`, escapedUs)
		t = escaped.ReplaceAllString(t, "$1")
		t = emphasisUs.ReplaceAllString(t, "$1$2")
		t = strings.ReplaceAll(t, escapedUs, "_")
		parts[i] = html.UnescapeString(t)
	}
	return strings.Join(parts, "")
}

// slugger gives headings their anchors as GitHub does (github-slugger):
// lower case; every character dropped but letters, marks, decimal and
// letter numbers, connector punctuation ('_'), '-' and ' '; each space
// becomes '-'. A repeated anchor gets -1, -2, … in order of appearance.
type slugger map[string]int

func (s slugger) slug(base string) string {
	result := base
	for {
		if _, taken := s[result]; !taken {
			break
		}
		s[base]++
		result = fmt.Sprintf("%s-%d", base, s[base])
	}
	s[result] = 0
	return result
}

func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-',
			unicode.IsLetter(r),
			unicode.IsMark(r),
			unicode.In(r, unicode.Nd, unicode.Nl, unicode.Pc):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestSlug(t *testing.T) {
	for _, c := range []struct{ heading, want string }{
		{"Closing an alert: Close…", "closing-an-alert-close"},
		{"The detail card: `/mcas alert <id>`, and Details", "the-detail-card-mcas-alert-id-and-details"},
		{"Closing the alert when its issue is done: `JIRA_DONE_CLOSES_ALERT`", "closing-the-alert-when-its-issue-is-done-jira_done_closes_alert"},
		{"Replies to `/mcas` commands", "replies-to-mcas-commands"},
		{"Running several replicas (high availability)", "running-several-replicas-high-availability"},
		{"Priority rules that know the user's groups", "priority-rules-that-know-the-users-groups"},
		{"Health, metrics and logs", "health-metrics-and-logs"},
		{"What's measured", "whats-measured"},
		{"A & B", "a--b"},
		{"😄 emoji", "-emoji"},
		{"⚠️ Partial results", "\ufe0f-partial-results"}, // U+FE0F is a mark: GitHub keeps it
		{"São Paulo, BR", "são-paulo-br"},
		{"Привет non-latin 你好", "привет-non-latin-你好"},
		{"Use <kbd>Ctrl</kbd> + C", "use-ctrl--c"},
		{"See [the guide](docs/a.md#x) now", "see-the-guide-now"},
		{"The _quick_ fox and snake_case", "the-quick-fox-and-snake_case"},
		{"`a_b` and *c*", "a_b-and-c"},
		{"Tom &amp; Jerry", "tom--jerry"},
		{`Escaped \_underscores\_`, "escaped-_underscores_"},
		{"``code with ` inside``", "code-with--inside"},
	} {
		if got := slug(text(c.heading)); got != c.want {
			t.Errorf("slug(%q) = %q, want %q", c.heading, got, c.want)
		}
	}
}

func TestSlugRepeats(t *testing.T) {
	s := slugger{}
	var got []string
	for _, h := range []string{"Docker", "Docker", "Docker-1", "Docker", "Other"} {
		got = append(got, s.slug(slug(h)))
	}
	want := "docker docker-1 docker-1-1 docker-2 other"
	if strings.Join(got, " ") != want {
		t.Errorf("repeated headings got %q, want %q", strings.Join(got, " "), want)
	}
}

func TestScan(t *testing.T) {
	md := strings.Join([]string{
		"# Title",
		"See [a](a.md#x), ![img](i.png \"t\") and [b][ref] and `[not](code.md)`, [a link",
		"that wraps](wrapped.md) and ``[not](`code`.md)``.",
		"```sh",
		"# not a heading",
		"[not](fenced.md)",
		"```",
		"  ```",
		"  [also not](indented-fence.md)",
		"  ```",
		"[ref]: ref.md",
		"## Title",
		`<a name="here"></a><a href="h.md">h</a> <https://example.com/x.md>`,
		"#hashtag is not a heading",
	}, "\n")
	p := scan(md)
	var targets []string
	for _, l := range p.links {
		targets = append(targets, fmt.Sprintf("%s@%d", l.target, l.line))
	}
	if got, want := strings.Join(targets, " "), "a.md#x@2 i.png@2 wrapped.md@2 ref.md@11 h.md@13"; got != want {
		t.Errorf("links: got %q, want %q", got, want)
	}
	if got, want := list(p.anchors), "#here #title #title-1"; got != want {
		t.Errorf("anchors: got %q, want %q", got, want)
	}
}
