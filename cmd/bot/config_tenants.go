package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/soc/mcasbot/tenants"
)

// tenantsFileEnv is TENANTS_FILE: every tenant in one YAML file (package
// tenants checks it), with groups and routes, in place of the
// MCAS_TENANT_<i>_* variables. The bot reloads it on SIGHUP and when its
// contents change (reload.go).
type tenantsFileEnv struct {
	Path string `env:"TENANTS_FILE"`
	// Poll is how often the file's contents are compared (0: on SIGHUP only).
	Poll time.Duration `env:"TENANTS_FILE_POLL" envDefault:"5s"`
}

// roster is what a tenants file resolves to.
type roster struct {
	Tenants []Tenant
	Groups  map[string][]string      // group → its tenants
	Routes  map[string]tenants.Route // by tenant
	Version tenants.Version          // what was read, for the reload watcher
}

// areaTenants marks the tenants file's problems (bot check's "tenants" lines).
const areaTenants = "tenants"

// singleVars are the single-tenant form's variables (MCAS_TIMEOUT and the
// like are settings of every tenant, not a tenant).
var (
	singleVars     = []string{"MCAS_NAME", "MCAS_URL", "MCAS_TOKEN", "MCAS_TOKEN_FILE", "MCAS_SOURCE", "MCAS_SERVICE_SOURCES"}
	tenantVarAnyRE = regexp.MustCompile(`^MCAS_TENANT_\d+_`)
)

// configuredTenants reads the tenants from TENANTS_FILE when it is set,
// else from the variables.
func configuredTenants(cfg *Config, vars map[string]string, fatal, warn func(string, ...any), secret func(string, *Secret, string)) ([]Tenant, Problems) {
	path := strings.TrimSpace(cfg.TenantsFile.Path)
	if cfg.TenantsFile.Poll < 0 {
		fatal("TENANTS_FILE_POLL must be 0 (reload on SIGHUP only) or positive, not %s", cfg.TenantsFile.Poll)
	} else if cfg.TenantsFile.Poll > 0 && cfg.TenantsFile.Poll < 100*time.Millisecond {
		fatal("TENANTS_FILE_POLL must be at least 100ms (or 0), not %s", cfg.TenantsFile.Poll)
	}
	if path == "" {
		return resolveTenants(cfg, vars, fatal, warn, secret), nil
	}
	if set := tenantVariables(vars); len(set) > 0 {
		fatal("TENANTS_FILE is set, and so %s %s: the tenants file replaces the MCAS_URL/MCAS_TOKEN and MCAS_TENANT_<i>_* variables; "+
			"remove them (tenants.example.yaml shows where each setting goes) or unset TENANTS_FILE", plural(len(set), "is", "are"), andList(capped(set, 8)))
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Problems{{Fatal: true, Area: areaTenants, Msg: fmt.Sprintf("TENANTS_FILE: cannot read %s: %v", path, errUnwrap(err))}}
	}
	r, ps, _ := loadTenantsFile(cfg, path, data)
	cfg.roster = r
	if r == nil {
		return nil, ps
	}
	return r.Tenants, ps
}

// tenantVariables are the tenant variables set (to something), sorted.
func tenantVariables(vars map[string]string) []string {
	var out []string
	for k, v := range vars {
		if strings.TrimSpace(v) != "" && (slices.Contains(singleVars, k) || tenantVarAnyRE.MatchString(k)) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// capped keeps the first n names and counts the rest.
func capped(names []string, n int) []string {
	if len(names) <= n {
		return names
	}
	return append(slices.Clone(names[:n]), fmt.Sprintf("%d more", len(names)-n))
}

// fileKeys name the variables' settings as the tenants file's keys, for
// the messages resolveTenant shares with the variables.
var fileKeys = map[string]string{
	"NAME": "name", "SOURCE": "source", "URL": "url", "TOKEN": "token_file", "SERVICE_SOURCES": "service_sources",
	"AZURE_TENANT_ID": "entra.tenant_id", "AZURE_CLIENT_ID": "entra.client_id",
	"AZURE_CLIENT_SECRET": "entra.client_secret_file", "AZURE_CLIENT_SECRET_FILE": "entra.client_secret_file",
	"AZURE_CLIENT_CERTIFICATE_PATH":     "entra.certificate_file",
	"AZURE_CLIENT_CERTIFICATE_PASSWORD": "entra.certificate_password_file", "AZURE_*": "entra:",
}

func fileKey(field string) string {
	if k, ok := fileKeys[field]; ok {
		return k
	}
	return strings.ToLower(field)
}

// loadTenantsFile checks a tenants file (data, read from path) and
// resolves its tenants the way the variables' are resolved. Every problem
// names the file and line. r is nil when a problem is an error; named are
// the secret files the file names, either way.
func loadTenantsFile(cfg *Config, path string, data []byte) (r *roster, ps Problems, named []string) {
	add := func(fatal bool, line int, msg string) {
		at := path + ": "
		if line > 0 {
			at = fmt.Sprintf("%s:%d: ", path, line)
		}
		ps = append(ps, Problem{Fatal: fatal, Area: areaTenants, Msg: at + msg})
	}
	// The entries that parse are resolved even when others do not, so
	// that every problem is told at once.
	f, fps := tenants.ParseEntries(data, readable)
	for _, p := range fps {
		add(!p.Warning, p.Line, p.Msg)
	}
	if f == nil {
		return nil, ps, nil
	}
	r = &roster{Groups: f.Set().Groups, Routes: map[string]tenants.Route{}}
	seen := map[string]bool{}
	for _, t := range f.Tenants {
		fatal := func(format string, a ...any) { add(true, t.Line, fmt.Sprintf(format, a...)) }
		warn := func(format string, a ...any) { add(false, t.Line, fmt.Sprintf(format, a...)) }
		s := fileSpec(t)
		tn, ok := resolveTenant(cfg, s, seen, fatal, warn, fileSecret(fatal))
		if !ok {
			continue
		}
		r.Tenants = append(r.Tenants, tn)
		if rt := f.Route(t); rt != (tenants.Route{}) {
			r.Routes[tn.Name] = rt
		}
	}
	if hasFatal(ps) {
		return nil, ps, f.Files
	}
	r.Version = tenants.Version{Sum: tenants.Sum(data, f.Files), Files: f.Files}
	return r, ps, f.Files
}

// fileSpec is a tenants file entry as resolveTenant reads it.
func fileSpec(t tenants.Tenant) tenantSpec {
	s := tenantSpec{key: fileKey, Name: t.Name, Source: t.Source, URL: t.URL, TokenFile: t.TokenFile, ServiceSources: t.ServiceSources}
	if t.Source == tenants.SourceGraph {
		s.URL = "" // the parser warned already
	}
	if e := t.Entra; e != nil {
		s.TenantID, s.ClientID = e.TenantID, e.ClientID
		s.ClientSecretFile, s.CertPath, s.CertPasswordFile = e.ClientSecretFile, e.CertificateFile, e.CertificatePasswordFile
	}
	return s
}

// fileSecret reads a secret file a tenants file names (key is its key).
func fileSecret(fatal func(string, ...any)) func(key string, val *Secret, file string) {
	return func(key string, val *Secret, file string) {
		if file == "" {
			return
		}
		b, err := os.ReadFile(file)
		if err != nil {
			fatal("%s: cannot read %s: %v", key, file, errUnwrap(err))
			return
		}
		*val = Secret(strings.TrimSpace(string(b)))
		if *val == "" {
			fatal("%s: %s is empty", key, file)
		}
	}
}

// readable is the parser's check that a secret file can be read.
func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return errUnwrap(err)
	}
	st, err := f.Stat()
	_ = f.Close()
	if err == nil && st.IsDir() {
		return errors.New("is a directory")
	}
	return err
}
