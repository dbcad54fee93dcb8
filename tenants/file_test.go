package tenants_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/soc/mcasbot/tenants"
)

func TestTheShippedExampleLoads(t *testing.T) {
	b, err := os.ReadFile("../tenants.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, ps := tenants.Parse(b, nil)
	if f == nil || len(ps) != 0 {
		t.Fatalf("the example has problems: %v", ps)
	}
	if got := f.Set().Names; !slices.Equal(got, []string{"contoso", "fabrikam", "northwind"}) {
		t.Fatalf("tenants %v", got)
	}
	nw := f.Tenants[2]
	if nw.Source != "graph" || nw.Entra == nil || nw.Entra.TenantID != "northwind.onmicrosoft.com" || len(nw.ServiceSources) != 2 {
		t.Fatalf("northwind %+v", nw)
	}
	// Routing: the tenant's own channel, else its first group's, else the default.
	cases := map[string]tenants.Route{
		"contoso":   {DigestChannel: "C0CUSTA01", JiraProject: "CUSTA", MinSeverity: "high"},
		"fabrikam":  {DigestChannel: "C0FABRIKM", MinSeverity: "medium"},
		"northwind": {JiraProject: "NW", MinSeverity: "low"},
	}
	for _, tn := range f.Tenants {
		if got := f.Route(tn); got != cases[tn.Name] {
			t.Errorf("%s routes %+v, want %+v", tn.Name, got, cases[tn.Name])
		}
	}
}

// Every problem comes at once, each with its line, in the words an
// operator needs.
func TestProblemsNameTheirLine(t *testing.T) {
	file := `defaults:
  sourse: mcas
groups:
  emea: {digest_channel: "#soc"}
tenants:
  - name: contoso
    url: https://contoso.portal.cloudappsecurity.com
    token: abc123-SECRET
  - name: contoso
    url: https://contoso2.portal.cloudappsecurity.com
    token_file: /run/secrets/missing
  - name: Fabrikam!
    source: graf
  - name: northwind
    source: graph
    token_file: /run/secrets/present
    entra: {tenant_id: not a directory}
    min_severity: urgent
  - url: https://x.portal.cloudappsecurity.com
`
	exists := func(p string) error {
		if p == "/run/secrets/present" {
			return nil
		}
		return errors.New("no such file")
	}
	f, ps := tenants.Parse([]byte(file), exists)
	if f != nil {
		t.Fatal("a broken file loaded")
	}
	want := []string{
		`line 2: defaults: unknown key "sourse" (did you mean source?)`,
		`line 4: digest_channel "#soc" is not a channel ID`,
		`line 6: tenant "contoso": no sign-in: give token_file`,
		`line 8: token would put a secret in the tenants file; put it in a file and name it with token_file`,
		`line 9: tenant "contoso" is listed twice (first on line 6)`,
		`line 11: token_file: cannot read /run/secrets/missing: no such file`,
		`line 12: tenant name "Fabrikam!": use lowercase letters`,
		`line 13: source "graf": use mcas`,
		`line 16: tenant "northwind": token_file is an MCAS API token; a graph tenant signs in with entra:`,
		`line 17: entra: tenant_id "not a directory" is not a directory ID`,
		`line 18: min_severity "urgent": use informational, low, medium, high`,
		`line 19: a tenant without a name`,
	}
	got := ps.Err().Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("problems lack %q", w)
		}
	}
	if strings.Contains(got, "abc123-SECRET") {
		t.Error("a secret from the file is repeated in the problems")
	}
	if t.Failed() {
		t.Log(got)
	}
}

func TestWarningsDoNotStopTheFile(t *testing.T) {
	file := `groups:
  emea: {digest_channel: C0EMEA01}
  apac: {digest_channel: C0APAC01}
  unused: {}
tenants:
  - name: contoso
    url: https://contoso.portal.cloudappsecurity.com
    token_file: /t
    groups: [apac, emea]
  - name: northwind
    source: graph
    url: https://ignored.example
    entra: {tenant_id: 3c6e2f9d-8a41-4b7e-9f2a-5d1c0e7b6a93}
`
	f, ps := tenants.Parse([]byte(file), nil)
	if f == nil {
		t.Fatalf("warnings stopped the file: %v", ps)
	}
	text := ""
	for _, p := range ps {
		if !p.Warning {
			t.Errorf("not a warning: %s", p)
		}
		text += p.String() + "\n"
	}
	for _, w := range []string{`line 4: group "unused" has no tenants`, `line 6: tenant "contoso" is in groups with different digest channels (C0APAC01, C0EMEA01): the first group's is used`,
		`line 12: tenant "northwind": url is not used by source graph`} {
		if !strings.Contains(text, w) {
			t.Errorf("warnings lack %q:\n%s", w, text)
		}
	}
	if got := f.Route(f.Tenants[0]).DigestChannel; got != "C0APAC01" {
		t.Errorf("contoso's digest goes to %s, want its first group's", got)
	}
}

func TestBadShapes(t *testing.T) {
	for file, want := range map[string]string{
		"":                             "the file is empty",
		"tenants: {contoso: {}}":       "tenants must be a list",
		"tenants: []":                  "the tenants list is empty",
		"[1, 2]":                       "the file must be a mapping",
		"tenants:\n  - name: a\n  -":   "a tenant must be a mapping",
		"a: b\n---\nc: d":              "only one YAML document",
		"tenants:\n  - name: [a, b]\n": "name must be a single value",
		"groups: [emea]\ntenants: []":  "groups must map each group's name",
		"tenants:\n\t- name: a":        "not YAML",
		"tenants:\n  - name: a\n    digest_channel: #soc\n": `line 3: digest_channel has no value: YAML reads #soc as a comment (quote a value that starts with #)`,
	} {
		f, ps := tenants.Parse([]byte(file), nil)
		if f != nil || ps.Err() == nil || !strings.Contains(ps.Err().Error(), want) {
			t.Errorf("%q: %v, want %q", file, ps.Err(), want)
		}
	}
}

func TestSelections(t *testing.T) {
	s := tenants.Set{Names: []string{"contoso", "fabrikam", "northwind"}, Groups: map[string][]string{"emea": {"contoso", "fabrikam"}, "tier1": {"northwind"}}}
	for sel, want := range map[string][]string{
		"contoso":                  {"contoso"},
		"Fabrikam, contoso":        {"contoso", "fabrikam"},
		"group:emea":               {"contoso", "fabrikam"},
		"group:tier1,contoso":      {"contoso", "northwind"},
		"group:emea,fabrikam,,":    {"contoso", "fabrikam"},
		"GROUP:EMEA,group:tier1  ": {"contoso", "fabrikam", "northwind"},
	} {
		got, err := s.Select(sel)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%q selects %v %v, want %v", sel, got, err, want)
		}
	}
	for sel, want := range map[string]string{
		"contso":     `no tenant "contso" (did you mean contoso?)`,
		"group:emae": `no group "emae" (did you mean group:emea?)`,
		"emea":       `"emea" is a group: write tenant=group:emea`,
		"zzz":        `no tenant "zzz" (known: contoso, fabrikam, northwind)`,
		",":          "name a tenant or a group (tenant=contoso, tenant=group:emea)",
	} {
		if _, err := s.Select(sel); err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %q", sel, err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("../tenants.example.yaml")
	f.Add(string(b))
	f.Add("tenants:\n  - name: a\n    url: https://a\n    token_file: x\n")
	f.Add("groups: {a: {digest_channel: C0A}}\ntenants: [{name: b, source: graph, entra: {tenant_id: b.com}, groups: [a]}]")
	f.Fuzz(func(t *testing.T, s string) {
		lines := strings.Count(s, "\n") + 2
		file, ps := tenants.Parse([]byte(s), nil)
		for _, p := range ps {
			if p.Line < 0 || p.Line > lines || p.Msg == "" {
				t.Fatalf("problem %+v for a %d-line file", p, lines)
			}
		}
		if file == nil {
			if ps.Err() == nil {
				t.Fatal("no file and no error")
			}
			return
		}
		seen := map[string]bool{}
		for _, tn := range file.Tenants {
			if seen[tn.Name] || tn.Name == "" || (tn.Source != "mcas" && tn.Source != "graph") {
				t.Fatalf("loaded a bad tenant %+v", tn)
			}
			seen[tn.Name] = true
			if _, err := file.Set().Select(tn.Name); err != nil {
				t.Fatalf("tenant %q cannot be selected: %v", tn.Name, err)
			}
		}
	})
}

// The Helm chart's example values carry tenants files too: they must load
// (a key the parser refuses would stop the bot at start).
func TestTheChartsTenantsFilesLoad(t *testing.T) {
	files, _ := filepath.Glob("../deploy/helm/mcasbot/ci/*.yaml")
	found := 0
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var values struct {
			Tenants struct{ Content string } `yaml:"tenants"`
		}
		if err := yaml.Unmarshal(b, &values); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if values.Tenants.Content == "" {
			continue
		}
		found++
		if f, ps := tenants.Parse([]byte(values.Tenants.Content), nil); f == nil || len(ps) > 0 {
			t.Errorf("%s: the tenants file has problems: %v", name, ps)
		}
	}
	if found == 0 {
		t.Fatal("no chart values with a tenants file")
	}
}

// ParseEntries gives the entries that are right, so their secret files
// can be checked in the same round as the others' mistakes.
func TestParseEntriesKeepsTheRightOnes(t *testing.T) {
	file := `tenants:
  - name: contoso
    url: https://contoso.eu2.portal.cloudappsecurity.com
    token_file: /t
  - name: fabrikam
    url: https://fabrikam.us3.portal.cloudappsecurity.com
    entra: {tenant_id: not a directory, client_id: 6e1f0c7b-2a4d-4b8e-9c3f-5d7a1e0b4c26, client_secret_file: /s}
  - name: northwind
    url: https://northwind.eu2.portal.cloudappsecurity.com
    token_file: /t
    colour: blue
`
	if f, _ := tenants.Parse([]byte(file), nil); f != nil {
		t.Fatal("a file with errors loaded")
	}
	f, ps := tenants.ParseEntries([]byte(file), nil)
	if f == nil || ps.Err() == nil || !slices.Equal(f.Set().Names, []string{"contoso"}) {
		t.Fatalf("entries %+v, problems %v", f, ps)
	}
	// Every secret file named, by wrong entries too (a reload watches them).
	if !slices.Equal(f.Files, []string{"/t", "/s"}) {
		t.Fatalf("files %v", f.Files)
	}
}
