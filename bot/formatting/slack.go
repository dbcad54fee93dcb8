package formatting

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/source"
)

// TimeLayout is how times are shown; always UTC.
const TimeLayout = "2006-01-02 15:04"

// Reply renders a command result as an ephemeral response_url message
// that replaces the "looking up…" acknowledgement.
func Reply(res commands.Result) *slack.WebhookMessage {
	msg, _ := ReplyFull(res, nil)
	return msg
}

// ReplyFull is Reply that also returns how many rows Slack's limits left
// out of the reply; full, when set, says where the whole answer went (or
// why it went nowhere).
func ReplyFull(res commands.Result, full *Full) (*slack.WebhookMessage, int) {
	var msg *slack.WebhookMessage
	left := 0
	switch r := res.(type) {
	case commands.AlertsResult:
		msg, left = alertsMessage(r, full)
	case commands.IPResult:
		msg, left = ipMessage(r, full)
	case commands.AlertResult:
		msg = alertResultMessage(r, false, false)
	case commands.TenantsResult:
		msg, left = tenantsMessage(r, full)
	case commands.HelpResult:
		msg = Help(r.Problem)
	default:
		msg = Notice(":warning: Nothing to show.")
	}
	msg.ResponseType = slack.ResponseTypeEphemeral
	msg.ReplaceOriginal = true
	return msg, left
}

// Notice is a one-line ephemeral message; text is mrkdwn the caller built
// (escape anything that came from outside).
func Notice(text string) *slack.WebhookMessage {
	text = Cut(text, MaxSectionText)
	return &slack.WebhookMessage{
		ResponseType: slack.ResponseTypeEphemeral,
		Text:         text,
		Blocks:       &slack.Blocks{BlockSet: []slack.Block{section("notice", text)}},
	}
}

// Ephemeral is a Notice posted as a new message, leaving the one clicked
// on as it is.
func Ephemeral(text string) *slack.WebhookMessage {
	m := Notice(text)
	m.ReplaceOriginal = false
	return m
}

// IssueLink links a Jira issue's key to its page, or shows the key alone
// when the URL is not one to link to.
func IssueLink(key, url string) string {
	if u := SafeURL(url); u != "" {
		return "<" + u + "|" + Escape(key) + ">"
	}
	return Escape(key)
}

// LookingUp is the immediate acknowledgement of a command that calls upstreams.
func LookingUp(req commands.Request, tenants int) *slack.WebhookMessage {
	if commands.Name(req) == "tenants" {
		return Notice(fmt.Sprintf(":mag: Listing %d %s…", tenants, plural(tenants, "tenant", "tenants")))
	}
	what := map[string]string{"alerts": "alerts", "ip": "activity for that address", "user": "that user's alerts", "alert": "that alert"}[commands.Name(req)]
	in := fmt.Sprintf("%d %s", tenants, plural(tenants, "tenant", "tenants"))
	if sel := commands.Selection(req); strings.Contains(sel, "group:") {
		in += " (" + CutEscaped(sel, 100) + ")"
	}
	return Notice(fmt.Sprintf(":mag: Looking up %s in %s…", what, in))
}

// Refusal tells a user they may not run commands here.
func Refusal(reason string) *slack.WebhookMessage {
	return Notice(":no_entry: " + Escape(reason))
}

// Help lists every command; with a problem it first says what was wrong.
func Help(problem *commands.UsageError) *slack.WebhookMessage {
	var blocks []slack.Block
	fallback := "mcasbot help"
	if problem != nil {
		fallback = "Could not run that: " + Cut(problem.Problem, 200)
		blocks = append(blocks, section("problem", ":x: "+CutEscaped(problem.Problem, 500)))
		if problem.Def != nil {
			blocks = append(blocks, section("usage", defText(problem.Def)))
			blocks = append(blocks, context("more", "Type `/mcas help` for every command."))
			return &slack.WebhookMessage{ResponseType: slack.ResponseTypeEphemeral, Text: Escape(fallback), Blocks: &slack.Blocks{BlockSet: blocks}}
		}
	}
	blocks = append(blocks, header("help", "mcasbot: Defender for Cloud Apps from Slack"))
	for _, d := range commands.Definitions {
		blocks = append(blocks, section("cmd-"+d.Name, defText(d)))
	}
	blocks = append(blocks, context("notes", "Options are `key=value` in any order; `/mcas alerts 10 high` works too. Times are UTC."))
	blocks = append(blocks, context("tenants", "Every command asks every tenant unless you pick some: `tenant=contoso`, `tenant=contoso,fabrikam`, "+
		"`tenant=group:emea`, or mixed (`tenant=group:emea,fabrikam`). `/mcas tenants` lists the tenants and groups."))
	return &slack.WebhookMessage{ResponseType: slack.ResponseTypeEphemeral, Text: Escape(fallback), Blocks: &slack.Blocks{BlockSet: blocks}}
}

func defText(d *commands.Definition) string {
	var b strings.Builder
	fmt.Fprintf(&b, "`%s`\n%s", Escape(d.Usage()), Escape(d.Summary))
	var defaults []string
	for _, o := range d.Options {
		defaults = append(defaults, fmt.Sprintf("%s: %s", o.Key, o.Default))
	}
	if len(defaults) > 0 {
		fmt.Fprintf(&b, "\n_Defaults_ — %s", Escape(strings.Join(defaults, " · ")))
	}
	if len(d.Examples) > 0 {
		ex := make([]string, len(d.Examples))
		for i, e := range d.Examples {
			ex[i] = "`" + Escape(e) + "`"
		}
		fmt.Fprintf(&b, "\n_Examples_ — %s", strings.Join(ex, "  "))
	}
	return b.String()
}

// column is one table column: a title, a width cap, how to read its text
// and, for link columns, its URL.
type column[T any] struct {
	title string
	width int
	text  func(T) string
	url   func(T) string
}

// value is the cell's cleaned, cut text; "–" when empty.
func (c column[T]) value(it T) string {
	s := Cut(Clean(c.text(it)), c.width)
	if s == "" {
		return "–"
	}
	return s
}

func (c column[T]) cell(it T) slack.TableCell {
	if c.url != nil {
		return link(c.url(it), c.value(it))
	}
	return slack.NewTableRawTextCell(c.value(it))
}

func link(u, text string) slack.TableCell {
	if u = SafeURL(u); u == "" {
		return slack.NewTableRawTextCell("–")
	}
	return slack.NewTableRichTextCell(slack.NewRichTextSection(slack.NewRichTextSectionLinkElement(u, text, nil)))
}

// table builds rows within the row and character budgets. It returns the
// characters each row spends (header first) and how many items did not fit.
func table[T any](id string, cols []column[T], items []T) (*slack.TableBlock, []int, int) {
	t := &slack.TableBlock{Type: slack.MBTTable, BlockID: id}
	head := make([]slack.TableCell, len(cols))
	headChars := 0
	for i, c := range cols {
		head[i] = slack.NewTableRichTextCell(slack.NewRichTextSection(slack.NewRichTextSectionTextElement(c.title, &slack.RichTextSectionTextStyle{Bold: true})))
		headChars += len([]rune(c.title))
	}
	t.Rows = append(t.Rows, head)
	spent := []int{headChars}
	chars := headChars
	for n, it := range items {
		if len(t.Rows) == MaxTableRows {
			return t, spent, len(items) - n
		}
		row := make([]slack.TableCell, len(cols))
		rowChars := 0
		for i, c := range cols {
			row[i] = c.cell(it)
			rowChars += cellChars(row[i])
		}
		if chars+rowChars > tableBudget {
			return t, spent, len(items) - n
		}
		chars += rowChars
		t.Rows = append(t.Rows, row)
		spent = append(spent, rowChars)
	}
	return t, spent, 0
}

func cellChars(c slack.TableCell) int {
	switch c := c.(type) {
	case *slack.TableRawTextCell:
		return len([]rune(c.Text))
	case *slack.TableRichTextCell:
		n := 0
		for _, e := range c.Elements {
			if s, ok := e.(*slack.RichTextSection); ok {
				for _, x := range s.Elements {
					if l, ok := x.(*slack.RichTextSectionLinkElement); ok {
						n += len([]rune(l.Text)) + len(l.URL)
					}
					if t, ok := x.(*slack.RichTextSectionTextElement); ok {
						n += len([]rune(t.Text))
					}
				}
			}
		}
		return n
	}
	return 0
}

// SeverityLabel is a severity with a colour cue that works in plain text.
func SeverityLabel(s source.Severity) string {
	switch s {
	case source.SeverityHigh:
		return "🔴 high"
	case source.SeverityMedium:
		return "🟠 medium"
	case source.SeverityLow:
		return "🟡 low"
	case source.SeverityInformational:
		return "⚪ info"
	}
	return s.String()
}

func utc(t time.Time) string { return t.UTC().Format(TimeLayout) }

var alertColumns = []column[source.Alert]{
	{title: "Time (UTC)", width: 16, text: func(a source.Alert) string { return utc(a.Time) }},
	{title: "Tenant", width: 30, text: func(a source.Alert) string { return a.Tenant }},
	{title: "Severity", width: 12, text: func(a source.Alert) string { return SeverityLabel(a.Severity) }},
	{title: "Title", width: 80, text: titleWithProduct},
	{title: "User", width: 50, text: func(a source.Alert) string { return a.User() }},
	{title: "IP", width: 39, text: func(a source.Alert) string { return strings.Join(a.IPs(), ", ") }},
	{title: "Country", width: 8, text: func(a source.Alert) string { return a.Country() }},
	{title: "Link", width: 4, text: func(source.Alert) string { return "open" }, url: func(a source.Alert) string { return a.URL }},
}

var activityColumns = []column[source.Activity]{
	{title: "Time (UTC)", width: 16, text: func(a source.Activity) string { return utc(a.Time) }},
	{title: "Tenant", width: 30, text: func(a source.Activity) string { return a.Tenant }},
	{title: "App", width: 40, text: func(a source.Activity) string { return a.App }},
	{title: "Activity", width: 80, text: func(a source.Activity) string { return StripHTML(a.Description) }},
	{title: "User", width: 50, text: func(a source.Activity) string { return a.User }},
	{title: "Location", width: 40, text: location},
}

func location(a source.Activity) string {
	switch {
	case a.City != "" && a.Country != "":
		return a.City + ", " + a.Country
	case a.City != "":
		return a.City
	}
	return a.Country
}

func alertsMessage(r commands.AlertsResult, full *Full) (*slack.WebhookMessage, int) {
	title := Cut(Clean(r.Title), MaxHeader)
	n := len(r.Alerts)
	summary := fmt.Sprintf("%d %s", n, plural(n, "alert", "alerts"))
	if r.More {
		summary += " shown, more match"
	}
	summary += soFar(r.Pending)
	blocks := []slack.Block{header("title", title), context("filters", contextLine(r.Tenants, r.Selection, r.Filters, summary)+asOf(r.AsOf))}
	if cb := coverageBlock(len(r.Tenants), r.Matched, r.Empty, len(r.Pending) > 0); cb != nil {
		blocks = append(blocks, cb)
	}
	blocks = append(blocks, failureBlocks(r.Failures, len(r.Tenants))...)
	blocks = append(blocks, pendingBlocks(r.Pending, len(r.Tenants))...)
	fallback := fmt.Sprintf("%s: %s", title, summary) + pendingFallback(r.Pending)
	if n == 0 {
		if len(r.Pending) == 0 {
			blocks = append(blocks, section("empty", emptyText(r.Failures, len(r.Tenants), "No alerts match these filters.")))
		}
		return &slack.WebhookMessage{Text: Escape(fallback), Blocks: &slack.Blocks{BlockSet: blocks}}, 0
	}
	t, spent, left := table("alerts", alertColumns, r.Alerts)
	// A "Details for…" menu under the table opens any row's card; its
	// options count against the message's budget like the rows.
	for i := range t.Rows[1:] {
		spent[i+1] += optionChars(detailOption(r.Alerts[i], true))
	}
	// Related alerts in other tenants go under the table too; measured with
	// the message's blocks first, so the table makes room for them.
	if rb := relatedBlock(r.Related); rb != nil {
		blocks = append(blocks, rb)
	}
	msg, left := withTable(fallback, blocks, t, spent, left, "alerts", full)
	if sel := detailsSelect("Details for…", r.Alerts[:len(t.Rows)-1], true); sel != nil {
		msg.Attachments[0].Blocks.BlockSet = append(msg.Attachments[0].Blocks.BlockSet, sel)
	}
	underTable(msg, "related")
	return msg, left
}

func ipMessage(r commands.IPResult, full *Full) (*slack.WebhookMessage, int) {
	title := "Activity from " + r.Addr.String()
	n := len(r.Activities)
	summary := fmt.Sprintf("%d %s", n, plural(n, "activity", "activities"))
	if r.More {
		summary += " shown, more match"
	}
	summary += soFar(r.Pending)
	blocks := []slack.Block{header("title", title), reputationBlock(r), context("filters", contextLine(r.Tenants, r.Selection, r.Filters, summary)+asOf(r.AsOf))}
	if cb := coverageBlock(len(r.Tenants), r.Matched, r.Empty, len(r.Pending) > 0); cb != nil {
		blocks = append(blocks, cb)
	}
	blocks = append(blocks, failureBlocks(r.Failures, len(r.Tenants))...)
	blocks = append(blocks, pendingBlocks(r.Pending, len(r.Tenants))...)
	if rb := ipRelatedBlock(r); rb != nil {
		blocks = append(blocks, rb)
	}
	fallback := fmt.Sprintf("%s: %s", title, summary)
	if r.Reputation != nil {
		fallback += fmt.Sprintf(", AbuseIPDB confidence %d%%", r.Reputation.Score)
	}
	fallback += pendingFallback(r.Pending)
	if n == 0 {
		if len(r.Pending) == 0 {
			blocks = append(blocks, section("empty", emptyText(r.Failures, len(r.Tenants), "No recent activity from this address.")))
		}
		return &slack.WebhookMessage{Text: Escape(fallback), Blocks: &slack.Blocks{BlockSet: blocks}}, 0
	}
	t, spent, left := table("activities", activityColumns, r.Activities)
	return withTable(fallback, blocks, t, spent, left, "activities", full)
}

// withTable puts the table under the blocks and cuts its rows until the
// message fits. It returns the message and how many rows were left out;
// the note on them says where the whole answer is when full says so.
func withTable(fallback string, blocks []slack.Block, t *slack.TableBlock, spent []int, left int, noun string, full *Full) (*slack.WebhookMessage, int) {
	// The whole message has its own budget: measure the rest once (with
	// room for the note), then drop rows from the end until it fits.
	rest, _ := Measure(&slack.WebhookMessage{Text: fallback, Blocks: &slack.Blocks{BlockSet: blocks}})
	room := 120 // the note on rows left out
	if full != nil {
		room = 480 // …and where the whole answer is
	}
	budget := messageBudget - rest.Chars - room
	total := 0
	for _, n := range spent {
		total += n
	}
	reason := "table"
	for total > budget && len(t.Rows) > 2 {
		total -= spent[len(t.Rows)-1]
		t.Rows = t.Rows[:len(t.Rows)-1]
		left++
		reason = "message size"
	}
	if left > 0 {
		blocks = append(blocks, context("left-out", leftOutText(left, noun, reason, full)))
	}
	return &slack.WebhookMessage{
		Text:        Escape(fallback),
		Blocks:      &slack.Blocks{BlockSet: blocks},
		Attachments: []slack.Attachment{{Blocks: slack.Blocks{BlockSet: []slack.Block{t}}}},
	}, left
}

func reputationBlock(r commands.IPResult) slack.Block {
	if r.Reputation == nil {
		return context("reputation", ":information_source: "+Escape(r.RepNote))
	}
	return section("reputation", reputationText(*r.Reputation), reputationFields(*r.Reputation)...)
}

func reputationText(rep abuseipdb.Report) string {
	verdict := "low risk"
	switch {
	case rep.Score >= 75:
		verdict = ":rotating_light: high risk"
	case rep.Score >= 25:
		verdict = ":warning: suspicious"
	}
	return fmt.Sprintf("*AbuseIPDB:* confidence *%d%%* (%s)", rep.Score, verdict)
}

func reputationFields(rep abuseipdb.Report) []*slack.TextBlockObject {
	last := "never"
	if !rep.LastReported.IsZero() {
		last = utc(rep.LastReported) + " UTC"
	}
	tor := "no"
	if rep.Tor {
		tor = "yes"
	}
	pairs := [][2]string{
		{"Reports", fmt.Sprintf("%d from %d users", rep.Reports, rep.DistinctUsers)},
		{"ISP", orDash(rep.ISP)},
		{"Usage type", orDash(rep.UsageType)},
		{"Country", orDash(rep.Country)},
		{"Tor exit node", tor},
		{"Last reported", last},
	}
	out := make([]*slack.TextBlockObject, len(pairs))
	for i, p := range pairs {
		out[i] = slack.NewTextBlockObject(slack.MarkdownType, "*"+p[0]+"*\n"+CutEscaped(Clean(p[1]), 200), false, false)
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func contextLine(tenants []string, sel string, filters []commands.Filter, summary string) string {
	parts := []string{tenantsText(tenants, sel, "Tenants: ")}
	for _, f := range filters {
		parts = append(parts, f.Key+" "+f.Value)
	}
	parts = append(parts, summary)
	return CutEscaped(Clean(strings.Join(parts, " · ")), MaxSectionText)
}

// failureBlocks names the tenants that could not be queried: one by one
// for a handful, in one line beyond.
func failureBlocks(fs []commands.Failure, tenants int) []slack.Block {
	if len(fs) == 0 {
		return nil
	}
	if many(tenants) {
		return []slack.Block{section("failures", ":warning: "+failureLine(fs, boldName, escapeClean))}
	}
	bold := boldName
	lines := make([]string, 0, len(fs)+1)
	lines = append(lines, ":warning: *Partial results* — these tenants could not be queried:")
	for _, f := range fs {
		if na, ok := errors.AsType[*commands.NotAnswering](f.Err); ok {
			lines = append(lines, "• "+NotAnsweringText(na, tenants == 1, bold))
			continue
		}
		lines = append(lines, fmt.Sprintf("• %s: %s", bold(f.Tenant), CutEscaped(Clean(f.Reason()), 300)))
	}
	return []slack.Block{section("failures", Cut(strings.Join(lines, "\n"), MaxSectionText))}
}

func emptyText(fs []commands.Failure, tenants int, none string) string {
	if len(fs) > 0 && len(fs) == tenants {
		return ":x: No tenant answered, so there is nothing to show."
	}
	return ":white_check_mark: " + none
}

func header(id, text string) *slack.HeaderBlock {
	return slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, Cut(text, MaxHeader), false, false), slack.HeaderBlockOptionBlockID(id))
}

func section(id, text string, fields ...*slack.TextBlockObject) *slack.SectionBlock {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, Cut(text, MaxSectionText), false, false), fields, nil, slack.SectionBlockOptionBlockID(id))
}

func context(id, text string) *slack.ContextBlock {
	return slack.NewContextBlock(id, slack.NewTextBlockObject(slack.MarkdownType, Cut(text, MaxSectionText), false, false))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
