package main

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// The configuration reference (docs/configuration.md) is generated from
// the Config struct: its env tags give each variable's name, envDefault its
// default, a Secret with a <NAME>_FILE twin says it can come from a file.
// settingDocs says what each means. configdoc_test.go fails when a variable
// has no description, a description names no variable, or the page is not
// what this code writes (`go test ./cmd/bot -run TestConfigurationReference
// -update` writes it).

// setting is one row of the reference.
type setting struct {
	name string // MCAS_TENANT_<i>_NAME for per-tenant ones
	def  string // envDefault, or the doc's own words
	file bool   // also as <name>_FILE
}

// settingDoc is what a variable means, and its default in words when the
// struct's envDefault does not say it (e.g. "— (digest off)"). The docs'
// order is the page's.
type settingDoc struct {
	name    string
	section string // starts a new part of the page
	def     string
	meaning string
}

// settings lists every variable Config reads, in struct order.
func settings() []setting {
	var out []setting
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, tagged := f.Tag.Lookup("env")
			switch {
			case name == "-":
				continue
			case f.Type.Kind() == reflect.Struct && f.Type.Name() != "Duration" && !tagged:
				walk(f.Type, prefix+f.Tag.Get("envPrefix"))
				continue
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				walk(f.Type.Elem(), prefix+f.Tag.Get("envPrefix")+"_<i>_")
				continue
			case !tagged:
				continue
			}
			out = append(out, setting{name: prefix + name, def: f.Tag.Get("envDefault"), file: f.Type == reflect.TypeOf(Secret(""))})
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	// Read by hand, not through tags: per-tenant sign-in (config_entra.go)
	// and the report's schedule, whose empty value means off.
	for _, f := range tenantFields {
		name := "MCAS_TENANT_<i>_" + f
		if !slices.ContainsFunc(out, func(s setting) bool { return s.name == name }) {
			out = append(out, setting{name: name, file: strings.HasSuffix(f, "SECRET") || strings.HasSuffix(f, "PASSWORD")})
		}
	}
	out = append(out, setting{name: reportScheduleVar, def: DefaultReportSchedule})
	// A secret's <NAME>_FILE twin is its row's "/ _FILE", not a row.
	var rows []setting
	for _, s := range out {
		if base, ok := strings.CutSuffix(s.name, "_FILE"); ok && slices.ContainsFunc(out, func(o setting) bool { return o.name == base && o.file }) {
			continue
		}
		rows = append(rows, s)
	}
	return rows
}

// configReference is docs/configuration.md.
func configReference() (string, error) {
	facts := map[string]setting{}
	for _, s := range settings() {
		facts[s.name] = s
	}
	var missing, stale []string
	documented := map[string]bool{}
	for _, d := range settingDocs {
		documented[d.name] = true
		if _, ok := facts[d.name]; !ok {
			stale = append(stale, d.name)
		}
	}
	for _, s := range settings() {
		if !documented[s.name] {
			missing = append(missing, s.name)
		}
	}
	if len(missing) > 0 || len(stale) > 0 {
		return "", fmt.Errorf("configuration reference: no description for %v; descriptions of no variable: %v (cmd/bot/configdoc_text.go)", missing, stale)
	}
	var b strings.Builder
	b.WriteString(referenceHead)
	for _, d := range settingDocs {
		s := facts[d.name]
		if d.section != "" {
			fmt.Fprintf(&b, "\n## %s\n\n| variable | default | meaning |\n|---|---|---|\n", d.section)
		}
		name := "`" + s.name + "`"
		if s.file {
			name += " / `_FILE`"
		}
		def := d.def
		if def == "" && s.def != "" {
			def = "`" + s.def + "`"
		}
		if def == "" {
			def = "—"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", name, def, d.meaning)
	}
	return b.String(), nil
}

const referenceHead = `# Configuration

<!-- Generated from cmd/bot (the Config struct's env tags and configdoc_text.go) by
     go test ./cmd/bot -run TestConfigurationReference -update. Do not edit by hand. -->

Every setting, read from the environment (tenants can also come from a tenants file).
How they fit together is in the [operator's guide](operator-guide.md).

Every secret can be given directly or as ` + "`<NAME>_FILE`" + `, a path to a file holding it (Docker/Kubernetes
secrets); setting both is an error. Secrets never appear in logs, errors or Slack messages: they are held
in a type that prints as ` + "`[redacted]`" + `, and the logger redacts any value that contains one. Durations take Go's
form (` + "`90s`, `20m`, `36h`" + `); those of days also ` + "`7d`" + ` or ` + "`2w`" + ` where the row says so.
`
