package main

import (
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/soc/mcasbot/integrations/entra"
)

// entraEnv is how tenants sign in with Entra ID (issue #9): the standard
// AZURE_* variables azidentity documents, used by every tenant that names
// no application of its own, and Microsoft Graph for group rules.
type entraEnv struct {
	AuthorityHost      string `env:"AZURE_AUTHORITY_HOST" envDefault:"https://login.microsoftonline.com/"`
	TenantID           string `env:"AZURE_TENANT_ID"`
	ClientID           string `env:"AZURE_CLIENT_ID"`
	ClientSecret       Secret `env:"AZURE_CLIENT_SECRET"`
	ClientSecretFile   string `env:"AZURE_CLIENT_SECRET_FILE"`
	CertPath           string `env:"AZURE_CLIENT_CERTIFICATE_PATH"`
	CertPassword       Secret `env:"AZURE_CLIENT_CERTIFICATE_PASSWORD"`
	CertPasswordFile   string `env:"AZURE_CLIENT_CERTIFICATE_PASSWORD_FILE"`
	FederatedTokenFile string `env:"AZURE_FEDERATED_TOKEN_FILE"`
	GraphURL           string `env:"GRAPH_URL" envDefault:"https://graph.microsoft.com"`

	// Secrets are every Entra secret and password, for the logger's
	// redaction (exported: fmt prints unexported fields raw).
	Secrets []Secret

	std   *entra.Settings // the standard variables' credential, once read
	stdOK bool
}

// entraTenantFields are the per-tenant settings, after MCAS_TENANT_<i>_.
var entraTenantFields = []string{"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_SECRET_FILE",
	"AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_CLIENT_CERTIFICATE_PASSWORD_FILE"}

var (
	guidRE      = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	directoryRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$`)
)

// AuthName says how a tenant signs in: "legacy token" or
// "Entra app <client id> (secret)".
func (t Tenant) AuthName() string {
	if t.Entra == nil {
		return "legacy token"
	}
	return t.Entra.Describe()
}

// tenantEntra resolves one tenant's sign-in: nil for its legacy token.
// The first match wins: the tenant's own application (a secret, else a
// certificate), else the standard variables (secret, certificate,
// federated token file), else a managed identity.
func tenantEntra(cfg *Config, t tenantSpec, name string, legacy bool, fatal, warn func(string, ...any), secret func(string, *Secret, string)) *entra.Settings {
	k := t.key
	ownApp := t.ownApp()
	switch {
	case t.TenantID != "" && legacy:
		fatal("%s: both %s and %s are set; use one (Entra ID replaces the legacy token)", name, k("TOKEN"), k("AZURE_TENANT_ID"))
		return nil
	case legacy && ownApp:
		fatal("%s: %s application settings need %s (the tenant's directory ID); or drop them and keep %s", name, k("AZURE_*"), k("AZURE_TENANT_ID"), k("TOKEN"))
		return nil
	case legacy:
		return nil
	case t.TenantID == "":
		fatal("%s is not set (or sign in with Entra ID: set %s)", k("TOKEN"), k("AZURE_TENANT_ID"))
		return nil
	case !guidRE.MatchString(t.TenantID) && !directoryRE.MatchString(t.TenantID):
		fatal("%s: %s is not a directory (tenant) ID like 72f988bf-86f1-41af-91ab-2d7cd011db47 or a domain like contoso.onmicrosoft.com", name, k("AZURE_TENANT_ID"))
		return nil
	}
	if !ownApp {
		std, ok := standardCredential(cfg, fatal, warn)
		if !ok {
			return nil
		}
		s := *std
		s.Tenant, s.TenantID = name, t.TenantID
		return &s
	}
	sec, pw := t.ClientSecret, t.CertPassword
	secret(k("AZURE_CLIENT_SECRET"), &sec, t.ClientSecretFile)
	secret(k("AZURE_CLIENT_CERTIFICATE_PASSWORD"), &pw, t.CertPasswordFile)
	cfg.Entra.Secrets = append(cfg.Entra.Secrets, sec, pw)
	s := &entra.Settings{Tenant: name, TenantID: t.TenantID, ClientID: t.ClientID, AuthorityHost: cfg.Entra.AuthorityHost}
	switch {
	case t.ClientID == "":
		fatal("%s: %s or %s needs %s (the application's client ID)", name, k("AZURE_CLIENT_SECRET"), k("AZURE_CLIENT_CERTIFICATE_PATH"), k("AZURE_CLIENT_ID"))
		return nil
	case !guidRE.MatchString(t.ClientID):
		fatal("%s: %s is not an application (client) ID, a GUID like 0b5c1e7a-3f1d-4c59-9a57-5a1f00000001", name, k("AZURE_CLIENT_ID"))
		return nil
	case sec != "":
		if t.CertPath != "" {
			warn("%s: %s and %s are both set: the secret is used", name, k("AZURE_CLIENT_SECRET"), k("AZURE_CLIENT_CERTIFICATE_PATH"))
		}
		s.Method, s.Secret = entra.ClientSecret, sec.Reveal()
	case t.CertPath != "":
		if !loadCert(s, k("AZURE_CLIENT_CERTIFICATE_PATH"), t.CertPath, pw, fatal) {
			return nil
		}
	default:
		fatal("%s: %s needs %s (or %s) or %s", name, k("AZURE_CLIENT_ID"), k("AZURE_CLIENT_SECRET"), k("AZURE_CLIENT_SECRET_FILE"), k("AZURE_CLIENT_CERTIFICATE_PATH"))
		return nil
	}
	return s
}

// standardCredential reads the standard AZURE_* variables once, for every
// tenant that names no application of its own.
func standardCredential(cfg *Config, fatal, warn func(string, ...any)) (*entra.Settings, bool) {
	e := &cfg.Entra
	if e.std != nil {
		return e.std, e.stdOK
	}
	s := &entra.Settings{ClientID: strings.TrimSpace(e.ClientID), AuthorityHost: e.AuthorityHost}
	e.std, e.stdOK = s, true
	need := func(what string) bool {
		switch {
		case s.ClientID == "":
			fatal("%s needs AZURE_CLIENT_ID (the application's client ID)", what)
		case !guidRE.MatchString(s.ClientID):
			fatal("AZURE_CLIENT_ID is not an application (client) ID, a GUID like 0b5c1e7a-3f1d-4c59-9a57-5a1f00000001")
		default:
			return true
		}
		e.stdOK = false
		return false
	}
	switch {
	case e.ClientSecret != "":
		if e.CertPath != "" || e.FederatedTokenFile != "" {
			warn("AZURE_CLIENT_SECRET is set with AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE: the secret is used")
		}
		if need("AZURE_CLIENT_SECRET") {
			s.Method, s.Secret = entra.ClientSecret, e.ClientSecret.Reveal()
		}
	case e.CertPath != "":
		if need("AZURE_CLIENT_CERTIFICATE_PATH") {
			e.stdOK = loadCert(s, "AZURE_CLIENT_CERTIFICATE_PATH", e.CertPath, e.CertPassword, fatal)
		}
	case e.FederatedTokenFile != "":
		if need("AZURE_FEDERATED_TOKEN_FILE") {
			s.Method, s.TokenFile = entra.WorkloadIdentity, e.FederatedTokenFile
			if _, err := os.Stat(e.FederatedTokenFile); err != nil {
				warn("AZURE_FEDERATED_TOKEN_FILE %s cannot be read yet (%v); workload identity reads it at each sign-in", e.FederatedTokenFile, errUnwrap(err))
			}
		}
	default:
		// A managed identity: system-assigned, or the user-assigned one
		// AZURE_CLIENT_ID names.
		s.Method = entra.ManagedIdentity
		if s.ClientID != "" && !guidRE.MatchString(s.ClientID) {
			fatal("AZURE_CLIENT_ID is not a managed identity's client ID, a GUID like 0b5c1e7a-3f1d-4c59-9a57-5a1f00000001")
			e.stdOK = false
		}
	}
	return s, e.stdOK
}

// loadCert reads and parses a certificate now, so a bad file or password is
// a configuration error rather than a failure at the first command.
func loadCert(s *entra.Settings, name, path string, password Secret, fatal func(string, ...any)) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		fatal("%s: cannot read %s: %v", name, path, errUnwrap(err))
		return false
	}
	certs, key, err := entra.LoadCertificate(data, password.Reveal())
	if err != nil {
		fatal("%s %s: %v", name, path, err)
		return false
	}
	s.Method, s.Certs, s.Key = entra.Certificate, certs, key
	return true
}

func errUnwrap(err error) error {
	if u, ok := err.(interface{ Unwrap() error }); ok && u.Unwrap() != nil {
		return u.Unwrap()
	}
	return err
}

// validateEntra checks what is shared by the tenants' Entra sign-ins, once
// the tenants are resolved.
func validateEntra(cfg *Config, tenants []Tenant, fatal, warn func(string, ...any)) {
	e := &cfg.Entra
	e.Secrets = append(e.Secrets, e.ClientSecret, e.CertPassword)
	if err := entra.CheckAuthority(e.AuthorityHost); err != nil {
		fatal("AZURE_AUTHORITY_HOST %v", err)
	}
	if u, err := url.Parse(e.GraphURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		fatal("GRAPH_URL %q is not an https URL (like https://graph.microsoft.com)", e.GraphURL)
	} else if u.Scheme == "http" {
		warn("GRAPH_URL uses plain http: Graph tokens would travel unencrypted")
	}
	// (The workload identity webhook sets it for every pod: no news then.)
	if strings.TrimSpace(e.TenantID) != "" && e.FederatedTokenFile == "" {
		switch {
		case cfg.TenantsFile.Path != "":
			warn("AZURE_TENANT_ID is ignored with TENANTS_FILE: each tenant's entra: tenant_id names its directory")
		case len(cfg.Tenants) > 0:
			warn("AZURE_TENANT_ID is ignored with MCAS_TENANT_<i>_*: give each tenant its own MCAS_TENANT_<i>_AZURE_TENANT_ID")
		}
	}
	var managed []string
	for _, t := range tenants {
		if t.Entra != nil && t.Entra.Method == entra.ManagedIdentity {
			managed = append(managed, t.Name)
		}
	}
	if len(managed) > 1 {
		how := "MCAS_TENANT_<i>_AZURE_CLIENT_ID"
		if cfg.TenantsFile.Path != "" {
			how = "entra: client_id with client_secret_file or certificate_file"
		}
		warn("tenants %s all sign in with the managed identity, which gets tokens only in its own directory: give the others an application (%s)", strings.Join(managed, ", "), how)
	}
	if cfg.JiraEnabled() && cfg.mapping.TestsGroups() {
		for _, t := range tenants {
			if t.Entra == nil {
				warn("JIRA_PRIORITY_RULES tests groups, but %s signs in with a legacy token: its alerts never match a group rule (Graph needs Entra ID)", t.Name)
			}
		}
	}
}

// entraSecrets are every Entra secret and certificate password, for the
// logger's redaction.
func (c *Config) entraSecrets() []string {
	var out []string
	for _, s := range c.Entra.Secrets {
		out = append(out, s.Reveal())
	}
	return out
}
