package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot"
	"github.com/soc/mcasbot/bot/closing"
	"github.com/soc/mcasbot/bot/createjira"
	"github.com/soc/mcasbot/bot/filing"
	"github.com/soc/mcasbot/bot/messages"
	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/correlation"
	"github.com/soc/mcasbot/grouping"
	"github.com/soc/mcasbot/integrations/defender/defenderfake"
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

const (
	demoChannel = "C0DIGEST"
	demoUser    = "U0DEMO"
)

// workflow is the digest and Create Jira part of the sandbox: the real bot
// on a fake Slack (Socket Mode included), a SQLite store in a temporary
// directory and a fake Jira.
type workflow struct {
	slack  *slackfake.Server
	jira   *jirafake.Server
	store  store.Store
	digest *schedule.Digest
	dir    string
	stop   func()
	// buttons maps the numbers shown in the digest to Create Jira buttons.
	buttons []demoButton
	// For the Jira sync and the report (demo_report.go).
	api     *slack.Client
	jc      *jira.Client
	redraw  *messages.Redrawer
	logger  *slog.Logger
	seeded  bool
	tenants []source.Tenant
	closer  *closing.Service // Close…, and the sync's JIRA_DONE_CLOSES_ALERT
	fakes   map[string]*mcasfake.Server
	repeats int                  // `repeat`s so far, for fresh alert ids // the tenants on MCAS
	graph   *defenderfake.Tenant // fabrikam's Defender XDR
	clock   *clock
}

type demoButton struct {
	post   slackfake.Post
	action string
	menu   string // the entry's Details / Close… menu
	tenant string
	id     string
	group  bool // a group of repeats: the menu acts on all its alerts
}

func (sb *sandbox) startWorkflow(ctx context.Context, logger *slog.Logger) (*workflow, error) {
	w := &workflow{slack: slackfake.New(), clock: sb.clock}
	w.jira = jirafake.New(jirafake.Options{Cloud: true, User: "soc@demo.example", Token: "demo-jira-token", SearchLag: 2 * time.Second, Now: sb.clock.Now,
		Fields: []jirafake.CustomField{
			{ID: "customfield_10050", Name: "Alert URL", Type: jirafake.URLField, OnScreen: true},
			{ID: "customfield_10051", Name: "Affected user", Type: jirafake.SingleLine, OnScreen: true},
			{ID: "customfield_10052", Name: "Source IPs", Type: jirafake.SingleLine, OnScreen: true},
			{ID: "customfield_10053", Name: "IP reputation", Type: jirafake.Paragraph, OnScreen: true},
		}})
	dir, err := os.MkdirTemp("", "mcasbot-demo-")
	if err != nil {
		return nil, err
	}
	w.dir = dir
	w.store, err = store.Open(ctx, "sqlite:"+filepath.Join(dir, "demo.db"), store.WithClock(sb.clock.Now))
	if err != nil {
		w.Close()
		return nil, err
	}
	jc, err := jira.New(jira.Config{URL: w.jira.URL, User: "soc@demo.example", APIToken: "demo-jira-token"}, w.jira.Client(), logger)
	if err != nil {
		w.Close()
		return nil, err
	}
	prios, _ := filing.ParsePriorities("")
	rules, _ := filing.ParseRules("title~Leaked credentials&group=Staff=Highest;title~Ransomware=Highest")
	svc := &filing.Service{
		Mapping: filing.Mapping{Project: "SEC", IssueType: "Task", Priorities: prios, Rules: rules, Fields: filing.Fields{
			AlertURL: "customfield_10050", AffectedUser: "customfield_10051", IP: "customfield_10052", ReportedIPs: "customfield_10053"}},
		Store: w.store, Jira: jc, Tenants: sb.runner.Tenants, Reputation: sb.runner.Reputation, Logger: logger, Groups: sb.entra.groups,
		RepeatWindow: correlation.DefaultWindow, Now: sb.clock.Now,
	}
	// Commands now also say what other tenants' alerts share.
	sb.runner.Related = &correlation.Finder{Store: w.store, Now: sb.clock.Now}
	api := slack.New("xoxb-demo", slack.OptionAppLevelToken("xapp-demo"), slack.OptionAPIURL(w.slack.APIURL()))
	b := bot.New(bot.Config{}, api, sb.runner, nil, logger)
	w.api, w.jc, w.logger = api, jc, logger
	w.redraw = &messages.Redrawer{Store: w.store, Slack: api, Logger: logger}
	b.EnableJira(createjira.Config{Filer: svc, Issues: w.store, ActionUsers: []string{demoUser}, Channels: []string{demoChannel},
		Messages: w.redraw})
	w.enableTriage(b, sb, jc, w.redraw, logger)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = b.Run(runCtx); close(done) }()
	w.stop = func() { cancel(); <-done }
	if err := w.slack.WaitConnections(1, 5*time.Second); err != nil {
		w.Close()
		return nil, err
	}
	w.digest = &schedule.Digest{
		Config: schedule.Config{Channel: demoChannel, MinSeverity: source.SeverityMedium, Lookback: 24 * time.Hour, PostInterval: 5 * time.Millisecond,
			GroupMin: grouping.DefaultMin},
		Store: w.store, Slack: api, Reputation: sb.runner.Reputation, Logger: logger, Repeats: svc, Now: sb.clock.Now,
		Tenants: sb.runner.Tenants,
	}
	w.tenants = sb.runner.Tenants.Tenants()
	w.fakes, w.graph = sb.mcas, sb.entra.dir
	return w, nil
}

func (w *workflow) Close() {
	if w.stop != nil {
		w.stop()
	}
	if w.store != nil {
		_ = w.store.Close()
	}
	w.slack.Close()
	w.jira.Close()
	if w.dir != "" {
		_ = os.RemoveAll(w.dir)
	}
}

// runDigest posts a digest to the fake Slack and prints it as a reader
// of the channel would see it, numbering the Create Jira buttons.
func (w *workflow) runDigest(ctx context.Context, out io.Writer) {
	before := len(w.slack.Posts())
	rep, err := w.digest.Run(ctx, false)
	if err != nil {
		fmt.Fprintf(out, "digest failed: %v\n", err)
		return
	}
	if rep.New == 0 {
		fmt.Fprintln(out, "No new alerts since the last digest: nothing posted (run `digest` again after a while, or try `jira 1`).")
		return
	}
	for _, p := range w.slack.Posts()[before:] {
		if p.Method != "chat.postMessage" {
			continue
		}
		where := "#soc-alerts"
		if p.Thread != "" {
			where = "  ↳ in thread"
		}
		fmt.Fprintf(out, "\n── %s ─────────────────────────────\n", where)
		w.render(out, p)
	}
	fmt.Fprintf(out, "\nPosted %d alerts in %d %s. Type `jira <number>` to press a Create Jira button, `details <number>` or `close <number>` for its menu.\n", rep.Posted, rep.Messages, plural(rep.Messages, "message", "messages"))
}

func (w *workflow) render(out io.Writer, p slackfake.Post) {
	var blocks []map[string]any
	_ = json.Unmarshal(p.Blocks, &blocks)
	var menu demoButton
	for _, b := range blocks {
		switch b["type"] {
		case "header", "section":
			if t, ok := b["text"].(map[string]any); ok {
				fmt.Fprintln(out, w.text(fmt.Sprint(t["text"])))
			}
			menu = menuOf(b)
		case "context":
			for _, e := range asList(b["elements"]) {
				fmt.Fprintln(out, "  "+w.text(fmt.Sprint(e["text"])))
			}
		case "actions":
			var btns []string
			for _, e := range asList(b["elements"]) {
				id, _ := e["action_id"].(string)
				label := "Create Jira"
				if t, ok := e["text"].(map[string]any); ok {
					label = fmt.Sprint(t["text"])
				}
				if strings.HasPrefix(id, "create_jira:") {
					btn := menu
					btn.post, btn.action = p, id
					w.buttons = append(w.buttons, btn)
					btns = append(btns, fmt.Sprintf("[%s → jira %d]", label, len(w.buttons)))
					if menu.menu != "" {
						btns = append(btns, fmt.Sprintf("[⋯ Details → details %d · Close… → close %d]", len(w.buttons), len(w.buttons)))
					}
				} else if u, ok := e["url"].(string); ok {
					btns = append(btns, "[Open in Defender → "+u+"]")
				}
			}
			fmt.Fprintln(out, "  "+strings.Join(btns, "  "))
		}
	}
}

var (
	mrkdwnDate = regexp.MustCompile(`<!date\^(\d+)\^\{ago\}\|[^>]*>`)
	mrkdwnLink = regexp.MustCompile(`<(https?://[^|>]+)\|([^>]+)>`)
	mrkdwnUser = regexp.MustCompile(`<@([UW][A-Z0-9]+)>`)
	mrkdwn     = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "*", "", ":link:", "🔗", ":thread:", "🧵",
		":white_check_mark:", "✅", ":information_source:", "ℹ️", ":warning:", "⚠️", ":x:", "❌", ":no_entry:", "⛔",
		":large_green_circle:", "🟢", ":hourglass_flowing_sand:", "⏳", ":leftwards_arrow_with_hook:", "↩️")
)

// text shows Slack markup as a terminal reader would want it: links as
// "text (url)", mentions as @id, entities decoded, dates as Slack shows
// them at the sandbox's time.
func (w *workflow) text(s string) string { return terminalText(w.clock, s) }

// terminalText is workflow.text at the sandbox clock clk.
func terminalText(clk *clock, s string) string {
	s = mrkdwnDate.ReplaceAllStringFunc(s, func(m string) string {
		sec, _ := strconv.ParseInt(mrkdwnDate.FindStringSubmatch(m)[1], 10, 64)
		return agoText(clk.Now().Sub(time.Unix(sec, 0)))
	})
	s = mrkdwnLink.ReplaceAllString(s, "$2 ($1)")
	s = mrkdwnUser.ReplaceAllString(s, "@$1")
	return mrkdwn.Replace(s)
}

// agoText is how Slack shows a {ago} date: "2 hours ago".
func agoText(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "1 minute ago", fmt.Sprintf("%d minutes ago", d/time.Minute))
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "1 hour ago", fmt.Sprintf("%d hours ago", d/time.Hour))
	}
	return fmt.Sprintf("%d days ago", d/(24*time.Hour))
}

// press clicks Create Jira number n as the demo user, through Socket Mode.
func (w *workflow) press(out io.Writer, arg string) {
	n, err := strconv.Atoi(strings.TrimSpace(arg))
	if err != nil || n < 1 || n > len(w.buttons) {
		fmt.Fprintf(out, "There is no button %q: run `digest` first, then `jira 1` … `jira %d`.\n", arg, max(1, len(w.buttons)))
		return
	}
	btn := w.buttons[n-1]
	issues := len(w.jira.Issues())
	updates := len(w.updates(btn.post))
	id, err := w.slack.Click(demoUser, btn.post, btn.action)
	if err != nil {
		fmt.Fprintln(out, err)
		return
	}
	// Either the message is updated (filed) or the clicker gets a reply.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if len(w.updates(btn.post)) > updates && len(w.jira.Issues()) > issues {
			is := w.jira.Issues()[len(w.jira.Issues())-1]
			fmt.Fprintf(out, "The digest message now shows: ✅ %s filed by @you\n", is.Key)
			printIssue(out, is)
			return
		}
		if reps := w.replies(id); len(reps) > 0 {
			fmt.Fprintln(out, "mcasbot (only you can see this): "+w.text(reps[0].Text))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Fprintln(out, "no answer from the bot")
}

func (w *workflow) updates(p slackfake.Post) []slackfake.Post {
	var out []slackfake.Post
	for _, x := range w.slack.Posts() {
		if x.Method == "chat.update" && x.TS == p.TS {
			out = append(out, x)
		}
	}
	return out
}

func (w *workflow) replies(envID string) []slackfake.Post {
	target := w.slack.ResponseID(envID)
	var out []slackfake.Post
	for _, x := range w.slack.Posts() {
		if x.Method == "response_url" && x.Target == target {
			out = append(out, x)
		}
	}
	return out
}

func printIssue(out io.Writer, is jirafake.Issue) {
	str := func(k string) string {
		var s string
		var named struct{ Name string }
		var list []string
		switch {
		case json.Unmarshal(is.Fields[k], &s) == nil:
			return s
		case json.Unmarshal(is.Fields[k], &list) == nil:
			return strings.Join(list, ", ")
		case json.Unmarshal(is.Fields[k], &named) == nil && named.Name != "":
			return named.Name
		}
		return string(is.Fields[k])
	}
	fmt.Fprintf(out, "\nJira issue %s (in the sandbox Jira):\n", is.Key)
	for _, f := range [][2]string{{"summary", "Summary"}, {"priority", "Priority"}, {"labels", "Labels"},
		{"customfield_10050", "Alert URL"}, {"customfield_10051", "Affected user"}, {"customfield_10052", "Source IPs"}, {"customfield_10053", "IP reputation"}} {
		if v := str(f[0]); v != "" {
			fmt.Fprintf(out, "  %-14s %s\n", f[1]+":", strings.ReplaceAll(v, "\n", "\n                 "))
		}
	}
	desc := str("description")
	if i := strings.Index(desc, "\nh3. Description"); i > 0 {
		desc = desc[:i]
	}
	fmt.Fprintf(out, "  Description:\n    %s\n", strings.ReplaceAll(strings.TrimSpace(desc), "\n", "\n    "))
}

// asList reads a JSON array of objects.
func asList(v any) []map[string]any {
	var out []map[string]any
	if l, ok := v.([]any); ok {
		for _, x := range l {
			if m, ok := x.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// closes lists the close calls a sandbox tenant answered.
func (w *workflow) closes(tenant string) []mcasfake.Close {
	if f := w.fakes[tenant]; f != nil {
		return f.Closes()
	}
	return nil
}
