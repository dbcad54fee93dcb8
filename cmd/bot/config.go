package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/soc/mcasbot/bot/filing"
	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/source"
)

// Secret is a string that never prints: not in logs, errors or %v.
type Secret string

func (s Secret) String() string               { return redacted(s) }
func (s Secret) GoString() string             { return redacted(s) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted(s)), nil }

// Reveal is the only way to the value; call it where the secret is used.
func (s Secret) Reveal() string { return string(s) }

func redacted(s Secret) string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

type tenantEnv struct {
	Name      string `env:"NAME"`
	URL       string `env:"URL"`
	Token     Secret `env:"TOKEN"`
	TokenFile string `env:"TOKEN_FILE"`
	// Source and ServiceSources: config_graph.go.
	Source         string `env:"SOURCE"`
	ServiceSources string `env:"SERVICE_SOURCES"`
}

// Config is every setting, read from the environment.
type Config struct {
	SlackBotToken     Secret   `env:"SLACK_BOT_TOKEN"`
	SlackBotTokenFile string   `env:"SLACK_BOT_TOKEN_FILE"`
	SlackAppToken     Secret   `env:"SLACK_APP_TOKEN"`
	SlackAppTokenFile string   `env:"SLACK_APP_TOKEN_FILE"`
	SlackAPIURL       string   `env:"SLACK_API_URL" envDefault:"https://slack.com/api/"`
	AllowedChannels   []string `env:"SLACK_ALLOWED_CHANNELS"`
	AllowedUsers      []string `env:"SLACK_ALLOWED_USERS"`

	Tenant        tenantEnv      `envPrefix:"MCAS_"`
	Entra         entraEnv       // AZURE_*, GRAPH_URL: config_entra.go
	Graph         graphEnv       // tenants read through Microsoft Graph: config_graph.go
	Tenants       []tenantEnv    `envPrefix:"MCAS_TENANT"`
	TenantsFile   tenantsFileEnv // TENANTS_FILE: config_tenants.go
	MCASTimeout   time.Duration  `env:"MCAS_TIMEOUT" envDefault:"20s"`
	MCASRate      int            `env:"MCAS_REQUESTS_PER_MINUTE" envDefault:"25"`
	MCASAttempts  int            `env:"MCAS_ATTEMPTS" envDefault:"3"`
	CommandTimout time.Duration  `env:"COMMAND_TIMEOUT" envDefault:"25s"`
	Workers       int            `env:"WORKERS" envDefault:"8"`
	Busy          busyConfig
	Retention     retentionEnv // STATE_RETENTION: config_retention.go

	AbuseKey      Secret        `env:"ABUSEIPDB_API_KEY"`
	AbuseKeyFile  string        `env:"ABUSEIPDB_API_KEY_FILE"`
	AbuseURL      string        `env:"ABUSEIPDB_URL" envDefault:"https://api.abuseipdb.com/api/v2"`
	AbuseCacheTTL time.Duration `env:"ABUSEIPDB_CACHE_TTL" envDefault:"6h"`
	AbuseMaxAge   int           `env:"ABUSEIPDB_MAX_AGE_DAYS" envDefault:"90"`

	HTTPAddr  string `env:"HTTP_ADDR" envDefault:":8080"`
	LogLevel  string `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat string `env:"LOG_FORMAT" envDefault:"text"`

	DatabaseURL     Secret   `env:"DATABASE_URL"`
	DatabaseURLFile string   `env:"DATABASE_URL_FILE"`
	ActionUsers     []string `env:"SLACK_ACTION_USERS"`

	DigestSchedule    string        `env:"DIGEST_SCHEDULE" envDefault:"0 8 * * *"`
	DigestTimezone    string        `env:"DIGEST_TIMEZONE" envDefault:"UTC"`
	DigestChannel     string        `env:"DIGEST_CHANNEL"`
	DigestMinSeverity string        `env:"DIGEST_MIN_SEVERITY" envDefault:"low"`
	DigestLookback    time.Duration `env:"DIGEST_LOOKBACK" envDefault:"24h"`
	DigestOverlap     time.Duration `env:"DIGEST_OVERLAP" envDefault:"2h"`
	DigestMaxAlerts   int           `env:"DIGEST_MAX_ALERTS" envDefault:"500"`
	DigestQuiet       string        `env:"DIGEST_QUIET_MESSAGE"`
	Correlation       correlationEnv

	JiraURL          string `env:"JIRA_URL"`
	JiraUser         string `env:"JIRA_USER"`
	JiraAPIToken     Secret `env:"JIRA_API_TOKEN"`
	JiraAPITokenFile string `env:"JIRA_API_TOKEN_FILE"`
	JiraPAT          Secret `env:"JIRA_PAT"`
	JiraPATFile      string `env:"JIRA_PAT_FILE"`
	JiraDeployment   string `env:"JIRA_DEPLOYMENT"`
	JiraProject      string `env:"JIRA_PROJECT"`
	JiraIssueType    string `env:"JIRA_ISSUE_TYPE" envDefault:"Task"`
	JiraPriorities   string `env:"JIRA_PRIORITIES"`
	JiraRules        string `env:"JIRA_PRIORITY_RULES"`
	JiraFields       struct {
		AlertURL         string `env:"ALERT_URL"`
		AlertSummary     string `env:"ALERT_SUMMARY"`
		AlertDescription string `env:"ALERT_DESCRIPTION"`
		AffectedUser     string `env:"AFFECTED_USER"`
		IP               string `env:"IP"`
		ReportedIPs      string `env:"REPORTED_IPS"`
	} `envPrefix:"JIRA_FIELD_"`

	JiraSync SyncSettings   // config_report.go
	Report   ReportSettings // config_report.go

	// Derived while loading.
	minSeverity source.Severity
	mapping     filing.Mapping
	roster      *roster // the tenants file's groups and routes (nil without one)
}

// DigestEnabled reports whether the digest runs: a digest channel is
// configured, or a tenants file may route tenants to channels of their own
// (a reload can add them; tenants without one are named at each run).
func (c *Config) DigestEnabled() bool { return c.DigestChannel != "" || c.TenantsFile.Path != "" }

// JiraEnabled reports whether Jira is configured.
func (c *Config) JiraEnabled() bool { return c.JiraURL != "" }

// Tenant is one resolved tenant.
type Tenant struct {
	Name, URL string
	Token     Secret
	Entra     *entra.Settings // nil: the legacy Token
	// Source is the API its alerts are read through (source.MCAS or
	// source.Graph); ServiceSources the Defender products a Graph tenant
	// reads (nil: Defender for Cloud Apps).
	Source         string
	ServiceSources []string
}

// Problem is one thing wrong with the configuration.
type Problem struct {
	Fatal bool
	Msg   string
	Area  string // "": a setting; areaTenants: the tenants file
}

func (p Problem) String() string {
	if p.Fatal {
		return "error: " + p.Msg
	}
	return "warning: " + p.Msg
}

// Problems are every problem found, fatal first.
type Problems []Problem

// Err is nil unless a problem is fatal; then it lists them all.
func (ps Problems) Err() error {
	var lines []string
	for _, p := range ps {
		if p.Fatal {
			lines = append(lines, "  - "+p.Msg)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return fmt.Errorf("configuration has %d %s:\n%s", len(lines), plural(len(lines), "error", "errors"), strings.Join(lines, "\n"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// needs says which parts a subcommand requires.
type needs struct{ slack, tenants, digest bool }

// Load reads the configuration from environ ("KEY=value" pairs) and
// returns every problem at once.
func Load(environ []string, need needs) (*Config, []Tenant, Problems) {
	vars := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	var ps Problems
	fatal := func(format string, a ...any) { ps = append(ps, Problem{Fatal: true, Msg: fmt.Sprintf(format, a...)}) }
	warn := func(format string, a ...any) { ps = append(ps, Problem{Msg: fmt.Sprintf(format, a...)}) }

	var cfg Config
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: vars}); err != nil {
		var agg env.AggregateError
		if errors.As(err, &agg) {
			for _, e := range agg.Errors {
				fatal("%s", e)
			}
		} else {
			fatal("%s", err)
		}
	}
	secret := func(name string, val *Secret, file string) {
		if file == "" {
			return
		}
		if *val != "" {
			fatal("%s and %s_FILE are both set; use one", name, name)
			return
		}
		b, err := os.ReadFile(file)
		if err != nil {
			fatal("%s_FILE: cannot read %s: %v", name, file, errors.Unwrap(err))
			return
		}
		*val = Secret(strings.TrimSpace(string(b)))
		if *val == "" {
			fatal("%s_FILE: %s is empty", name, file)
		}
	}
	secret("SLACK_BOT_TOKEN", &cfg.SlackBotToken, cfg.SlackBotTokenFile)
	secret("SLACK_APP_TOKEN", &cfg.SlackAppToken, cfg.SlackAppTokenFile)
	secret("ABUSEIPDB_API_KEY", &cfg.AbuseKey, cfg.AbuseKeyFile)
	secret("DATABASE_URL", &cfg.DatabaseURL, cfg.DatabaseURLFile)
	secret("JIRA_API_TOKEN", &cfg.JiraAPIToken, cfg.JiraAPITokenFile)
	secret("JIRA_PAT", &cfg.JiraPAT, cfg.JiraPATFile)
	secret("AZURE_CLIENT_SECRET", &cfg.Entra.ClientSecret, cfg.Entra.ClientSecretFile)
	secret("AZURE_CLIENT_CERTIFICATE_PASSWORD", &cfg.Entra.CertPassword, cfg.Entra.CertPasswordFile)

	if need.slack {
		switch {
		case cfg.SlackBotToken == "":
			fatal("SLACK_BOT_TOKEN is not set (the xoxb- bot token from OAuth & Permissions)")
		case !strings.HasPrefix(cfg.SlackBotToken.Reveal(), "xoxb-"):
			fatal("SLACK_BOT_TOKEN does not start with xoxb- (is it the app-level token?)")
		}
		switch {
		case cfg.SlackAppToken == "":
			fatal("SLACK_APP_TOKEN is not set (an app-level xapp- token with connections:write, for Socket Mode)")
		case !strings.HasPrefix(cfg.SlackAppToken.Reveal(), "xapp-"):
			fatal("SLACK_APP_TOKEN does not start with xapp- (is it the bot token?)")
		}
		if u, err := url.Parse(cfg.SlackAPIURL); err != nil || u.Scheme == "" || u.Host == "" {
			fatal("SLACK_API_URL %q is not a URL", cfg.SlackAPIURL)
		} else if !strings.HasSuffix(cfg.SlackAPIURL, "/") {
			cfg.SlackAPIURL += "/"
		}
		if len(cfg.AllowedChannels) == 0 {
			warn("SLACK_ALLOWED_CHANNELS is empty: commands are answered in every channel the app is in")
		}
		if len(cfg.AllowedUsers) == 0 {
			warn("SLACK_ALLOWED_USERS is empty: everyone in an allowed channel may run commands")
		}
		for _, id := range append(slices.Clone(cfg.AllowedChannels), cfg.AllowedUsers...) {
			if !slackID.MatchString(strings.TrimSpace(id)) {
				fatal("%q in SLACK_ALLOWED_CHANNELS/SLACK_ALLOWED_USERS is not a Slack ID (like C0123ABCD or U0123ABCD); names are not accepted", id)
			}
		}
	}

	tenants, fileProblems := configuredTenants(&cfg, vars, fatal, warn, secret)
	ps = append(ps, fileProblems...)
	if need.tenants && len(tenants) == 0 && !hasFatal(ps) {
		fatal("no MCAS tenant configured: set TENANTS_FILE (a tenants file like tenants.example.yaml), or MCAS_URL and MCAS_TOKEN (or AZURE_TENANT_ID), or MCAS_TENANT_0_NAME/_URL/_TOKEN (or _AZURE_TENANT_ID; and _1_, _2_, … for more)")
	}

	if cfg.MCASTimeout <= 0 {
		fatal("MCAS_TIMEOUT must be positive")
	}
	if cfg.MCASRate < 1 || cfg.MCASRate > 30 {
		fatal("MCAS_REQUESTS_PER_MINUTE must be from 1 to 30 (MCAS allows 30 per tenant), not %d", cfg.MCASRate)
	}
	if cfg.MCASAttempts < 1 || cfg.MCASAttempts > 10 {
		fatal("MCAS_ATTEMPTS must be from 1 to 10, not %d", cfg.MCASAttempts)
	}
	if cfg.CommandTimout < time.Second {
		fatal("COMMAND_TIMEOUT must be at least 1s")
	}
	if cfg.Workers < 1 || cfg.Workers > 256 {
		fatal("WORKERS must be from 1 to 256, not %d", cfg.Workers)
	}
	if cfg.AbuseKey == "" {
		warn("ABUSEIPDB_API_KEY is not set: /mcas ip shows no reputation")
	}
	if cfg.AbuseCacheTTL <= 0 {
		fatal("ABUSEIPDB_CACHE_TTL must be positive")
	}
	if cfg.AbuseMaxAge < 1 || cfg.AbuseMaxAge > 365 {
		fatal("ABUSEIPDB_MAX_AGE_DAYS must be from 1 to 365, not %d", cfg.AbuseMaxAge)
	}
	if _, err := parseLevel(cfg.LogLevel); err != nil {
		fatal("LOG_LEVEL: %v", err)
	}
	if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
		fatal("LOG_FORMAT must be text or json, not %q", cfg.LogFormat)
	}
	if cfg.HTTPAddr != "" && cfg.HTTPAddr != "off" {
		if _, port, err := net.SplitHostPort(cfg.HTTPAddr); err != nil || port == "" {
			fatal("HTTP_ADDR %q is not host:port (like :8080), or \"off\"", cfg.HTTPAddr)
		}
	}
	validateDigest(&cfg, need, fatal, warn)
	validateCorrelation(&cfg, fatal, warn)
	validateJira(&cfg, fatal, warn)
	validateBusy(&cfg, fatal, warn)
	validateEntra(&cfg, tenants, fatal, warn)
	validateReport(&cfg, vars, fatal, warn)
	validateGraph(&cfg, tenants, fatal, warn)
	validateRetention(&cfg, fatal, warn)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Fatal && !ps[j].Fatal })
	return &cfg, tenants, ps
}

func validateDigest(cfg *Config, need needs, fatal, warn func(string, ...any)) {
	if _, _, err := schedule.ParseSchedule(cfg.DigestSchedule, cfg.DigestTimezone); err != nil {
		fatal("DIGEST_SCHEDULE/DIGEST_TIMEZONE: %v", err)
	}
	sev, ok := source.ParseSeverity(cfg.DigestMinSeverity)
	if !ok {
		fatal("DIGEST_MIN_SEVERITY must be informational, low, medium or high, not %q", cfg.DigestMinSeverity)
	}
	cfg.minSeverity = sev
	if cfg.DigestChannel != "" && !slackID.MatchString(cfg.DigestChannel) {
		fatal("DIGEST_CHANNEL %q is not a channel ID (like C0123ABCD)", cfg.DigestChannel)
	}
	if need.digest && !cfg.DigestEnabled() {
		fatal("DIGEST_CHANNEL is not set (the ID of the channel the digest is posted in), and no TENANTS_FILE routes tenants to channels")
	}
	if cfg.DigestLookback <= 0 || cfg.DigestLookback > 30*24*time.Hour {
		fatal("DIGEST_LOOKBACK must be between 1s and 720h, not %s", cfg.DigestLookback)
	}
	if cfg.DigestOverlap < 0 || cfg.DigestOverlap > 7*24*time.Hour {
		fatal("DIGEST_OVERLAP must be between 0 and 168h, not %s", cfg.DigestOverlap)
	}
	if cfg.DigestMaxAlerts < 1 || cfg.DigestMaxAlerts > 5000 {
		fatal("DIGEST_MAX_ALERTS must be from 1 to 5000 (MCAS pages no deeper), not %d", cfg.DigestMaxAlerts)
	}
	for _, id := range cfg.ActionUsers {
		if !slackID.MatchString(strings.TrimSpace(id)) {
			fatal("%q in SLACK_ACTION_USERS is not a Slack user ID", id)
		}
	}
}

var customField = regexp.MustCompile(`^customfield_\d+$`)

func validateJira(cfg *Config, fatal, warn func(string, ...any)) {
	fields := map[string]string{
		"JIRA_FIELD_ALERT_URL": cfg.JiraFields.AlertURL, "JIRA_FIELD_ALERT_SUMMARY": cfg.JiraFields.AlertSummary,
		"JIRA_FIELD_ALERT_DESCRIPTION": cfg.JiraFields.AlertDescription, "JIRA_FIELD_AFFECTED_USER": cfg.JiraFields.AffectedUser,
		"JIRA_FIELD_IP": cfg.JiraFields.IP, "JIRA_FIELD_REPORTED_IPS": cfg.JiraFields.ReportedIPs,
	}
	if !cfg.JiraEnabled() {
		if cfg.JiraProject != "" || cfg.JiraAPIToken != "" || cfg.JiraPAT != "" {
			warn("JIRA_* settings are present but JIRA_URL is not: the Create Jira button is off")
		}
		return
	}
	if u, err := url.Parse(cfg.JiraURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		fatal("JIRA_URL %q is not an https URL", cfg.JiraURL)
	}
	switch {
	case cfg.JiraPAT != "" && cfg.JiraAPIToken != "":
		fatal("JIRA_API_TOKEN (Cloud) and JIRA_PAT (Data Center) are both set; use one")
	case cfg.JiraPAT == "" && cfg.JiraAPIToken == "":
		fatal("Jira credentials missing: JIRA_USER + JIRA_API_TOKEN (Cloud) or JIRA_PAT (Data Center)")
	case cfg.JiraAPIToken != "" && cfg.JiraUser == "":
		fatal("JIRA_API_TOKEN needs JIRA_USER (the account's e-mail)")
	}
	if d := cfg.JiraDeployment; d != "" && d != string(jira.Cloud) && d != string(jira.DataCenter) {
		fatal("JIRA_DEPLOYMENT must be cloud or datacenter, not %q", d)
	}
	if !regexp.MustCompile(`^[A-Z][A-Z0-9_]{1,9}$`).MatchString(cfg.JiraProject) {
		fatal("JIRA_PROJECT %q is not a project key (like SEC)", cfg.JiraProject)
	}
	if strings.TrimSpace(cfg.JiraIssueType) == "" {
		fatal("JIRA_ISSUE_TYPE is empty")
	}
	prios, err := filing.ParsePriorities(cfg.JiraPriorities)
	if err != nil {
		fatal("JIRA_PRIORITIES: %v", err)
	}
	rules, err := filing.ParseRules(cfg.JiraRules)
	if err != nil {
		fatal("JIRA_PRIORITY_RULES: %v", err)
	}
	for name, id := range fields {
		if id != "" && !customField.MatchString(id) {
			fatal("%s %q is not a custom field id (like customfield_10050; `bot check` lists them)", name, id)
		}
	}
	if !cfg.DigestEnabled() {
		warn("JIRA_URL is set but DIGEST_CHANNEL is not: Create Jira buttons only appear in digests")
	}
	f := cfg.JiraFields
	cfg.mapping = filing.Mapping{Project: cfg.JiraProject, IssueType: strings.TrimSpace(cfg.JiraIssueType), Priorities: prios, Rules: rules,
		Fields: filing.Fields{AlertURL: f.AlertURL, AlertSummary: f.AlertSummary, AlertDescription: f.AlertDescription,
			AffectedUser: f.AffectedUser, IP: f.IP, ReportedIPs: f.ReportedIPs}}
}

func hasFatal(ps Problems) bool {
	return slices.ContainsFunc(ps, func(p Problem) bool { return p.Fatal })
}

var (
	slackID      = regexp.MustCompile(`^[CGDUW][A-Z0-9]{2,}$`)
	tenantName   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$`)
	tenantVarRE  = regexp.MustCompile(`^MCAS_TENANT_(\d+)_(.+)$`)
	tenantFields = append([]string{"NAME", "URL", "TOKEN", "TOKEN_FILE", "SOURCE", "SERVICE_SOURCES"}, entraTenantFields...)
)

// resolveTenants reads the MCAS_URL/MCAS_TOKEN or MCAS_TENANT_<i>_* form.
func resolveTenants(cfg *Config, vars map[string]string, fatal, warn func(string, ...any), secret func(string, *Secret, string)) []Tenant {
	// caarlos0/env stops at the first missing index: find what it skipped.
	for k := range vars {
		m := tenantVarRE.FindStringSubmatch(k)
		if m == nil {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		if i >= len(cfg.Tenants) {
			fatal("%s is set but MCAS_TENANT_%d_* is not: number tenants from 0 without gaps", k, len(cfg.Tenants))
		} else if !slices.Contains(tenantFields, m[2]) {
			warn("%s is not a known setting (expected _NAME, _URL, _TOKEN, _TOKEN_FILE, _SOURCE, _SERVICE_SOURCES or _AZURE_…)", k)
		}
	}
	single := cfg.Tenant.URL != "" || cfg.Tenant.Token != "" || cfg.Tenant.TokenFile != "" || cfg.Tenant.Source != ""
	if single && len(cfg.Tenants) > 0 {
		fatal("both MCAS_URL/MCAS_TOKEN and MCAS_TENANT_<i>_* are set; use one form")
		return nil
	}
	raw := cfg.Tenants
	prefix := func(i int) string { return fmt.Sprintf("MCAS_TENANT_%d_", i) }
	if single {
		raw = []tenantEnv{cfg.Tenant}
		prefix = func(int) string { return "MCAS_" }
	}
	var out []Tenant
	seen := map[string]bool{}
	for i, t := range raw {
		if tn, ok := resolveTenant(cfg, envSpec(cfg, vars, t, prefix(i), single), seen, fatal, warn, secret); ok {
			out = append(out, tn)
		}
	}
	return out
}

// envSpec is one tenant of the environment variables (p is its prefix).
func envSpec(cfg *Config, vars map[string]string, t tenantEnv, p string, single bool) tenantSpec {
	s := tenantSpec{key: func(field string) string { return p + field }, Name: t.Name, Source: t.Source, URL: t.URL,
		Token: t.Token, TokenFile: t.TokenFile}
	for src := range strings.SplitSeq(t.ServiceSources, ",") {
		if src = strings.TrimSpace(src); src != "" {
			s.ServiceSources = append(s.ServiceSources, src)
		}
	}
	if single {
		// The single-tenant form signs in with the standard variables.
		s.key = func(field string) string {
			if field == "AZURE_TENANT_ID" {
				return field
			}
			return p + field
		}
		s.TenantID = strings.TrimSpace(cfg.Entra.TenantID)
		return s
	}
	own := func(k string) string { return strings.TrimSpace(vars[p+k]) }
	s.TenantID, s.ClientID = own("AZURE_TENANT_ID"), own("AZURE_CLIENT_ID")
	s.ClientSecret, s.ClientSecretFile = Secret(own("AZURE_CLIENT_SECRET")), own("AZURE_CLIENT_SECRET_FILE")
	s.CertPath = own("AZURE_CLIENT_CERTIFICATE_PATH")
	s.CertPassword, s.CertPasswordFile = Secret(own("AZURE_CLIENT_CERTIFICATE_PASSWORD")), own("AZURE_CLIENT_CERTIFICATE_PASSWORD_FILE")
	return s
}

// tenantSpec is one tenant as configured, by MCAS_TENANT_<i>_* or by an
// entry of the tenants file: both are checked and resolved by
// resolveTenant. Fields are named by the variables' suffixes.
type tenantSpec struct {
	// key names a setting in messages: "MCAS_TENANT_1_URL", or the
	// tenants file's "url" for key("URL").
	key            func(field string) string
	Name, Source   string
	URL            string
	Token          Secret
	TokenFile      string
	ServiceSources []string
	// Entra ID: with only TenantID, the standard AZURE_* credential.
	TenantID         string
	ClientID         string
	ClientSecret     Secret
	ClientSecretFile string
	CertPath         string
	CertPassword     Secret
	CertPasswordFile string
}

// ownApp reports whether the tenant names an Entra application of its own.
func (s tenantSpec) ownApp() bool {
	return s.ClientID != "" || s.ClientSecret != "" || s.ClientSecretFile != "" || s.CertPath != "" || s.CertPassword != "" || s.CertPasswordFile != ""
}

// resolveTenant checks one tenant and resolves its sign-in; seen holds
// the names taken so far.
func resolveTenant(cfg *Config, s tenantSpec, seen map[string]bool, fatal, warn func(string, ...any), secret func(string, *Secret, string)) (Tenant, bool) {
	k := s.key
	secret(k("TOKEN"), &s.Token, s.TokenFile)
	if src, ok := tenantSource(s, fatal, warn); !ok {
		return Tenant{}, false
	} else if src == source.Graph {
		return graphTenant(cfg, s, seen, fatal, warn, secret)
	}
	u, err := url.Parse(strings.TrimRight(s.URL, "/"))
	switch {
	case s.URL == "":
		fatal("%s is not set (e.g. https://contoso.eu2.portal.cloudappsecurity.com)", k("URL"))
		return Tenant{}, false
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		fatal("%s %q is not an https URL", k("URL"), s.URL)
		return Tenant{}, false
	case u.Scheme == "http":
		warn("%s uses plain http: the token would travel unencrypted", k("URL"))
	}
	name := s.Name
	if name == "" {
		name, _, _ = strings.Cut(u.Hostname(), ".")
	}
	if !tenantName.MatchString(name) {
		fatal("%s %q must be 1-40 letters, digits, - or _", k("NAME"), name)
		return Tenant{}, false
	}
	if seen[strings.ToLower(name)] {
		fatal("tenant name %q is used twice; set %s", name, k("NAME"))
		return Tenant{}, false
	}
	seen[strings.ToLower(name)] = true
	legacy := s.Token != "" || s.TokenFile != ""
	ent := tenantEntra(cfg, s, name, legacy, fatal, warn, secret)
	if ent == nil && !legacy {
		return Tenant{}, false
	}
	return Tenant{Name: name, URL: u.String(), Token: s.Token, Entra: ent, Source: source.MCAS}, true
}
