package formatting

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// Triage controls: a "Details for…" menu under alert tables, a Details /
// Close… menu on digest entries and the buttons of a detail card. Their
// action ids start with ActionTriage so the bot routes them together.
const (
	ActionTriage  = "alert_"
	ActionDetails = "alert_details" // static_select under a table; option value: a TriageValue
	ActionMenu    = "alert_menu"    // overflow of a digest entry (+ ":" + alert key)
	ActionClose   = "alert_close"   // Close… button of a detail card (+ ":" + alert key)
)

// Triage operations.
const (
	OpDetails = "details"
	OpClose   = "close"
)

// TriageValue is what a triage control carries: what to do with which
// alert, and (for Close… on a card) its title for the modal. Group is set
// on a group of repeats' menu (issue #11): AlertID is then the group's
// first alert, and its alerts are read from the message's stored view.
type TriageValue struct {
	Op, Tenant, AlertID string
	Title               string
	Group               bool
}

// groupOp prefixes the op of a group's menu.
const groupOp = "group_"

// String is the compact wire form "[group_]op|tenant|id[|title]" (select
// and overflow values hold at most 150 characters).
func (v TriageValue) String() string {
	op := v.Op
	if v.Group {
		op = groupOp + op
	}
	s := op + "|" + v.Tenant + "|" + v.AlertID
	if v.Title != "" {
		s += "|" + v.Title
	}
	return s
}

// ParseTriageValue reads a triage control's value.
func ParseTriageValue(s string) (TriageValue, error) {
	parts := strings.SplitN(s, "|", 4)
	var group bool
	if len(parts) > 0 {
		parts[0], group = strings.CutPrefix(parts[0], groupOp)
	}
	if len(parts) < 3 || (parts[0] != OpDetails && parts[0] != OpClose) || !tenantNameRE.MatchString(parts[1]) || !source.ValidID(parts[2]) {
		return TriageValue{}, fmt.Errorf("not an alert menu value")
	}
	v := TriageValue{Op: parts[0], Tenant: parts[1], AlertID: parts[2], Group: group}
	if len(parts) == 4 {
		v.Title = parts[3]
	}
	return v, nil
}

// tenantNameRE is what a tenant name can be (see the configuration).
var tenantNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$`)

// maxOptionValue is Slack's limit on a select or overflow option's value.
const maxOptionValue = 150

// Closed is an alert's close, as the messages show it.
type Closed struct {
	Classification string // benign, false_positive, true_positive, or MCAS's resolution name
	Reason         string // reason code
	By             string // Slack user ID (closed from Slack)
	ByName         string
	Comment        string
	// Elsewhere: closed in MCAS (portal, another tool) by HandledBy.
	Elsewhere bool
	HandledBy string
	At        time.Time
	// Bot: the bot closed it by a rule (ByName, e.g. "Jira sync"), and
	// Comment says why (e.g. "SEC-123 resolved: Fixed").
	Bot bool
}

// ClosedFromStore is how a store record reads in a message.
func ClosedFromStore(rec store.CloseRecord) *Closed {
	return &Closed{Classification: rec.Classification, Reason: rec.Reason, By: rec.By, ByName: rec.ByName, Comment: rec.Comment,
		Elsewhere: rec.Elsewhere, HandledBy: rec.HandledBy, At: rec.ClosedAt, Bot: rec.ByBot() && !rec.Elsewhere}
}

// ClosedFromAlert is how MCAS's own resolution of an alert reads, when
// the bot has no record of closing it (nil while it is open).
func ClosedFromAlert(a source.Alert) *Closed {
	if a.Open() {
		return nil
	}
	c := &Closed{Classification: source.ResolutionName(a.Resolution), Elsewhere: true, HandledBy: a.HandledBy, At: a.ResolveTime}
	if k, ok := source.ClassificationOf(a.Resolution); ok {
		c.Classification = string(k)
	}
	return c
}

// ClosedText is the line that replaces Close… once an alert is closed:
// ✅ Closed as benign (confirmed with end user) by @carol: "…".
func ClosedText(c Closed) string {
	return ":white_check_mark: " + closedWords(c, true)
}

// closedWords says how and by whom an alert was closed; mrkdwn escapes
// and mentions when slack is set, plain text otherwise.
func closedWords(c Closed, slack bool) string {
	esc := func(s string, n int) string {
		if slack {
			return CutEscaped(Clean(s), n)
		}
		return Cut(Clean(s), n)
	}
	kind := source.Classification(c.Classification)
	how := "Closed as " + esc(kind.Label(), 40)
	switch c.Classification {
	case "dismissed", "resolved":
		how = strings.ToUpper(c.Classification[:1]) + c.Classification[1:]
	}
	if c.Bot {
		// Closed by a rule: its note says why, in place of a reason and a
		// quoted comment: "by Jira sync (SEC-123 resolved: Fixed)".
		name := c.ByName
		if Clean(name) == "" {
			name = "mcasbot"
		}
		how += " by " + esc(name, 40)
		if note := Clean(c.Comment); note != "" {
			how += " (" + esc(note, 200) + ")"
		}
		return how
	}
	if label := source.ReasonLabel(kind, c.Reason); label != "" {
		how += " (" + label + ")"
	}
	switch {
	case c.Elsewhere && c.HandledBy != "":
		how += " in Defender by " + esc(c.HandledBy, 80)
	case c.Elsewhere:
		how += " in Defender"
	case slack && slackUserID.MatchString(c.By):
		how += " by <@" + c.By + ">"
	case c.ByName != "":
		how += " by @" + esc(c.ByName, 80)
	case c.By != "":
		how += " by @" + esc(c.By, 40)
	}
	if c.Elsewhere && !c.At.IsZero() {
		how += " on " + utc(c.At) + " UTC"
	}
	if comment := Clean(c.Comment); comment != "" {
		how += ": \"" + esc(comment, 200) + "\""
	}
	return how
}

// CardInput is everything a detail card shows.
type CardInput struct {
	Alert      source.Alert
	Reputation map[string]abuseipdb.Report
	RepNotes   map[string]string
	Issue      *Filed  // its Jira issue, when filed
	Closed     *Closed // its close from Slack; else MCAS's resolution shows
	// Reopened is an earlier close of an alert open again in Defender: the
	// card shows it open, with Close…, and notes the close (issue #16).
	Reopened *Closed
	// NoJira hides Create Jira (Jira is off); NoClose hides Close….
	NoJira, NoClose bool
}

// CardFromResult is the card input of a single-match alert result.
func CardFromResult(r commands.AlertResult) CardInput {
	in := CardInput{Alert: r.Found[0], Reputation: r.Reputation, RepNotes: r.RepNotes}
	if r.Issue != nil {
		in.Issue = &Filed{Key: r.Issue.Key, URL: r.Issue.URL, By: r.Issue.By}
	}
	if r.Close != nil {
		// The bot's record yields to the alert's live state: a close the
		// alert no longer has is only a note.
		if r.Close.State == store.CloseReopened || in.Alert.Open() {
			in.Reopened = ClosedFromStore(*r.Close)
		} else {
			in.Closed = ClosedFromStore(*r.Close)
		}
	}
	return in
}

// Card is the detail card of one alert.
func Card(in CardInput) *slack.WebhookMessage {
	a := in.Alert
	key := alertKey(a)
	title := Clean(a.Title)
	if title == "" {
		title = "(untitled alert)"
	}
	closed := in.Closed
	if closed == nil {
		closed = ClosedFromAlert(a)
	}
	status := statusText(a, closed, true)
	if in.Closed == nil && a.Graph != nil {
		status = graphState(a, true)
	}
	if closed == nil && in.Reopened != nil {
		status += "\n" + ReopenedText(*in.Reopened)
	}
	blocks := []slack.Block{
		header("card-title", SeverityLabel(a.Severity)+" · "+title),
		section("card-status", status),
		slack.NewSectionBlock(nil, cardFields(in), nil, slack.SectionBlockOptionBlockID("card-facts")),
	}
	if d := StripHTML(a.Description); d != "" {
		blocks = append(blocks, section("card-description", CutEscaped(d, 1500)))
	}
	if e := entitiesText(in); e != "" {
		blocks = append(blocks, section("card-entities", e))
	}
	if ev := evidenceText(a); ev != "" {
		blocks = append(blocks, section("card-evidence", ev))
	}
	var more []string
	if len(a.Stories) > 0 {
		more = append(more, "Stories: "+CutEscaped(Clean(strings.Join(a.Stories, ", ")), 300))
	}
	if len(a.Intent) > 0 {
		more = append(more, "Intent: "+CutEscaped(Clean(strings.Join(a.Intent, ", ")), 300))
	}
	if len(more) > 0 {
		blocks = append(blocks, context("card-more", strings.Join(more, " · ")))
	}
	if act := cardActions(in, key, title, closed != nil); act != nil {
		blocks = append(blocks, act)
	}
	fallback := fmt.Sprintf("%s alert in %s: %s (%s)", a.Severity, Clean(a.Tenant), Cut(title, 150), statusWord(closed))
	return &slack.WebhookMessage{ResponseType: slack.ResponseTypeEphemeral, Text: Escape(fallback), Blocks: &slack.Blocks{BlockSet: blocks}}
}

func statusWord(c *Closed) string {
	if c == nil {
		return "open"
	}
	return "closed"
}

func statusText(a source.Alert, c *Closed, slack bool) string {
	if c != nil {
		if slack {
			return ClosedText(*c)
		}
		return closedWords(*c, false)
	}
	s := ":large_green_circle: *Open*"
	if !slack {
		s = "Open"
	}
	if w := map[int]string{0: "unread", 1: "read", 2: "archived"}[a.Status]; w != "" {
		s += " · " + w
	}
	return s
}

func cardFields(in CardInput) []*slack.TextBlockObject {
	a := in.Alert
	pairs := [][2]string{
		{"Tenant", CutEscaped(Clean(a.Tenant), 60)},
		{"Time (UTC)", utc(a.Time)},
	}
	if p := a.Policy(); p != "" {
		pairs = append(pairs, [2]string{"Policy", CutEscaped(Clean(p), 200)})
	}
	if p := ProductName(a); p != "" {
		pairs = append(pairs, [2]string{"Product", Escape(p)})
	}
	if a.ThreatScore > 0 {
		pairs = append(pairs, [2]string{"Threat score", fmt.Sprint(a.ThreatScore)})
	}
	pairs = append(pairs, [2]string{"Alert ID", "`" + Escape(a.ID) + "`"})
	if l := incidentLink(a, true); l != "" {
		pairs = append(pairs, [2]string{"Incident", l})
	}
	if in.Issue != nil {
		pairs = append(pairs, [2]string{"Jira", filedText(*in.Issue)})
	}
	if u := SafeURL(a.URL); u != "" {
		pairs = append(pairs, [2]string{"Portal", "<" + u + "|" + portalText(a) + ">"})
	}
	out := make([]*slack.TextBlockObject, 0, len(pairs))
	for _, p := range pairs {
		out = append(out, slack.NewTextBlockObject(slack.MarkdownType, Cut("*"+p[0]+"*\n"+p[1], MaxFieldText), false, false))
	}
	return out
}

// entityGroups orders entity kinds as an analyst reads them.
var entityGroups = []struct {
	title string
	types []string
}{
	{"Users", []string{"account", "user"}},
	{"IPs", []string{"ip"}},
	{"Countries", []string{"country"}},
	{"Apps", []string{"service", "app"}},
	{"Devices", []string{"device"}},
	{"Files", []string{"file"}},
}

// entityValue is what an entity is called: its UPN, e-mail, label or id.
func entityValue(e source.Entity) string {
	for _, v := range []string{e.UPN, e.Email, e.Label, e.ID} {
		if v = Clean(v); v != "" {
			return v
		}
	}
	return ""
}

// groupEntities lists entity values by group title, without repeats; the
// last group ("Other") holds every other kind except the policy, which the
// card shows on its own.
func groupEntities(a source.Alert) ([]string, map[string][]string) {
	var titles []string
	out := map[string][]string{}
	seen := map[string]bool{}
	known := map[string]string{}
	for _, g := range entityGroups {
		for _, t := range g.types {
			known[t] = g.title
		}
	}
	for _, e := range a.Entities {
		if e.Type == "policyRule" {
			continue
		}
		title, ok := known[e.Type]
		if !ok {
			title = "Other"
		}
		v := entityValue(e)
		if e.Type == "ip" && e.ID != "" {
			v = Clean(e.ID)
		}
		if !ok && v != "" {
			v = Clean(e.Type) + ": " + v
		}
		if v == "" || seen[title+"\x00"+v] {
			continue
		}
		seen[title+"\x00"+v] = true
		if len(out[title]) == 0 {
			titles = append(titles, title)
		}
		out[title] = append(out[title], v)
	}
	order := map[string]int{"Other": len(entityGroups)}
	for i, g := range entityGroups {
		order[g.title] = i
	}
	sort.SliceStable(titles, func(i, j int) bool { return order[titles[i]] < order[titles[j]] })
	return titles, out
}

// maxEntityValues bounds each group's list.
const maxEntityValues = 10

func entitiesText(in CardInput) string {
	titles, groups := groupEntities(in.Alert)
	var lines []string
	for _, title := range titles {
		vals := groups[title]
		extra := ""
		if len(vals) > maxEntityValues {
			extra = fmt.Sprintf(" (+%d more)", len(vals)-maxEntityValues)
			vals = vals[:maxEntityValues]
		}
		if title != "IPs" {
			esc := make([]string, len(vals))
			for i, v := range vals {
				esc[i] = CutEscaped(v, 100)
			}
			lines = append(lines, "*"+title+":* "+strings.Join(esc, ", ")+extra)
			continue
		}
		lines = append(lines, "*IPs:*"+extra)
		for _, ip := range vals {
			lines = append(lines, "• `"+CutEscaped(ip, 45)+"` "+CutEscaped(ipVerdict(in, ip), 300))
		}
	}
	return Cut(strings.Join(lines, "\n"), MaxSectionText)
}

// ipVerdict is an IP's AbuseIPDB verdict in one line, or why there is none.
func ipVerdict(in CardInput, ip string) string {
	if rep, ok := in.Reputation[ip]; ok {
		parts := []string{fmt.Sprintf("AbuseIPDB %d%% (%s)", rep.Score, verdictWord(rep.Score))}
		if rep.Tor {
			parts = append(parts, "Tor exit node")
		}
		parts = append(parts, fmt.Sprintf("%d reports", rep.Reports))
		if rep.ISP != "" {
			parts = append(parts, "ISP "+Clean(rep.ISP))
		}
		if rep.Country != "" {
			parts = append(parts, Clean(rep.Country))
		}
		return strings.Join(parts, " · ")
	}
	if note := in.RepNotes[ip]; note != "" {
		return "(" + Clean(note) + ")"
	}
	if addr, err := netip.ParseAddr(ip); err == nil && !abuseipdb.Public(addr) {
		return "(private or reserved address)"
	}
	return "(no AbuseIPDB verdict)"
}

func verdictWord(score int) string {
	switch {
	case score >= 75:
		return "high risk"
	case score >= 25:
		return "suspicious"
	}
	return "low risk"
}

// maxEvidence bounds the evidence list.
const maxEvidence = 10

func evidenceText(a source.Alert) string {
	if len(a.Evidence) == 0 {
		return ""
	}
	lines := []string{"*Evidence*"}
	for i, ev := range a.Evidence {
		if i == maxEvidence {
			lines = append(lines, fmt.Sprintf("… %d more in the portal", len(a.Evidence)-maxEvidence))
			break
		}
		if s := StripHTML(ev); s != "" {
			lines = append(lines, "• "+CutEscaped(s, 250))
		}
	}
	if len(lines) == 1 {
		return ""
	}
	return Cut(strings.Join(lines, "\n"), MaxSectionText)
}

func cardActions(in CardInput, key, title string, closed bool) *slack.ActionBlock {
	a := in.Alert
	var elems []slack.BlockElement
	if create := createButton(a); !in.NoJira && in.Issue == nil && create != nil {
		elems = append(elems, create)
	}
	if !in.NoClose && !closed && source.ValidID(a.ID) && tenantNameRE.MatchString(a.Tenant) {
		v := TriageValue{Op: OpClose, Tenant: a.Tenant, AlertID: a.ID, Title: Cut(title, 150)}
		elems = append(elems, slack.NewButtonBlockElement(ActionClose+":"+key, v.String(), slack.NewTextBlockObject(slack.PlainTextType, "Close…", false, false)))
	}
	if u := SafeURL(a.URL); u != "" {
		open := slack.NewButtonBlockElement("open:"+key, "open", slack.NewTextBlockObject(slack.PlainTextType, "Open in Defender", false, false))
		open.URL = u
		elems = append(elems, open)
	}
	if len(elems) == 0 {
		return nil
	}
	return slack.NewActionBlock("card-actions:"+key, elems...)
}

// AlertReply answers /mcas alert (an ephemeral replacement, like Reply),
// leaving out Create Jira or Close… where they are not enabled.
func AlertReply(r commands.AlertResult, noJira, noClose bool) *slack.WebhookMessage {
	msg := alertResultMessage(r, noJira, noClose)
	msg.ResponseType, msg.ReplaceOriginal = slack.ResponseTypeEphemeral, true
	return msg
}

// alertResultMessage answers /mcas alert: the card, or where the id was
// found, or that it was found nowhere.
func alertResultMessage(r commands.AlertResult, noJira, noClose bool) *slack.WebhookMessage {
	if len(r.Pending) > 0 {
		return alertInterim(r)
	}
	if len(r.Found) == 1 {
		in := CardFromResult(r)
		in.NoJira, in.NoClose = noJira, noClose
		msg := Card(in)
		if len(r.Failures) > 0 {
			blocks := append([]slack.Block{msg.Blocks.BlockSet[0]}, failureBlocks(r.Failures, len(r.Tenants))...)
			msg.Blocks.BlockSet = append(blocks, msg.Blocks.BlockSet[1:]...)
		}
		return msg
	}
	id := "`" + Escape(r.ID) + "`"
	var blocks []slack.Block
	var fallback string
	switch {
	case len(r.Found) > 1:
		lines := []string{fmt.Sprintf(":information_source: Alert %s exists in %d tenants (ids are per tenant):", id, len(r.Found))}
		for _, a := range r.Found {
			lines = append(lines, fmt.Sprintf("• *%s*: %s %s, %s UTC", CutEscaped(Clean(a.Tenant), 40), SeverityLabel(a.Severity), CutEscaped(Clean(a.Title), 120), utc(a.Time)))
		}
		lines = append(lines, fmt.Sprintf("Add the tenant: `/mcas alert %s tenant=%s`", Escape(r.ID), Escape(r.Found[0].Tenant)))
		blocks = append(blocks, section("several", Cut(strings.Join(lines, "\n"), MaxSectionText)))
		fallback = fmt.Sprintf("Alert %s exists in %d tenants", r.ID, len(r.Found))
	case len(r.Failures) > 0 && len(r.Failures) == len(r.Tenants):
		blocks = append(blocks, section("none", ":x: No tenant answered, so alert "+id+" could not be looked up."))
		fallback = "No tenant answered"
	default:
		asked := answeredText(r)
		blocks = append(blocks, section("none", fmt.Sprintf(":mag: No alert %s in %s.", id, CutEscaped(Clean(asked), 500))))
		fallback = fmt.Sprintf("No alert %s in %s", r.ID, asked)
	}
	blocks = append(blocks, failureBlocks(r.Failures, len(r.Tenants))...)
	if sel := detailsSelect("Details for…", r.Found, true); sel != nil {
		blocks = append(blocks, sel)
	}
	return &slack.WebhookMessage{ResponseType: slack.ResponseTypeEphemeral, Text: Escape(Cut(fallback, 300)), Blocks: &slack.Blocks{BlockSet: blocks}}
}

// alertInterim is /mcas alert before every tenant answered: where the
// alert was found so far, and who is still being asked.
func alertInterim(r commands.AlertResult) *slack.WebhookMessage {
	var where []string
	for _, a := range r.Found {
		where = append(where, a.Tenant)
	}
	text := fmt.Sprintf(":mag: Looking up alert `%s`: not found so far.", Escape(r.ID))
	if len(where) > 0 {
		text = fmt.Sprintf(":mag: Looking up alert `%s`: found in %s so far.", Escape(r.ID), CutEscaped(Clean(strings.Join(where, ", ")), 300))
	}
	blocks := []slack.Block{section("looking", text)}
	blocks = append(blocks, failureBlocks(r.Failures, len(r.Tenants))...)
	blocks = append(blocks, pendingBlocks(r.Pending, len(r.Tenants))...)
	fallback := "Looking up alert " + r.ID + pendingFallback(r.Pending)
	return &slack.WebhookMessage{ResponseType: slack.ResponseTypeEphemeral, Text: Escape(Cut(fallback, 300)), Blocks: &slack.Blocks{BlockSet: blocks}}
}

// detailOption is one "Details for…" choice: time, tenant and title.
func detailOption(a source.Alert, withTenant bool) *slack.OptionBlockObject {
	text := a.Time.UTC().Format("01-02 15:04") + " · "
	if withTenant {
		text += a.Tenant + " · "
	}
	return detailsOption(a, text+Clean(a.Title))
}

// detailsOption is a "Details for…" choice labelled text; nil when the
// alert's ids cannot travel in a value.
func detailsOption(a source.Alert, text string) *slack.OptionBlockObject {
	if !source.ValidID(a.ID) || !tenantNameRE.MatchString(a.Tenant) {
		return nil
	}
	v := TriageValue{Op: OpDetails, Tenant: a.Tenant, AlertID: a.ID}.String()
	if len(v) > maxOptionValue {
		return nil
	}
	return slack.NewOptionBlockObject(v, slack.NewTextBlockObject(slack.PlainTextType, Cut(text, 75), false, false), nil)
}

// detailsSelect is the "Details for…" menu of a list of alerts (at most
// 100 options, as Slack allows); nil when no alert can be offered.
func detailsSelect(placeholder string, as []source.Alert, withTenant bool) *slack.ActionBlock {
	return detailsSelectOf(placeholder, as, func(a source.Alert) *slack.OptionBlockObject { return detailOption(a, withTenant) })
}

// detailsSelectOf is detailsSelect with each alert's option made by option.
func detailsSelectOf(placeholder string, as []source.Alert, option func(source.Alert) *slack.OptionBlockObject) *slack.ActionBlock {
	var opts []*slack.OptionBlockObject
	for _, a := range as {
		if o := option(a); o != nil && len(opts) < 100 {
			opts = append(opts, o)
		}
	}
	if len(opts) == 0 {
		return nil
	}
	sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, slack.NewTextBlockObject(slack.PlainTextType, placeholder, false, false), ActionDetails, opts...)
	return slack.NewActionBlock("details", sel)
}

// optionChars is what an option spends of the message's text budget.
func optionChars(o *slack.OptionBlockObject) int {
	if o == nil {
		return 0
	}
	return utf8.RuneCountInString(o.Text.Text)
}

// plainCard renders a card for a terminal.
func plainCard(b *strings.Builder, in CardInput) {
	a := in.Alert
	title := Clean(a.Title)
	if title == "" {
		title = "(untitled alert)"
	}
	closed := in.Closed
	if closed == nil {
		closed = ClosedFromAlert(a)
	}
	status := statusText(a, closed, false)
	if in.Closed == nil && a.Graph != nil {
		status = graphState(a, false)
	}
	fmt.Fprintf(b, "%s · %s\n", SeverityLabel(a.Severity), title)
	fmt.Fprintf(b, "Status:      %s\n", status)
	if closed == nil && in.Reopened != nil {
		fmt.Fprintf(b, "             %s\n", reopenedWords(*in.Reopened, false))
	}
	fmt.Fprintf(b, "Tenant:      %s\n", Clean(a.Tenant))
	fmt.Fprintf(b, "Time (UTC):  %s\n", utc(a.Time))
	if p := a.Policy(); p != "" {
		fmt.Fprintf(b, "Policy:      %s\n", Clean(p))
	}
	if p := ProductName(a); p != "" {
		fmt.Fprintf(b, "Product:     %s\n", p)
	}
	fmt.Fprintf(b, "Alert ID:    %s\n", a.ID)
	if l := incidentLink(a, false); l != "" {
		fmt.Fprintf(b, "Incident:    %s\n", l)
	}
	if in.Issue != nil {
		fmt.Fprintf(b, "Jira:        %s %s\n", Clean(in.Issue.Key), SafeURL(in.Issue.URL))
	}
	if u := SafeURL(a.URL); u != "" {
		fmt.Fprintf(b, "Portal:      %s\n", u)
	}
	if d := StripHTML(a.Description); d != "" {
		fmt.Fprintf(b, "Description: %s\n", Cut(d, 1500))
	}
	titles, groups := groupEntities(a)
	for _, t := range titles {
		if t != "IPs" {
			fmt.Fprintf(b, "%-12s %s\n", t+":", Cut(strings.Join(groups[t], ", "), 500))
			continue
		}
		fmt.Fprintf(b, "IPs:\n")
		for _, ip := range groups[t] {
			fmt.Fprintf(b, "  %-40s %s\n", ip, ipVerdict(in, ip))
		}
	}
	if len(a.Evidence) > 0 {
		b.WriteString("Evidence:\n")
		for i, ev := range a.Evidence {
			if i == maxEvidence {
				break
			}
			fmt.Fprintf(b, "  - %s\n", Cut(StripHTML(ev), 250))
		}
	}
	if len(a.Stories) > 0 {
		fmt.Fprintf(b, "Stories:     %s\n", Clean(strings.Join(a.Stories, ", ")))
	}
	if len(a.Intent) > 0 {
		fmt.Fprintf(b, "Intent:      %s\n", Clean(strings.Join(a.Intent, ", ")))
	}
}

// plainAlertResult renders /mcas alert for a terminal.
func plainAlertResult(b *strings.Builder, r commands.AlertResult) {
	plainFailures(b, r.Failures, len(r.Tenants))
	plainInterim(b, r.Pending, len(r.Tenants), time.Time{})
	switch {
	case len(r.Pending) > 0 && len(r.Found) > 0:
		var where []string
		for _, a := range r.Found {
			where = append(where, Clean(a.Tenant))
		}
		fmt.Fprintf(b, "Looking up alert %s: found in %s so far.\n", r.ID, strings.Join(where, ", "))
	case len(r.Pending) > 0:
		fmt.Fprintf(b, "Looking up alert %s: not found so far.\n", r.ID)
	case len(r.Found) == 1:
		plainCard(b, CardFromResult(r))
	case len(r.Found) > 1:
		fmt.Fprintf(b, "Alert %s exists in %d tenants (ids are per tenant):\n", r.ID, len(r.Found))
		for _, a := range r.Found {
			fmt.Fprintf(b, "  %s: %s %s, %s UTC\n", Clean(a.Tenant), SeverityLabel(a.Severity), Cut(Clean(a.Title), 120), utc(a.Time))
		}
		fmt.Fprintf(b, "Add the tenant: /mcas alert %s tenant=%s\n", r.ID, r.Found[0].Tenant)
	case len(r.Failures) > 0 && len(r.Failures) == len(r.Tenants):
		fmt.Fprintf(b, "No tenant answered, so alert %s could not be looked up.\n", r.ID)
	default:
		fmt.Fprintf(b, "No alert %s in %s.\n", r.ID, Clean(answeredText(r)))
	}
}

// AlreadyClosedText tells an analyst an alert was closed before they
// tried: "Already closed as false positive by @dave".
func AlreadyClosedText(c Closed) string {
	w := closedWords(c, true)
	if !strings.HasSuffix(w, "\"") {
		w += "."
	}
	return ":information_source: Already " + strings.ToLower(w[:1]) + w[1:]
}

// answeredText names the tenants that answered an alert lookup, or counts
// them beyond a handful (issue #18).
func answeredText(r commands.AlertResult) string {
	asked := answered(r)
	if many(len(r.Tenants)) {
		return fmt.Sprintf("the %d %s that answered", len(asked), plural(len(asked), "tenant", "tenants"))
	}
	return strings.Join(asked, ", ")
}

// answered are the tenants that answered an alert lookup.
func answered(r commands.AlertResult) []string {
	failed := map[string]bool{}
	for _, f := range r.Failures {
		failed[f.Tenant] = true
	}
	var out []string
	for _, t := range r.Tenants {
		if !failed[t] {
			out = append(out, t)
		}
	}
	return out
}
