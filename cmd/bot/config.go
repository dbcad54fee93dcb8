package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
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

	Tenant        tenantEnv     `envPrefix:"MCAS_"`
	Tenants       []tenantEnv   `envPrefix:"MCAS_TENANT"`
	MCASTimeout   time.Duration `env:"MCAS_TIMEOUT" envDefault:"20s"`
	MCASRate      int           `env:"MCAS_REQUESTS_PER_MINUTE" envDefault:"25"`
	MCASAttempts  int           `env:"MCAS_ATTEMPTS" envDefault:"3"`
	CommandTimout time.Duration `env:"COMMAND_TIMEOUT" envDefault:"25s"`
	Workers       int           `env:"WORKERS" envDefault:"8"`

	AbuseKey      Secret        `env:"ABUSEIPDB_API_KEY"`
	AbuseKeyFile  string        `env:"ABUSEIPDB_API_KEY_FILE"`
	AbuseURL      string        `env:"ABUSEIPDB_URL" envDefault:"https://api.abuseipdb.com/api/v2"`
	AbuseCacheTTL time.Duration `env:"ABUSEIPDB_CACHE_TTL" envDefault:"6h"`
	AbuseMaxAge   int           `env:"ABUSEIPDB_MAX_AGE_DAYS" envDefault:"90"`

	LogLevel  string `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat string `env:"LOG_FORMAT" envDefault:"text"`
}

// Tenant is one resolved MCAS tenant.
type Tenant struct {
	Name, URL string
	Token     Secret
}

// Problem is one thing wrong with the configuration.
type Problem struct {
	Fatal bool
	Msg   string
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
type needs struct{ slack, tenants bool }

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

	tenants := resolveTenants(&cfg, vars, fatal, warn, secret)
	if need.tenants && len(tenants) == 0 && !hasFatal(ps) {
		fatal("no MCAS tenant configured: set MCAS_URL and MCAS_TOKEN, or MCAS_TENANT_0_NAME/_URL/_TOKEN (and _1_, _2_, … for more)")
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
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Fatal && !ps[j].Fatal })
	return &cfg, tenants, ps
}

func hasFatal(ps Problems) bool {
	return slices.ContainsFunc(ps, func(p Problem) bool { return p.Fatal })
}

var (
	slackID      = regexp.MustCompile(`^[CGDUW][A-Z0-9]{2,}$`)
	tenantName   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$`)
	tenantVarRE  = regexp.MustCompile(`^MCAS_TENANT_(\d+)_(.+)$`)
	tenantFields = []string{"NAME", "URL", "TOKEN", "TOKEN_FILE"}
)

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
			warn("%s is not a known setting (expected _NAME, _URL, _TOKEN or _TOKEN_FILE)", k)
		}
	}
	single := cfg.Tenant.URL != "" || cfg.Tenant.Token != "" || cfg.Tenant.TokenFile != ""
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
		p := prefix(i)
		secret(p+"TOKEN", &t.Token, t.TokenFile)
		u, err := url.Parse(strings.TrimRight(t.URL, "/"))
		switch {
		case t.URL == "":
			fatal("%sURL is not set (e.g. https://contoso.eu2.portal.cloudappsecurity.com)", p)
			continue
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			fatal("%sURL %q is not an https URL", p, t.URL)
			continue
		case u.Scheme == "http":
			warn("%sURL uses plain http: the token would travel unencrypted", p)
		}
		if t.Token == "" && t.TokenFile == "" {
			fatal("%sTOKEN is not set", p)
		}
		name := t.Name
		if name == "" {
			name, _, _ = strings.Cut(u.Hostname(), ".")
		}
		if !tenantName.MatchString(name) {
			fatal("%sNAME %q must be 1-40 letters, digits, - or _", p, name)
			continue
		}
		if seen[strings.ToLower(name)] {
			fatal("tenant name %q is used twice; set %sNAME", name, p)
			continue
		}
		seen[strings.ToLower(name)] = true
		out = append(out, Tenant{Name: name, URL: u.String(), Token: t.Token})
	}
	return out
}
