// Command bot is mcasbot: Microsoft Defender for Cloud Apps in Slack.
//
//	bot [run]                  the Socket Mode bot
//	bot exec [--json] '<text>' one /mcas command, without Slack
//	bot digest [--dry-run]     one digest now
//	bot report [--dry-run]     the periodic report now, today so far
//	bot prune [--dry-run]      prune the state store now
//	bot demo                   a local console over a built-in sandbox
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // DIGEST_TIMEZONE works on images without zoneinfo

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot"
	"github.com/soc/mcasbot/console"
	"github.com/soc/mcasbot/demo"
	"github.com/soc/mcasbot/ops"
	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/store"
)

const usage = `mcasbot: Microsoft Defender for Cloud Apps in Slack

Usage:
  bot [run]                   run the Slack bot (Socket Mode)
  bot exec [--json] '<text>'  run one /mcas command without Slack and print the reply
  bot digest [--dry-run]      post one digest now (--dry-run: print it as JSON, post and record nothing)
  bot report [--dry-run] [--period=30d] [--until=now|midnight] [--out=report.png]
                              post the report and its chart now, up to now with today so far (--until=midnight:
                              the last whole days, as scheduled; --dry-run: print it as JSON, write the PNG)
  bot prune [--dry-run]       prune the state store of what STATE_RETENTION no longer keeps (--dry-run: count only)
  bot demo [--json]           try every command against a built-in sandbox (no credentials)
  bot check                   validate the configuration and reach every upstream
  bot probe <url>             GET a health URL; exit 0 on 2xx (container healthchecks)

Configuration comes from the environment; see docs/configuration.md (every setting)
and docs/operator-guide.md (setting it up).
`

// Exit codes.
const (
	exitOK       = console.ExitOK
	exitUpstream = console.ExitUpstream // an upstream failed
	exitUsage    = console.ExitUsage    // bad input or configuration
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
	case "digest":
		return digestCmd(ctx, args, stdout, stderr, environ)
	case "report":
		return reportCmd(ctx, args, stdout, stderr, environ)
	case "prune":
		return pruneCmd(ctx, args, stdout, stderr, environ)
	case "demo":
		return demo.Run(ctx, args, stdin, stdout, stderr)
	case "probe":
		return probe(ctx, args, stderr)
	case "check":
		return checkCmd(ctx, stdout, stderr, environ)
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
	s := []string{cfg.SlackBotToken.Reveal(), cfg.SlackAppToken.Reveal(), cfg.AbuseKey.Reveal(), cfg.JiraAPIToken.Reveal(),
		cfg.JiraPAT.Reveal(), dbPassword(cfg.DatabaseURL.Reveal())}
	for _, t := range tenants {
		s = append(s, t.Token.Reveal())
	}
	return append(s, cfg.entraSecrets()...)
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
	secrets := newRedactor(secretsOf(cfg, tenants))
	logger := newRedactingLogger(stderr, cfg.LogLevel, cfg.LogFormat, secrets)
	for _, p := range problems {
		logger.Warn("configuration: " + p.Msg)
	}
	a, err := wire(ctx, cfg, tenants, logger, true)
	if err != nil {
		logger.Error("cannot start", "error", err)
		return exitUsage
	}
	defer a.Close()
	api := slackAPI(cfg, a.hc)
	b := bot.New(bot.Config{AllowedChannels: cfg.AllowedChannels, AllowedUsers: cfg.AllowedUsers, Workers: cfg.Workers,
		ReplyDeadline: cfg.Busy.ReplyDeadline}, api, a.runner, a.hc, logger)
	metrics := ops.NewMetrics()
	a.instrument(metrics, b)
	a.enableJira(b, metrics)
	a.enableTriage(b, metrics)
	monitor := &store.Monitor{Store: a.store, Logger: logger}
	go monitor.Run(ctx)
	metrics.Watch(b.Connected, monitor.Healthy, a.quota())
	tenantsCheck := a.watchTenants(ctx, secrets, metrics)
	if cfg.HTTPAddr != "" && cfg.HTTPAddr != "off" {
		srv := ops.Server(cfg.HTTPAddr, ops.Handler(metrics,
			ops.Check{Name: "slack_socket_mode", OK: b.Connected},
			ops.Check{Name: "state_store", OK: monitor.Healthy}, tenantsCheck))
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			logger.Error("cannot listen for health and metrics", "addr", cfg.HTTPAddr, "error", err)
			return exitUsage
		}
		go func() { _ = srv.Serve(ln) }()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		logger.Info("serving /healthz, /readyz and /metrics", "addr", ln.Addr().String())
	}
	names := make([]string, len(tenants))
	for i, t := range tenants {
		names[i] = t.Name
	}
	logger.Info("mcasbot starting", "tenants", names, "abuseipdb", cfg.AbuseKey != "", "store", store.Kind(cfg.DatabaseURL.Reveal()),
		"jira", cfg.JiraEnabled(), "digest", cfg.DigestEnabled(), "jira_sync", cfg.SyncEnabled(), "report", cfg.ReportEnabled())
	if cfg.DigestEnabled() {
		d := a.digest(api)
		d.OnPosted = func(n int) { metrics.AlertsPosted.Add(float64(n)) }
		sched, err := schedule.NewScheduler(cfg.DigestSchedule, cfg.DigestTimezone, d, logger)
		if err != nil {
			logger.Error("cannot schedule the digest", "error", err)
			return exitUsage
		}
		sched.OnRun = func(o string) {
			metrics.DigestRuns.WithLabelValues(o).Inc()
			// A digest reads and lays out thousands of alerts at once, then
			// the bot idles for hours: give that memory back now, not over
			// the minutes the runtime's scavenger takes (one GC a run).
			debug.FreeOSMemory()
		}
		sched.Start(ctx)
		defer sched.Stop()
	}
	if cfg.SyncEnabled() {
		s := a.jiraSync(api, metrics)
		s.Start(ctx)
		defer s.Stop()
	}
	if cfg.ReportEnabled() {
		j, err := a.scheduleReport(ctx, api, metrics)
		if err != nil {
			logger.Error("cannot schedule the report", "error", err)
			return exitUsage
		}
		defer j.Stop()
	}
	defer a.startRetention(ctx, metrics)()
	if err := b.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		logger.Error("stopped", "error", err)
		return exitUpstream
	}
	logger.Info("mcasbot stopped")
	return exitOK
}

// digestCmd runs one digest now.
func digestCmd(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) int {
	fs := flag.NewFlagSet("digest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dry := fs.Bool("dry-run", false, "print the messages as JSON; post and record nothing")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg, tenants, _, ok := loadOrExplain(environ, needs{slack: !*dry, tenants: true, digest: !*dry}, stderr)
	if !ok {
		return exitUsage
	}
	logger := newLogger(stderr, cfg.LogLevel, cfg.LogFormat, secretsOf(cfg, tenants))
	a, err := wire(ctx, cfg, tenants, logger, true)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	defer a.Close()
	var api *slack.Client
	if !*dry {
		api = slackAPI(cfg, a.hc)
	}
	rep, err := a.digest(api).Run(ctx, *dry)
	if *dry {
		console.WriteJSON(stdout, rep.DryRun)
	}
	fmt.Fprintf(stderr, "digest: %d new, %d posted in %d messages, %d tenants failed%s\n", rep.New, rep.Posted, rep.Messages, len(rep.Failures), skipped(rep.Skipped))
	for _, f := range rep.Failures {
		fmt.Fprintf(stderr, "  %s: %s\n", f.Tenant, f.Reason)
	}
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return exitUpstream
	}
	if len(rep.Failures) > 0 {
		return exitUpstream
	}
	return exitOK
}

// probe GETs a URL and exits 0 on a 2xx answer: a healthcheck for images
// without curl.
func probe(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: bot probe http://127.0.0.1:8080/healthz")
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUpstream
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		fmt.Fprintln(stderr, resp.Status)
		return exitUpstream
	}
	return exitOK
}

func skipped(why string) string {
	if why == "" {
		return ""
	}
	return " (skipped: " + why + ")"
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
	a, err := wire(ctx, cfg, tenants, logger, false)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	return console.Execute(ctx, a.runner, joinArgs(fs.Args()), 0, *asJSON, stdout, stderr)
}

func joinArgs(a []string) string { return strings.Join(a, " ") }
