// Package demo is `bot demo`: a console over a sandbox of two sample
// tenants, AbuseIPDB, Entra ID, Graph, Jira and Slack, all served in-process
// by the fakes the tests use, with no credentials and no network. The real
// bot runs against it (Socket Mode included), so the console shows what
// analysts would see. `bot demo --tenants=N` is a managed SOC's sandbox
// instead (fleet.go): N generated tenants on one fake MCAS, their digest
// routed to ten channels.
package demo

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/console"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/abuseipdb/abusefake"
	"github.com/soc/mcasbot/integrations/defender/defenderfake"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/tenants"
)

// sandbox is two sample tenants and AbuseIPDB, served in-process on
// loopback by the same fakes the tests use: contoso through the MCAS REST
// API, fabrikam through Microsoft Graph (entra.go).
type sandbox struct {
	mcas   map[string]*mcasfake.Server // the tenants on MCAS, by name
	abuse  *abusefake.Server
	runner *commands.Runner
	entra  *demoEntra
	clock  *clock
}

func newSandbox(clk *clock, logger *slog.Logger) (*sandbox, error) {
	sb := &sandbox{runner: &commands.Runner{Tenants: tenants.Static(), Timeout: demoTimeout, CacheTTL: time.Minute, Cooldown: demoCooldown, Now: clk.Now}, entra: newDemoEntra(clk), clock: clk,
		mcas: map[string]*mcasfake.Server{}}
	now := clk.Now()
	for i, name := range []string{"contoso", "fabrikam"} {
		if name == demoEntraTenant {
			c, err := sb.entra.graphTenant(name, now, uint64(i+1), clk, logger)
			if err != nil {
				sb.Close()
				return nil, err
			}
			sb.runner.Tenants.Put(c)
			continue
		}
		token := "demo-token-" + name
		srv := mcasfake.New(token)
		srv.Now = clk.Now
		srv.AddAlerts(mcasfake.Generate(name, 60, now, 10*24*time.Hour, uint64(i+1))...)
		srv.AddAlerts(mcasfake.Hostile(name, now.Add(-90*time.Minute)))
		srv.AddAlerts(relatedSamples(name, now)...)
		srv.AddActivities(mcasfake.GenerateActivities(name, 200, now, 72*time.Hour, uint64(i+1))...)
		sb.mcas[name] = srv
		c, err := mcas.New(mcas.Config{Name: name, URL: srv.URL, Token: token, RequestsPerMinute: -1}, srv.Client(), logger)
		if err != nil {
			sb.Close()
			return nil, err
		}
		sb.runner.Tenants.Put(c)
	}
	sb.abuse = abusefake.New("demo-abuse-key", 1000)
	sb.abuse.Now = clk.Now
	for _, r := range abusefake.SamplesAt(now) {
		sb.abuse.Set(r)
	}
	rep, err := abuseipdb.New(abuseipdb.Config{APIKey: "demo-abuse-key", URL: sb.abuse.URL}, sb.abuse.Client(), logger)
	if err != nil {
		sb.Close()
		return nil, err
	}
	sb.runner.Reputation = rep
	return sb, nil
}

func (sb *sandbox) Close() {
	for _, t := range sb.mcas {
		t.Close()
	}
	if sb.abuse != nil {
		sb.abuse.Close()
	}
	sb.entra.Close()
}

const demoBanner = `mcasbot demo: a sandbox with two sample tenants (contoso, fabrikam), AbuseIPDB, Jira
and Slack, all in this process: no credentials, no network. fabrikam has moved to Defender XDR: it is
read through Microsoft Graph's security API and signs in with an Entra ID application (a sandbox
Entra ID over TLS); contoso keeps the MCAS API and a legacy token. "quit" or Ctrl-D ends. Try:
  /mcas alerts
  /mcas alerts 10 high
  /mcas ip 185.220.101.4
  /mcas ip 10.20.30.40
  /mcas user alice@contoso.com
  /mcas alerts limit=500        (bad input: see the message)
  /mcas help
  /mcas alerts 10 high          (again: the answer is reused, "as of" the first)
  slow fabrikam                 fabrikam takes 3 s to answer its next lookup; then try
  /mcas alerts 5 medium         the reply at the deadline (1 s) shows contoso, then the rest
  hang fabrikam                 fabrikam stops answering; then try
  /mcas alerts 5 low            it waits for fabrikam up to 5 s (COMMAND_TIMEOUT), then fabrikam is not answering:
  /mcas user alice@contoso.com  for 3 s (TENANT_COOLDOWN) lookups skip it at once: "fabrikam is not answering
  /mcas alerts tenant=fabrikam  (timed out … ago)", and asked alone, when it is asked again
  back fabrikam                 fabrikam answers again: after the cooldown the next lookup checks it and finds it back
  digest                        post the morning digest (medium and high alerts): bob.smith's Tor
                                alerts come as one entry, and what contoso and fabrikam share is marked
  jira 1                        press its first Create Jira button; press it again to see the dedupe
  details 1 [n]                 Details from its menu: bob.smith's repeats listed (n opens the nth's card)
  close 1 [benign|false_positive|true_positive] [reason] [comment]
                                press Close… on it and fill in the form (asks, when run in a terminal):
                                the group's alerts are closed with one call; details 2, close 2 for one alert
  reopen 2                      after close 2: reopen its alert in the sandbox's portal; close 2 then finds it
                                open in MCAS, shows the entry open again and closes it anew (both closes kept)
  repeat                        bob.smith trips the Tor policy three more times in contoso; after jira 1 and
                                progress ×2 (SEC-1 done), digest posts them as a new entry linking SEC-1
  /mcas user bob.smith@contoso.com   after a digest: his alerts, and where else he was seen
  progress                      move the last filed issue on in Jira (In Progress, then Done) and sync;
                                at Done the sync closes its alerts, a group's with one call (JIRA_DONE_CLOSES_ALERT=true_positive)
  report                        post the weekly report up to now, today so far, and its chart (the PNG is saved to a temp file)
  auth                          how each tenant signs in (Entra ID or legacy token), and its API (MCAS or Graph)
  /mcas alert 6660000000000000000000ff              (in both tenants: the reply says to add tenant=)
  /mcas alert 6660000000000000000000ff tenant=fabrikam
  /mcas tenants                 every tenant with its API and how its last answers went
Run as "bot demo --tenants=100" for a managed SOC's sandbox: 100 tenants in groups (tenant=group:emea),
answers that count rather than list, and the digest routed to 10 customer channels.
`

// Run is `bot demo`: the sandbox on today's date.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(ctx, time.Now(), args, stdin, stdout, stderr)
}

// run is the demo with its clock starting at start.
func run(ctx context.Context, start time.Time, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the Slack message JSON instead of text")
	many := fs.Int("tenants", 0, fmt.Sprintf("a managed SOC's sandbox instead: this many generated tenants (%d to %d) on one fake MCAS, routed to %d digest channels", fleetMin, fleetMax, fleetPods))
	if err := fs.Parse(args); err != nil {
		return console.ExitUsage
	}
	if *many != 0 {
		if *many < fleetMin || *many > fleetMax {
			fmt.Fprintf(stderr, "--tenants takes %d to %d tenants, not %d (without it the demo has its two sample tenants)\n", fleetMin, fleetMax, *many)
			return console.ExitUsage
		}
		return runFleet(ctx, start, *many, *asJSON, stdin, stdout, stderr)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	sb, err := newSandbox(newClock(start), logger)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return console.ExitUpstream
	}
	defer sb.Close()
	var wf *workflow
	defer func() {
		if wf != nil {
			wf.Close()
		}
	}()
	interactive := isTerminal(stdin)
	fmt.Fprint(stdout, demoBanner)
	in := newSession(stdin, stdout, interactive)
	for {
		line, ok := in.next()
		if !ok {
			break
		}
		word, arg, _ := strings.Cut(line, " ")
		if word == "auth" {
			sb.entra.show(ctx, stdout, sb.runner.Tenants.Tenants())
			continue
		}
		if word == "slow" {
			sb.slow(stdout, strings.TrimSpace(arg))
			continue
		}
		if word == "hang" {
			sb.hang(stdout, strings.TrimSpace(arg))
			continue
		}
		if word == "back" {
			sb.back(stdout, strings.TrimSpace(arg))
			continue
		}
		if word == "digest" || word == "jira" || word == "progress" || word == "report" || word == "details" || word == "close" || word == "reopen" || word == "repeat" {
			if wf == nil {
				if wf, err = sb.startWorkflow(ctx, logger); err != nil {
					fmt.Fprintln(stdout, "cannot start the workflow sandbox:", err)
					return console.ExitUpstream
				}
			}
			switch word {
			case "digest":
				wf.runDigest(ctx, stdout)
			case "jira":
				wf.press(stdout, arg)
			case "progress":
				wf.progress(ctx, stdout)
			case "report":
				wf.report(ctx, stdout)
			case "details":
				wf.details(stdout, arg)
			case "reopen":
				wf.reopen(stdout, arg)
			case "repeat":
				wf.repeat(stdout)
			case "close":
				ask := func(string, string) (string, bool) { return "", false }
				if interactive {
					ask = func(q, def string) (string, bool) {
						fmt.Fprintf(stdout, "  %s [%s]: ", q, def)
						return in.answer()
					}
				}
				wf.closeEntry(stdout, arg, ask)
			}
			continue
		}
		console.Execute(ctx, sb.runner, line, demoDeadline, *asJSON, stdout, stdout)
		if ctx.Err() != nil {
			break
		}
	}
	return console.ExitOK
}

// relatedSamples are the samples of issue #11: in contoso, bob.smith trips
// the Tor policy seven times overnight; in fabrikam (entra.go), his guest
// account shows up from the same Tor exit.
func relatedSamples(tenant string, now time.Time) []mcasfake.Alert {
	if tenant == "contoso" {
		return mcasfake.Repeats(tenant, "bob.smith@contoso.com", "b0b", 7, now.Add(-40*time.Minute), 50*time.Minute)
	}
	return nil
}

// demoDeadline stands in for REPLY_DEADLINE (8 s) in the sandbox.
const demoDeadline = time.Second

// slow makes a sandbox tenant take 3 s over its next lookup.
func (sb *sandbox) slow(stdout io.Writer, name string) {
	switch {
	case sb.mcas[name] != nil:
		sb.mcas[name].Fail(mcasfake.Fault{Delay: 3 * time.Second})
	case name == demoEntraTenant:
		sb.entra.graph.Fail(defenderfake.Fault{Delay: 3 * time.Second})
	default:
		fmt.Fprintf(stdout, "no sandbox tenant %q (contoso, fabrikam)\n", name)
		return
	}
	fmt.Fprintf(stdout, "%s will take 3 s over its next lookup (answers reused from the cache do not reach it).\n", name)
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
