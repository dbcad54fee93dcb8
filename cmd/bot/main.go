// Command bot is mcasbot: Microsoft Defender for Cloud Apps in Slack.
//
//	bot [run]                  the Socket Mode bot
//	bot exec [--json] '<text>' one /mcas command, without Slack
//	bot demo                   a local console over a built-in sandbox
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot"
	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/mcas"
)

const usage = `mcasbot: Microsoft Defender for Cloud Apps in Slack

Usage:
  bot [run]                   run the Slack bot (Socket Mode)
  bot exec [--json] '<text>'  run one /mcas command without Slack and print the reply
  bot demo [--json]           try every command against a built-in sandbox (no credentials)

Configuration comes from the environment; see README.md.
`

// Exit codes.
const (
	exitOK       = 0
	exitUpstream = 1 // an upstream failed
	exitUsage    = 2 // bad input or configuration
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ()))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) int {
	cmd := "run"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runBot(ctx, stderr, environ)
	case "exec":
		return execCmd(ctx, args, stdout, stderr, environ)
	case "demo":
		return demo(ctx, args, stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "unknown subcommand %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

// loadOrExplain loads the configuration and prints every problem.
// On success it returns the warnings for the caller to log.
func loadOrExplain(environ []string, need needs, stderr io.Writer) (*Config, []Tenant, Problems, bool) {
	cfg, tenants, problems := Load(environ, need)
	if err := problems.Err(); err != nil {
		fmt.Fprintln(stderr, err)
		for _, p := range problems {
			if !p.Fatal {
				fmt.Fprintln(stderr, p)
			}
		}
		return nil, nil, nil, false
	}
	return cfg, tenants, problems, true
}

func secretsOf(cfg *Config, tenants []Tenant) []string {
	s := []string{cfg.SlackBotToken.Reveal(), cfg.SlackAppToken.Reveal(), cfg.AbuseKey.Reveal()}
	for _, t := range tenants {
		s = append(s, t.Token.Reveal())
	}
	return s
}

// newRunner wires the MCAS and AbuseIPDB clients.
func newRunner(cfg *Config, tenants []Tenant, hc *http.Client, logger *slog.Logger) (*commands.Runner, error) {
	r := &commands.Runner{Timeout: cfg.CommandTimout}
	for _, t := range tenants {
		c, err := mcas.New(mcas.Config{Name: t.Name, URL: t.URL, Token: t.Token.Reveal(), Timeout: cfg.MCASTimeout,
			RequestsPerMinute: cfg.MCASRate, Attempts: cfg.MCASAttempts}, hc, logger)
		if err != nil {
			return nil, err
		}
		r.Tenants = append(r.Tenants, c)
	}
	if cfg.AbuseKey != "" {
		c, err := abuseipdb.New(abuseipdb.Config{APIKey: cfg.AbuseKey.Reveal(), URL: cfg.AbuseURL, MaxAgeDays: cfg.AbuseMaxAge,
			CacheTTL: cfg.AbuseCacheTTL}, hc, logger)
		if err != nil {
			return nil, err
		}
		r.Reputation = c
	}
	return r, nil
}

func httpClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 16
	return &http.Client{Transport: t}
}

func runBot(ctx context.Context, stderr io.Writer, environ []string) int {
	cfg, tenants, problems, ok := loadOrExplain(environ, needs{slack: true, tenants: true}, stderr)
	if !ok {
		return exitUsage
	}
	logger := newLogger(stderr, cfg.LogLevel, cfg.LogFormat, secretsOf(cfg, tenants))
	for _, p := range problems {
		logger.Warn("configuration: " + p.Msg)
	}
	hc := httpClient()
	runner, err := newRunner(cfg, tenants, hc, logger)
	if err != nil {
		logger.Error("cannot start", "error", err)
		return exitUsage
	}
	api := slack.New(cfg.SlackBotToken.Reveal(), slack.OptionAppLevelToken(cfg.SlackAppToken.Reveal()),
		slack.OptionAPIURL(cfg.SlackAPIURL), slack.OptionHTTPClient(hc))
	b := bot.New(bot.Config{AllowedChannels: cfg.AllowedChannels, AllowedUsers: cfg.AllowedUsers, Workers: cfg.Workers}, api, runner, hc, logger)
	names := make([]string, len(tenants))
	for i, t := range tenants {
		names[i] = t.Name
	}
	logger.Info("mcasbot starting", "tenants", names, "abuseipdb", cfg.AbuseKey != "")
	if err := b.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		logger.Error("stopped", "error", err)
		return exitUpstream
	}
	logger.Info("mcasbot stopped")
	return exitOK
}

func execCmd(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) int {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the exact Slack message JSON")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg, tenants, _, ok := loadOrExplain(environ, needs{tenants: true}, stderr)
	if !ok {
		return exitUsage
	}
	logger := newLogger(stderr, "warn", cfg.LogFormat, secretsOf(cfg, tenants))
	runner, err := newRunner(cfg, tenants, httpClient(), logger)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	return execute(ctx, runner, joinArgs(fs.Args()), *asJSON, stdout, stderr)
}

func joinArgs(a []string) string { return strings.Join(a, " ") }
