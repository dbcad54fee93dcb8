package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/console"
	"github.com/soc/mcasbot/grouping"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/abuseipdb/abusefake"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/tenants"
)

// `bot demo --tenants=N`: a managed SOC's sandbox. N generated customer
// tenants are served by one fake MCAS (a fleet, each tenant under its own
// path), described by a generated tenants file: ten pods of customers,
// each pod with its own digest channel and Jira project, and region
// groups. The questions go to every tenant at once, and the digest goes to
// ten channels, one message stream each.

// fleetLimits bound --tenants.
const (
	fleetMin = 3
	fleetMax = 1000
	// fleetPods are the pods (groups) of customers, each with a channel.
	fleetPods = 10
)

// fleetStems are the customers' names (Microsoft's sample companies); a
// number tells their tenants apart.
var fleetStems = []string{"contoso", "fabrikam", "northwind", "adventure-works", "tailspin", "wingtip", "litware", "proseware",
	"woodgrove", "lucerne", "alpine-ski", "blue-yonder", "coho-winery", "fourth-coffee", "humongous", "margies-travel",
	"wide-world", "trey-research", "lamna", "relecloud"}

var fleetRegions = []string{"emea", "amer", "apac"}

// fleetTenant is the name of tenant i.
func fleetTenant(i int) string {
	return fmt.Sprintf("%s-%02d", fleetStems[i%len(fleetStems)], i/len(fleetStems)+1)
}

// fleetPod is the pod of tenant i of n: consecutive tenants share one.
func fleetPod(i, n int) int { return i * fleetPods / n }

func podGroup(p int) string   { return fmt.Sprintf("pod-%02d", p+1) }
func podChannel(p int) string { return fmt.Sprintf("C0POD%02d", p+1) }
func podProject(p int) string { return fmt.Sprintf("POD%02d", p+1) }

// podChannelName is how Slack would show a pod's channel.
func podChannelName(id string) string {
	return "#soc-pod-" + strings.ToLower(strings.TrimPrefix(id, "C0POD"))
}

// fleetFile is the sandbox's tenants file: what an operator would write
// for n customers at url (the fleet's base).
func fleetFile(n int, url string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# The sandbox's tenants file (TENANTS_FILE), generated: %d customer tenants in %d pods.\n", n, fleetPods)
	b.WriteString("defaults:\n  min_severity: medium\n\ngroups:\n")
	for p := range fleetPods {
		fmt.Fprintf(&b, "  %s:\n    digest_channel: %s\n    jira_project: %s\n", podGroup(p), podChannel(p), podProject(p))
	}
	for _, r := range fleetRegions {
		fmt.Fprintf(&b, "  %s: {}\n", r)
	}
	b.WriteString("  tier1:\n    min_severity: low\n\ntenants:\n")
	for i := range n {
		name := fleetTenant(i)
		groups := []string{podGroup(fleetPod(i, n)), fleetRegions[i%len(fleetRegions)]}
		if i%7 == 0 {
			groups = append(groups, "tier1")
		}
		fmt.Fprintf(&b, "  - name: %s\n    url: %s/%s\n    token_file: /run/secrets/mcasbot/%s.token\n    groups: [%s]\n",
			name, url, name, name, strings.Join(groups, ", "))
	}
	return []byte(b.String())
}

// fleetSandbox is the sandbox of `bot demo --tenants=N`.
type fleetSandbox struct {
	clock  *clock
	fleet  *mcasfake.Fleet
	abuse  *abusefake.Server
	runner *commands.Runner
	file   []byte
	logger *slog.Logger
	// The digest's Slack and state, started by the first `digest`.
	slack  *slackfake.Server
	store  store.Store
	dir    string
	digest *schedule.Digest
}

func newFleetSandbox(clk *clock, n int, logger *slog.Logger) (*fleetSandbox, error) {
	sb := &fleetSandbox{clock: clk, fleet: mcasfake.NewFleet(), logger: logger}
	sb.file = fleetFile(n, sb.fleet.URL())
	f, problems := tenants.Parse(sb.file, nil)
	if err := problems.Err(); err != nil {
		sb.Close()
		return nil, err
	}
	now := clk.Now()
	var ts []source.Tenant
	routes := map[string]tenants.Route{}
	for i, t := range f.Tenants {
		token := "demo-token-" + t.Name
		srv := sb.fleet.Add(t.Name, token)
		srv.Now = clk.Now
		// Each tenant's newest alert a little older than the previous one's.
		srv.AddAlerts(mcasfake.Generate(t.Name, 14, now.Add(-time.Duration(i)*97*time.Second), 3*24*time.Hour, uint64(i+1))...)
		c, err := mcas.New(mcas.Config{Name: t.Name, URL: t.URL, Token: token, RequestsPerMinute: -1}, sb.fleet.Client(), logger)
		if err != nil {
			sb.Close()
			return nil, err
		}
		ts = append(ts, c)
		routes[t.Name] = f.Route(t)
	}
	sb.abuse = abusefake.New("demo-abuse-key", 100000)
	sb.abuse.Now = clk.Now
	for _, r := range abusefake.SamplesAt(now) {
		sb.abuse.Set(r)
	}
	rep, err := abuseipdb.New(abuseipdb.Config{APIKey: "demo-abuse-key", URL: sb.abuse.URL}, sb.abuse.Client(), logger)
	if err != nil {
		sb.Close()
		return nil, err
	}
	sb.runner = &commands.Runner{Tenants: tenants.NewDirectory(ts, f.Set().Groups, routes), Reputation: rep,
		Timeout: demoTimeout, CacheTTL: time.Minute, Cooldown: demoCooldown, Now: clk.Now}
	return sb, nil
}

func (sb *fleetSandbox) Close() {
	if sb.store != nil {
		_ = sb.store.Close()
	}
	if sb.slack != nil {
		sb.slack.Close()
	}
	if sb.dir != "" {
		_ = os.RemoveAll(sb.dir)
	}
	if sb.abuse != nil {
		sb.abuse.Close()
	}
	sb.fleet.Close()
}

// banner introduces the sandbox with the head of its tenants file.
func (sb *fleetSandbox) banner(out io.Writer) {
	n := sb.runner.Tenants.Len()
	fmt.Fprintf(out, `mcasbot demo: a managed SOC's sandbox of %d customer tenants, all served by one fake MCAS in this
process (no credentials, no network), configured by a generated tenants file: %d pods of customers, each
pod with its own digest channel and Jira project, in three regions (emea, amer, apac). Its head:

`, n, fleetPods)
	lines := strings.Split(string(sb.file), "\n")
	at := func(prefix string) int {
		for i, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return i
			}
		}
		return len(lines)
	}
	pods, regions, list := at("groups:")+1, at("  "+fleetRegions[0]+":"), at("tenants:")
	var excerpt []string
	excerpt = append(excerpt, lines[:pods+3]...) // the first pod shows the pattern
	excerpt = append(excerpt, fmt.Sprintf("  # … %s to %s alike", podGroup(1), podGroup(fleetPods-1)))
	excerpt = append(excerpt, lines[regions:min(list+9, len(lines))]...) // two tenants
	for _, l := range excerpt {
		fmt.Fprintln(out, "  "+l)
	}
	fmt.Fprintf(out, `  … (%d more tenants)

"quit" or Ctrl-D ends. Try:
  /mcas alerts                  the question goes to all %d tenants at once
  /mcas alerts 10 high
  /mcas ip 185.220.101.4
  digest                        the morning digest, routed: each pod's customers in their own channel,
                                one message stream per channel, posted side by side
  file                          the whole tenants file
`, n-2, n)
}

// runFleet is `bot demo --tenants=n`.
func runFleet(ctx context.Context, start time.Time, n int, asJSON bool, stdin io.Reader, stdout, stderr io.Writer) int {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	sb, err := newFleetSandbox(newClock(start), n, logger)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return console.ExitUpstream
	}
	defer sb.Close()
	interactive := isTerminal(stdin)
	sb.banner(stdout)
	in := newSession(stdin, stdout, interactive)
	for {
		line, ok := in.next()
		if !ok {
			break
		}
		switch word, _, _ := strings.Cut(line, " "); word {
		case "digest":
			sb.runDigest(ctx, stdout)
		case "file":
			_, _ = stdout.Write(sb.file)
		case "jira", "details", "close", "reopen", "progress", "report", "auth", "slow", "hang", "back":
			fmt.Fprintf(stdout, "%s is in the two-tenant sandbox: run `bot demo` without --tenants.\n", word)
		default:
			console.Execute(ctx, sb.runner, line, demoDeadline, asJSON, stdout, stdout)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return console.ExitOK
}

// startDigest starts the digest's fake Slack and store; no DIGEST_CHANNEL:
// every tenant's pod names its channel.
func (sb *fleetSandbox) startDigest(ctx context.Context) error {
	sb.slack = slackfake.New()
	dir, err := os.MkdirTemp("", "mcasbot-demo-")
	if err != nil {
		return err
	}
	sb.dir = dir
	sb.store, err = store.Open(ctx, "sqlite:"+filepath.Join(dir, "demo.db"), store.WithClock(sb.clock.Now))
	if err != nil {
		return err
	}
	sb.digest = &schedule.Digest{
		Config: schedule.Config{MinSeverity: source.SeverityMedium, Lookback: 24 * time.Hour, PostInterval: 5 * time.Millisecond,
			GroupMin: grouping.DefaultMin, NoJira: true},
		Store: sb.store, Slack: slack.New("xoxb-demo", slack.OptionAPIURL(sb.slack.APIURL())), Reputation: sb.runner.Reputation,
		Logger: sb.logger, Now: sb.clock.Now, Tenants: sb.runner.Tenants,
	}
	return nil
}

// runDigest posts the routed digest and shows, channel by channel, which
// tenants went there and the head of the channel's parent message.
func (sb *fleetSandbox) runDigest(ctx context.Context, out io.Writer) {
	if sb.digest == nil {
		if err := sb.startDigest(ctx); err != nil {
			fmt.Fprintln(out, "cannot start the digest:", err)
			return
		}
	}
	before := len(sb.slack.Posts())
	rep, err := sb.digest.Run(ctx, false)
	if err != nil {
		fmt.Fprintf(out, "digest failed: %v\n", err)
	}
	if rep.New == 0 && err == nil {
		fmt.Fprintln(out, "No new alerts since the last digest: nothing posted, in any channel.")
		return
	}
	parents := map[string]slackfake.Post{}
	threads := map[string]int{}
	for _, p := range sb.slack.Posts()[before:] {
		if p.Method != "chat.postMessage" {
			continue
		}
		if p.Thread == "" {
			parents[p.Channel] = p
		} else {
			threads[p.Channel]++
		}
	}
	fmt.Fprintf(out, "The digest, routed: %d tenants into %d channels, one message stream each (DIGEST_CHANNEL is not set: every tenant's pod names its channel).\n",
		sb.runner.Tenants.Len()-len(rep.Unrouted), len(rep.Channels))
	busiest := 0
	for _, c := range rep.Channels {
		busiest = max(busiest, c.Messages)
		project := sb.runner.Tenants.Route(c.Tenants[0]).JiraProject
		fmt.Fprintf(out, "\n── %s (%s) · Jira project %s ─────────────\n", podChannelName(c.Channel), c.Channel, project)
		names := make([]string, len(c.Tenants))
		for i, t := range c.Tenants {
			names[i] = t
			if sb.runner.Tenants.Route(t).MinSeverity == "low" {
				names[i] += " ★"
			}
		}
		fmt.Fprintf(out, "%d %s routed here (★ tier1: low and above; the others medium and above): %s\n",
			len(c.Tenants), plural(len(c.Tenants), "tenant", "tenants"), clipList(names, 12))
		if p, ok := parents[c.Channel]; ok {
			sb.renderHead(out, p)
			fmt.Fprintf(out, "  ↳ %d more %s in its thread\n", threads[c.Channel], plural(threads[c.Channel], "message", "messages"))
		}
		if c.Err != nil {
			fmt.Fprintf(out, "  ⚠️ posting stopped here: %v (the rest comes in the next digest)\n", c.Err)
		}
	}
	if len(rep.Unrouted) > 0 {
		fmt.Fprintf(out, "\n⚠️ %d tenants have no digest channel and were not read: %s\n", len(rep.Unrouted), clipList(rep.Unrouted, 12))
	}
	fmt.Fprintf(out, "\nPosted %d alerts in %d messages to %d channels, every alert once; each channel names only its own tenants, its\n"+
		"cross-tenant section too. Slack takes one message a second per channel and the channels post side by side: about\n"+
		"%d s for the busiest channel's %d messages, not %d s for all (the sandbox posts 5 ms apart).\n",
		rep.Posted, rep.Messages, len(rep.Channels), busiest, busiest, rep.Messages)
}

// renderHead prints a parent message without its alert cards: the
// header, the totals per tenant, what its tenants share, the thread note.
func (sb *fleetSandbox) renderHead(out io.Writer, p slackfake.Post) {
	var blocks []map[string]any
	_ = json.Unmarshal(p.Blocks, &blocks)
	for _, b := range blocks {
		if id, _ := b["block_id"].(string); strings.Contains(id, ":") {
			continue // an alert's or a group's card and buttons
		}
		switch b["type"] {
		case "header", "section":
			if t, ok := b["text"].(map[string]any); ok {
				fmt.Fprintln(out, terminalText(sb.clock, fmt.Sprint(t["text"])))
			}
		case "context":
			for _, e := range asList(b["elements"]) {
				fmt.Fprintln(out, "  "+terminalText(sb.clock, fmt.Sprint(e["text"])))
			}
		}
	}
}

// clipList names up to n items, then how many more.
func clipList(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}
