// Package tenants reads the tenants file (TENANTS_FILE): one entry per
// tenant with its source, sign-in, groups and routing, for a SOC that
// watches many tenants. It checks the file the way an operator needs it
// checked (every problem at once, with its line), resolves tenant
// selections such as "group:emea", and says where each tenant's digest
// goes. Secrets never live in the file: it names files that hold them.
package tenants

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// File is a checked tenants file.
type File struct {
	Defaults Defaults
	Groups   map[string]Group // by name
	Tenants  []Tenant         // in file order
	// Files are the secret files every entry names, those with problems
	// too: a reload watches them, so a secret mounted after the file
	// that names it is seen when it comes.
	Files []string
}

// Defaults apply to every tenant that does not set its own.
type Defaults struct {
	Source        string
	DigestChannel string
	JiraProject   string
	MinSeverity   string
}

// Group is what a group of tenants shares: where their digest goes and
// which Jira project their issues go to, unless a tenant says otherwise.
type Group struct {
	Name          string
	DigestChannel string
	JiraProject   string
	MinSeverity   string
	Line          int
}

// Tenant is one tenant as the file describes it.
type Tenant struct {
	Name   string
	Source string // mcas or graph
	URL    string // the MCAS portal URL (mcas)
	// TokenFile holds a legacy MCAS API token (mcas), unless Entra is set.
	TokenFile string
	Entra     *Entra
	// ServiceSources widens a graph tenant beyond Defender for Cloud Apps.
	ServiceSources []string
	Groups         []string
	// Routing and filing; empty inherits from the tenant's groups, then
	// the defaults, then the bot's settings.
	DigestChannel string
	JiraProject   string
	MinSeverity   string
	Line          int
}

// Entra is a tenant's Entra ID sign-in. With only TenantID, the bot's
// standard credential (AZURE_* variables: workload identity, managed
// identity or a shared application) signs in to this directory.
type Entra struct {
	TenantID                string
	ClientID                string
	ClientSecretFile        string
	CertificateFile         string
	CertificatePasswordFile string
}

// Problem is one thing wrong with the file, at a line (0: the whole file).
type Problem struct {
	Line    int
	Msg     string
	Warning bool // the file still loads
}

func (p Problem) String() string {
	kind := "error"
	if p.Warning {
		kind = "warning"
	}
	if p.Line > 0 {
		return fmt.Sprintf("%s: line %d: %s", kind, p.Line, p.Msg)
	}
	return kind + ": " + p.Msg
}

// Problems are every problem found, in line order.
type Problems []Problem

// Err is nil unless a problem is an error; then it names them all.
func (ps Problems) Err() error {
	var lines []string
	for _, p := range ps {
		if !p.Warning {
			lines = append(lines, "  - "+p.String())
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return fmt.Errorf("the tenants file has %d %s:\n%s", len(lines), plural(len(lines), "error", "errors"), strings.Join(lines, "\n"))
}

// Sources the file accepts.
const (
	SourceMCAS  = "mcas"
	SourceGraph = "graph"
)

// ServiceSources are Graph's serviceSource values a graph tenant may read.
var ServiceSources = []string{
	"microsoftDefenderForCloudApps", "microsoftDefenderForIdentity", "microsoftDefenderForEndpoint",
	"microsoftDefenderForOffice365", "microsoftDefenderForCloud", "azureAdIdentityProtection",
	"microsoftDataLossPrevention", "microsoftInsiderRiskManagement", "microsoftDefenderThreatIntelligence",
	"microsoft365Defender", "microsoftAppGovernance", "dataSecurityInvestigations",
}

var (
	nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	// A tenant's name is also a metric label and a column in answers:
	// as long as MCAS_TENANT_<i>_NAME allows.
	tenantRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
	channelRE = regexp.MustCompile(`^[CG][A-Z0-9]{2,}$`)
	projectRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]{1,9}$`)
	guidRE    = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	domainRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$`)
)

var severities = []string{"informational", "low", "medium", "high"}

// secretKeys are keys people reach for that would put a secret in the
// file; each names what to use instead.
var secretKeys = map[string]string{
	"token":                "token_file",
	"api_token":            "token_file",
	"client_secret":        "client_secret_file",
	"secret":               "client_secret_file",
	"password":             "certificate_password_file",
	"certificate_password": "certificate_password_file",
}

// Parse checks a tenants file. It returns the file when nothing is wrong
// enough to stop it loading, and every problem found either way. exists
// reports whether a secret file can be read (nil: not checked).
func Parse(data []byte, exists func(path string) error) (*File, Problems) {
	f, ps := ParseEntries(data, exists)
	if ps.Err() != nil {
		return nil, ps
	}
	return f, ps
}

// ParseEntries is Parse, but returns the entries found right even when
// others are wrong (nil only when the file is no tenants file at all), so
// that whoever checks them further, reading their secret files, reports
// every problem at once. The file is not to be served when Problems.Err
// is not nil.
func ParseEntries(data []byte, exists func(path string) error) (*File, Problems) {
	p := &parser{exists: exists, flawed: map[int]bool{}}
	f := p.parse(data)
	sort.SliceStable(p.problems, func(i, j int) bool { return p.problems[i].Line < p.problems[j].Line })
	if f == nil {
		return nil, p.problems
	}
	right := *f
	right.Tenants = slices.DeleteFunc(slices.Clone(f.Tenants), func(t Tenant) bool { return p.flawed[t.Line] })
	right.Files = p.files
	return &right, p.problems
}

type parser struct {
	exists   func(string) error
	problems Problems
	flawed   map[int]bool // tenants (by line) with an error in their entry
	files    []string
}

func (p *parser) errors() int {
	n := 0
	for _, pr := range p.problems {
		if !pr.Warning {
			n++
		}
	}
	return n
}

func (p *parser) errorf(line int, format string, a ...any) {
	p.problems = append(p.problems, Problem{Line: line, Msg: fmt.Sprintf(format, a...)})
}

func (p *parser) warnf(line int, format string, a ...any) {
	p.problems = append(p.problems, Problem{Line: line, Msg: fmt.Sprintf(format, a...), Warning: true})
}

func (p *parser) parse(data []byte) *File {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		p.errorf(0, "the file is empty: list the tenants under tenants:")
		return nil
	} else if err != nil {
		p.errorf(0, "not YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil
	}
	var extra yaml.Node
	if dec.Decode(&extra) == nil {
		p.errorf(extra.Line, "only one YAML document is allowed")
	}
	if len(doc.Content) == 0 {
		p.errorf(0, "the file is empty: list the tenants under tenants:")
		return nil
	}
	root := doc.Content[0]
	f := &File{Groups: map[string]Group{}}
	var tenantsNode *yaml.Node
	p.mapping(root, "the file", map[string]func(k, v *yaml.Node){
		"defaults": func(_, v *yaml.Node) { f.Defaults = p.defaults(v) },
		"groups":   func(_, v *yaml.Node) { f.Groups = p.groups(v) },
		"tenants":  func(_, v *yaml.Node) { tenantsNode = v },
	})
	if f.Defaults.Source == "" {
		f.Defaults.Source = SourceMCAS
	}
	if tenantsNode == nil {
		p.errorf(root.Line, "no tenants: list them under tenants:")
		return f
	}
	if tenantsNode.Kind != yaml.SequenceNode {
		p.errorf(tenantsNode.Line, "tenants must be a list (each entry starting with - name: …)")
		return f
	}
	seen := map[string]int{}
	for _, n := range tenantsNode.Content {
		before := p.errors()
		t, ok := p.tenant(n, f)
		if p.errors() > before {
			p.flawed[t.Line] = true
		}
		if t.Name != "" {
			if first, dup := seen[t.Name]; dup {
				p.errorf(t.Line, "tenant %q is listed twice (first on line %d)", t.Name, first)
				continue
			}
			seen[t.Name] = t.Line
		}
		if ok {
			f.Tenants = append(f.Tenants, t)
		}
	}
	if len(f.Tenants) == 0 && len(tenantsNode.Content) == 0 {
		p.errorf(tenantsNode.Line, "the tenants list is empty")
	}
	for name, g := range f.Groups {
		if _, clash := seen[name]; clash {
			p.errorf(g.Line, "group %q has the name of a tenant; give it another (selections like tenant=%s would be ambiguous)", name, name)
		}
		used := slices.ContainsFunc(f.Tenants, func(t Tenant) bool { return slices.Contains(t.Groups, name) })
		if !used {
			p.warnf(g.Line, "group %q has no tenants", name)
		}
	}
	for _, t := range f.Tenants {
		var channels []string
		for _, g := range t.Groups {
			if c := f.Groups[g].DigestChannel; c != "" && !slices.Contains(channels, c) {
				channels = append(channels, c)
			}
		}
		if t.DigestChannel == "" && len(channels) > 1 {
			p.warnf(t.Line, "tenant %q is in groups with different digest channels (%s): the first group's is used; set digest_channel on the tenant to choose", t.Name, strings.Join(channels, ", "))
		}
	}
	return f
}

// tenantWhat is how messages name a tenant's entry.
const tenantWhat = "a tenant"

// mapping walks a mapping node, refusing unknown and repeated keys, and
// keys that would hold a secret.
func (p *parser) mapping(n *yaml.Node, what string, keys map[string]func(k, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n.Line, "%s must be a mapping of key: value", what)
		return
	}
	// A tenant's keys need no "where": the line says which tenant.
	where := what + ": "
	if what == tenantWhat {
		where = ""
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			p.errorf(k.Line, "%s%s is given twice", where, clip(k.Value))
			continue
		}
		seen[k.Value] = true
		if use, ok := secretKeys[strings.ToLower(k.Value)]; ok {
			p.errorf(k.Line, "%s%s would put a secret in the tenants file; put it in a file and name it with %s", where, k.Value, use)
			continue
		}
		fn, ok := keys[k.Value]
		if !ok {
			p.errorf(k.Line, "%sunknown key %q%s", where, clip(k.Value), suggest(k.Value, keys))
			continue
		}
		// digest_channel: #soc is a key without a value and a comment.
		if c := k.LineComment; v.Tag == "!!null" && len(c) > 1 && c[0] == '#' && c[1] != ' ' {
			p.errorf(k.Line, "%s%s has no value: YAML reads %s as a comment (quote a value that starts with #)", where, k.Value, clip(c))
			continue
		}
		fn(k, v)
	}
}

func suggest(key string, keys map[string]func(k, v *yaml.Node)) string {
	best, dist := "", 3
	for k := range keys {
		if d := distance(strings.ToLower(key), k); d < dist || d == dist && k < best {
			best, dist = k, d
		}
	}
	if best == "" {
		names := make([]string, 0, len(keys))
		for k := range keys {
			names = append(names, k)
		}
		sort.Strings(names)
		return " (known: " + strings.Join(names, ", ") + ")"
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// scalar reads a string value.
func (p *parser) scalar(v *yaml.Node, key string) string {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		p.errorf(v.Line, "%s must be a single value", key)
		return ""
	}
	return strings.TrimSpace(v.Value)
}

// list reads a list of strings; a single value is a list of one.
func (p *parser) list(v *yaml.Node, key string) []string {
	switch v.Kind {
	case yaml.ScalarNode:
		if s := strings.TrimSpace(v.Value); s != "" && v.Tag != "!!null" {
			return []string{s}
		}
		return nil
	case yaml.SequenceNode:
		var out []string
		for _, it := range v.Content {
			if it.Kind != yaml.ScalarNode {
				p.errorf(it.Line, "%s must be a list of values", key)
				continue
			}
			if s := strings.TrimSpace(it.Value); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	p.errorf(v.Line, "%s must be a list of values", key)
	return nil
}

func (p *parser) defaults(n *yaml.Node) Defaults {
	var d Defaults
	p.mapping(n, "defaults", map[string]func(k, v *yaml.Node){
		"source":         func(k, v *yaml.Node) { d.Source = p.source(v) },
		"digest_channel": func(k, v *yaml.Node) { d.DigestChannel = p.channel(v) },
		"jira_project":   func(k, v *yaml.Node) { d.JiraProject = p.project(v) },
		"min_severity":   func(k, v *yaml.Node) { d.MinSeverity = p.severity(v) },
	})
	return d
}

func (p *parser) groups(n *yaml.Node) map[string]Group {
	out := map[string]Group{}
	if n.Kind != yaml.MappingNode {
		p.errorf(n.Line, "groups must map each group's name to its settings (groups: {emea: {digest_channel: C0…}})")
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := strings.TrimSpace(k.Value)
		if !nameRE.MatchString(name) {
			p.errorf(k.Line, "group name %q: use lowercase letters, digits, - and _ (like emea or customer-a)", clip(name))
			continue
		}
		if _, dup := out[name]; dup {
			p.errorf(k.Line, "group %q is given twice", name)
			continue
		}
		g := Group{Name: name, Line: k.Line}
		if v.Tag != "!!null" {
			p.mapping(v, "group "+name, map[string]func(k, v *yaml.Node){
				"digest_channel": func(k, v *yaml.Node) { g.DigestChannel = p.channel(v) },
				"jira_project":   func(k, v *yaml.Node) { g.JiraProject = p.project(v) },
				"min_severity":   func(k, v *yaml.Node) { g.MinSeverity = p.severity(v) },
			})
		}
		out[name] = g
	}
	return out
}

func (p *parser) tenant(n *yaml.Node, f *File) (Tenant, bool) {
	t := Tenant{Line: n.Line}
	ok := true
	var urlLine, tokenLine, sourcesLine int
	p.mapping(n, tenantWhat, map[string]func(k, v *yaml.Node){
		"name":   func(k, v *yaml.Node) { t.Name = p.scalar(v, "name") },
		"source": func(k, v *yaml.Node) { t.Source = p.source(v) },
		"url": func(k, v *yaml.Node) {
			t.URL, urlLine = p.scalar(v, "url"), v.Line
		},
		"token_file": func(k, v *yaml.Node) {
			t.TokenFile, tokenLine = p.scalar(v, "token_file"), v.Line
			p.file(v.Line, "token_file", t.TokenFile)
		},
		"entra": func(k, v *yaml.Node) { t.Entra = p.entra(v) },
		"service_sources": func(k, v *yaml.Node) {
			t.ServiceSources, sourcesLine = p.list(v, "service_sources"), v.Line
			for _, s := range t.ServiceSources {
				if !slices.Contains(ServiceSources, s) {
					p.errorf(v.Line, "service_sources: %q is not a Defender product Graph knows (%s)", clip(s), strings.Join(ServiceSources, ", "))
				}
			}
		},
		"groups": func(k, v *yaml.Node) {
			for _, g := range p.list(v, "groups") {
				if !nameRE.MatchString(g) {
					p.errorf(v.Line, "group %q: use lowercase letters, digits, - and _ (like emea or customer-a)", clip(g))
					continue
				}
				if !slices.Contains(t.Groups, g) {
					t.Groups = append(t.Groups, g)
				}
			}
		},
		"digest_channel": func(k, v *yaml.Node) { t.DigestChannel = p.channel(v) },
		"jira_project":   func(k, v *yaml.Node) { t.JiraProject = p.project(v) },
		"min_severity":   func(k, v *yaml.Node) { t.MinSeverity = p.severity(v) },
	})
	switch {
	case n.Kind != yaml.MappingNode:
		return t, false
	case t.Name == "":
		p.errorf(n.Line, "a tenant without a name: every entry needs name:")
		return t, false
	case !tenantRE.MatchString(t.Name):
		p.errorf(n.Line, "tenant name %q: use lowercase letters, digits, - and _ (like contoso), at most 40", clip(t.Name))
		ok = false
	}
	if t.Source == "" {
		t.Source = f.Defaults.Source
	}
	switch t.Source {
	case SourceMCAS:
		switch {
		case t.URL == "":
			p.errorf(n.Line, "tenant %q: url is missing (its portal, like https://%s.eu2.portal.cloudappsecurity.com)", t.Name, t.Name)
			ok = false
		case !strings.HasPrefix(t.URL, "https://") && !strings.HasPrefix(t.URL, "http://"):
			p.errorf(urlLine, "tenant %q: url %q is not an https URL", t.Name, clip(t.URL))
			ok = false
		}
		if t.TokenFile == "" && t.Entra == nil {
			p.errorf(n.Line, "tenant %q: no sign-in: give token_file (a legacy MCAS API token) or entra: (an Entra ID application)", t.Name)
			ok = false
		}
		if t.TokenFile != "" && t.Entra != nil {
			p.errorf(tokenLine, "tenant %q: token_file and entra are both set; use one (Entra ID replaces the legacy token)", t.Name)
			ok = false
		}
		if len(t.ServiceSources) > 0 {
			p.errorf(sourcesLine, "tenant %q: service_sources only applies to source: graph", t.Name)
			ok = false
		}
	case SourceGraph:
		if t.Entra == nil {
			p.errorf(n.Line, "tenant %q: source graph signs in with Entra ID: add entra: with its tenant_id", t.Name)
			ok = false
		}
		if t.TokenFile != "" {
			p.errorf(tokenLine, "tenant %q: token_file is an MCAS API token; a graph tenant signs in with entra:", t.Name)
			ok = false
		}
		if t.URL != "" {
			p.warnf(urlLine, "tenant %q: url is not used by source graph (GRAPH_URL is)", t.Name)
		}
	default:
		ok = false // p.source said why
	}
	if t.Entra != nil && t.Entra.TenantID == "" {
		ok = false
	}
	return t, ok
}

func (p *parser) entra(n *yaml.Node) *Entra {
	e := &Entra{}
	line := n.Line
	p.mapping(n, "entra", map[string]func(k, v *yaml.Node){
		"tenant_id": func(k, v *yaml.Node) { e.TenantID = p.scalar(v, "tenant_id") },
		"client_id": func(k, v *yaml.Node) { e.ClientID = p.scalar(v, "client_id") },
		"client_secret_file": func(k, v *yaml.Node) {
			e.ClientSecretFile = p.scalar(v, "client_secret_file")
			p.file(v.Line, "client_secret_file", e.ClientSecretFile)
		},
		"certificate_file": func(k, v *yaml.Node) {
			e.CertificateFile = p.scalar(v, "certificate_file")
			p.file(v.Line, "certificate_file", e.CertificateFile)
		},
		"certificate_password_file": func(k, v *yaml.Node) {
			e.CertificatePasswordFile = p.scalar(v, "certificate_password_file")
			p.file(v.Line, "certificate_password_file", e.CertificatePasswordFile)
		},
	})
	switch {
	case e.TenantID == "":
		p.errorf(line, "entra: tenant_id (the tenant's directory ID) is missing")
	case !guidRE.MatchString(e.TenantID) && !domainRE.MatchString(e.TenantID):
		p.errorf(line, "entra: tenant_id %q is not a directory ID like 72f988bf-86f1-41af-91ab-2d7cd011db47 or a domain like contoso.onmicrosoft.com", clip(e.TenantID))
	}
	own := e.ClientSecretFile != "" || e.CertificateFile != "" || e.CertificatePasswordFile != ""
	switch {
	case e.ClientID != "" && !guidRE.MatchString(e.ClientID):
		p.errorf(line, "entra: client_id %q is not an application (client) ID, a GUID", clip(e.ClientID))
	case e.ClientID != "" && !own:
		p.errorf(line, "entra: client_id needs client_secret_file or certificate_file")
	case e.ClientID == "" && own:
		p.errorf(line, "entra: client_secret_file or certificate_file needs client_id (the application's client ID)")
	case e.CertificatePasswordFile != "" && e.CertificateFile == "":
		p.errorf(line, "entra: certificate_password_file needs certificate_file")
	}
	return e
}

// file checks a secret file can be read.
func (p *parser) file(line int, key, path string) {
	if path != "" && !slices.Contains(p.files, path) {
		p.files = append(p.files, path)
	}
	if path == "" || p.exists == nil {
		return
	}
	if err := p.exists(path); err != nil {
		p.errorf(line, "%s: cannot read %s: %v", key, clipN(path, 256), err)
	}
}

func (p *parser) source(v *yaml.Node) string {
	s := strings.ToLower(p.scalar(v, "source"))
	if s != SourceMCAS && s != SourceGraph {
		p.errorf(v.Line, "source %q: use mcas (the Defender for Cloud Apps API) or graph (Microsoft Graph's security API)", clip(v.Value))
		return "?"
	}
	return s
}

func (p *parser) channel(v *yaml.Node) string {
	s := p.scalar(v, "digest_channel")
	if s != "" && !channelRE.MatchString(s) {
		p.errorf(v.Line, "digest_channel %q is not a channel ID (like C0123ABCD; names are not accepted)", clip(s))
		return ""
	}
	return s
}

func (p *parser) project(v *yaml.Node) string {
	s := p.scalar(v, "jira_project")
	if s != "" && !projectRE.MatchString(s) {
		p.errorf(v.Line, "jira_project %q is not a project key (like SEC)", clip(s))
		return ""
	}
	return s
}

func (p *parser) severity(v *yaml.Node) string {
	s := strings.ToLower(p.scalar(v, "min_severity"))
	if s != "" && !slices.Contains(severities, s) {
		p.errorf(v.Line, "min_severity %q: use %s", clip(s), strings.Join(severities, ", "))
		return ""
	}
	return s
}

// clip keeps a hostile value short in messages.
func clip(s string) string { return clipN(s, 60) }

// clipN keeps a value to n runes (a path may need more than a name).
func clipN(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// distance is the edit distance of a and b, for "did you mean".
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
