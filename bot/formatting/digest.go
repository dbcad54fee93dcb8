package formatting

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/correlation"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/source"
)

// ActionCreateJira prefixes the action_id of every Create Jira button.
const ActionCreateJira = "create_jira"

// ButtonValue is what a Create Jira button carries. Group is set on a
// group's button: AlertID is then its first alert, and the group's alerts
// are read from the stored view of the message.
type ButtonValue struct {
	Tenant  string `json:"t"`
	AlertID string `json:"a"`
	Group   bool   `json:"g,omitempty"`
}

// ParseButtonValue reads a Create Jira button's value.
func ParseButtonValue(s string) (ButtonValue, error) {
	var v ButtonValue
	if err := json.Unmarshal([]byte(s), &v); err != nil || v.Tenant == "" || v.AlertID == "" {
		return ButtonValue{}, fmt.Errorf("not a Create Jira button value")
	}
	return v, nil
}

// DigestInput is what one digest run found.
type DigestInput struct {
	Since      map[string]time.Time // per tenant: alerts newer than this
	Alerts     []source.Alert       // new alerts, any order
	Reputation map[string]abuseipdb.Report
	Failures   []TenantProblem // tenants that could not be read
	Truncated  map[string]int  // per tenant: alerts beyond the per-run cap
	// NoJira leaves out the Create Jira button (Jira is not configured).
	NoJira bool

	// Groups are repeats drawn as one entry each; their alerts are in
	// Alerts too (issue #11).
	Groups []DigestGroup
	// Related is what other tenants' alerts share with each entry, by the
	// AlertKeyOf its first alert.
	Related map[string][]correlation.Match
	// CrossTenant is what alerts of several tenants in this run share.
	CrossTenant []correlation.Shared
	// States is what is already known of alerts when they are posted (a
	// repeat added to its group's issue), by AlertKeyOf.
	States map[string]AlertState
	// Earlier is the done issue an entry repeats (by the AlertKeyOf its
	// first alert): its repeats start a new issue (issue #16).
	Earlier map[string]Earlier
}

// Earlier is the issue of an earlier group of the same repeats, done in
// Jira when the entry was posted.
type Earlier struct {
	Key        string `json:"key"`
	URL        string `json:"url,omitempty"`
	Status     string `json:"status,omitempty"`
	Resolution string `json:"resolution,omitempty"`
}

// DigestGroup is repeats of one policy for one account or IP in a tenant,
// drawn as one entry (grouping.Group as kept in a message's view).
type DigestGroup struct {
	Tenant    string   `json:"tenant"`
	Policy    string   `json:"policy"`
	By        string   `json:"by"` // account or ip
	Value     string   `json:"value"`
	Signature string   `json:"signature"`
	IDs       []string `json:"ids"`
}

// TenantProblem is a tenant the digest could not read.
type TenantProblem struct{ Tenant, Reason string }

// Per-message budgets for digest messages. An entry is an alert or a
// group of repeats.
const (
	entriesPerMessage = 20
	entriesInParent   = 15
	cardChars         = 450 // upper bound of one card's own text
	// entryBudget is the text the entries of one message may take when
	// posted: the rest of Slack's ~12,000 is left for what redraws add
	// (issue keys, closes, Jira status) and the parent's head.
	entryBudget = 8000
)

// SortForDigest orders alerts most severe first, then newest first.
func SortForDigest(as []source.Alert) {
	sort.SliceStable(as, func(i, j int) bool {
		if ri, rj := as[i].Severity.Rank(), as[j].Severity.Rank(); ri != rj {
			return ri > rj
		}
		return as[i].Time.After(as[j].Time)
	})
}

// DigestChunk is one message of a digest and the alerts it carries.
type DigestChunk struct {
	Msg    *slack.WebhookMessage
	Alerts []source.Alert
	// View is what the message shows, kept in the store after posting so
	// the message can be redrawn whenever one of its alerts changes.
	View DigestView
}

// DigestView is one digest message as data: its fixed head and tail
// (totals, failures, the thread note) and the alerts whose cards are drawn
// from their current state each time the message is rendered.
type DigestView struct {
	Text       string                      `json:"text"`
	Head       slack.Blocks                `json:"head"`
	Alerts     []source.Alert              `json:"alerts"`
	Reputation map[string]abuseipdb.Report `json:"reputation,omitempty"`
	Tail       slack.Blocks                `json:"tail"`
	NoJira     bool                        `json:"no_jira,omitempty"`
	// Groups of repeats among Alerts, each drawn as one entry, and what
	// other tenants shared with each entry when it was posted (by the key of
	// its first alert): issue #11.
	Groups  []DigestGroup                  `json:"groups,omitempty"`
	Related map[string][]correlation.Match `json:"related,omitempty"`
	// Earlier is the done issue an entry repeats, by its key.
	Earlier map[string]Earlier `json:"earlier,omitempty"`
}

// AlertState is what is known of an alert beyond MCAS's copy, drawn on its
// card: the Jira issue filed for it, its close, and more as the bot learns more.
type AlertState struct {
	Filed *Filed
	// Jira is the filed issue's state in Jira, as the sync last saw it
	// (issue #13); nil until seen.
	Jira *JiraStatus
	// Closed is the alert's close (issue #8), from Slack or found closed
	// in MCAS: Close… gives way to how and by whom.
	Closed *Closed
	// Reopened is the earlier close of an alert reopened in Defender since
	// (issue #16): the alert is drawn open, with a note of it.
	Reopened *Closed
}

// RenderDigest draws a digest message from its view and the current state
// of its alerts (by AlertKeyOf). A non-empty version is appended to every
// block_id, which Slack needs to redraw blocks in chat.update.
func RenderDigest(v DigestView, states map[string]AlertState, version string) *slack.WebhookMessage {
	// Twenty closed alerts with long comments could pass Slack's size
	// limit: the comments give way first (the card keeps them whole).
	var msg *slack.WebhookMessage
	for style := closedFull; style <= closedShort; style++ {
		msg = renderDigest(v, states, version, style)
		if s, err := Measure(msg); err != nil || s.Chars <= messageBudget {
			break
		}
	}
	return msg
}

func renderDigest(v DigestView, states map[string]AlertState, version string, closedStyle int) *slack.WebhookMessage {
	blocks := append([]slack.Block{}, v.Head.BlockSet...)
	blocks = append(blocks, cards(v, states, closedStyle)...)
	blocks = append(blocks, v.Tail.BlockSet...)
	if version != "" {
		for i, b := range blocks {
			blocks[i] = withID(b, baseID(b.ID())+"~"+version)
		}
	}
	return &slack.WebhookMessage{Text: v.Text, Blocks: &slack.Blocks{BlockSet: blocks}}
}

// Digest renders a digest: the parent (totals and the most severe entries)
// first, then chunks of at most 20 entries to be threaded under it, each
// within Slack's limits. The alerts must already be sorted with
// SortForDigest.
func Digest(in DigestInput) []DigestChunk {
	total := len(in.Alerts)
	head := []slack.Block{
		header("digest", fmt.Sprintf("MCAS digest: %d new %s", total, plural(total, "alert", "alerts"))),
		section("totals", totalsText(in)),
	}
	if len(in.Failures) > 0 {
		lines := []string{":warning: *Could not read these tenants* (their alerts come in the next digest):"}
		for _, f := range in.Failures {
			lines = append(lines, fmt.Sprintf("• *%s*: %s", CutEscaped(Clean(f.Tenant), 60), CutEscaped(Clean(f.Reason), 300)))
		}
		head = append(head, section("failures", strings.Join(lines, "\n")))
	}
	var notes []string
	for _, t := range sortedKeys(in.Truncated) {
		notes = append(notes, fmt.Sprintf("%s: %d more new alerts than one digest carries; they follow in the next run", Escape(t), in.Truncated[t]))
	}
	if len(notes) > 0 {
		head = append(head, context("truncated", strings.Join(notes, " · ")))
	}
	if len(in.CrossTenant) > 0 {
		head = append(head, section("cross-tenant", crossTenantText(in.CrossTenant)))
	}
	fallback := fmt.Sprintf("MCAS digest: %d new %s", total, plural(total, "alert", "alerts"))
	es := entries(in.Alerts, in.Groups)
	headChars, _ := Measure(&slack.WebhookMessage{Blocks: &slack.Blocks{BlockSet: head}})
	n := fit(in, es, entriesInParent, entryBudget-headChars.Chars)
	parent := view(in, Escape(fallback), head, es[:n])
	if left := total - len(parent.Alerts); left > 0 {
		parent.Tail.BlockSet = []slack.Block{context("thread-note", fmt.Sprintf(":thread: %d more in the thread below.", left))}
	}
	out := []DigestChunk{{View: parent, Alerts: parent.Alerts}}
	for rest := es[n:]; len(rest) > 0; {
		k := fit(in, rest, entriesPerMessage, entryBudget)
		v := view(in, "", nil, rest[:k])
		v.Text = Escape(fmt.Sprintf("MCAS digest, %d more alerts", len(v.Alerts)))
		out = append(out, DigestChunk{View: v, Alerts: v.Alerts})
		rest = rest[k:]
	}
	for i := range out {
		out[i].Msg = RenderDigest(out[i].View, in.States, "")
	}
	return out
}

// entry is one card of a digest: an alert, or a group of repeats.
type entry struct {
	alerts []source.Alert // a group's in digest order; the first leads
	group  *DigestGroup
}

// entries puts each group where its first alert is and leaves the other
// alerts as they are.
func entries(alerts []source.Alert, groups []DigestGroup) []entry {
	member := map[[2]string]int{}
	for gi, g := range groups {
		for _, id := range g.IDs {
			member[[2]string{g.Tenant, id}] = gi
		}
	}
	byGroup := map[int][]source.Alert{}
	for _, a := range alerts {
		if gi, ok := member[[2]string{a.Tenant, a.ID}]; ok {
			byGroup[gi] = append(byGroup[gi], a)
		}
	}
	var out []entry
	done := map[int]bool{}
	for _, a := range alerts {
		gi, ok := member[[2]string{a.Tenant, a.ID}]
		if !ok {
			out = append(out, entry{alerts: []source.Alert{a}})
			continue
		}
		if !done[gi] {
			done[gi] = true
			g := groups[gi]
			out = append(out, entry{alerts: byGroup[gi], group: &g})
		}
	}
	return out
}

// fit is how many of es (at least one, at most max) one message carries
// within budget characters of cards.
func fit(in DigestInput, es []entry, max, budget int) int {
	spent := 0
	for i := range es {
		if i == max {
			return i
		}
		size, _ := Measure(&slack.WebhookMessage{Blocks: &slack.Blocks{BlockSet: cards(view(in, "", nil, es[i:i+1]), in.States, closedFull)}})
		spent += size.Chars
		if spent > budget && i > 0 {
			return i
		}
	}
	return len(es)
}

// view keeps what the cards of es need: their alerts and groups, the
// reputation of their addresses and what other tenants shared.
func view(in DigestInput, text string, head []slack.Block, es []entry) DigestView {
	v := DigestView{Text: text, Head: slack.Blocks{BlockSet: head}, NoJira: in.NoJira}
	for _, e := range es {
		v.Alerts = append(v.Alerts, e.alerts...)
		if e.group != nil {
			v.Groups = append(v.Groups, *e.group)
		}
		if ms := in.Related[alertKey(e.alerts[0])]; len(ms) > 0 {
			if v.Related == nil {
				v.Related = map[string][]correlation.Match{}
			}
			v.Related[alertKey(e.alerts[0])] = ms
		}
		if er, ok := in.Earlier[alertKey(e.alerts[0])]; ok {
			if v.Earlier == nil {
				v.Earlier = map[string]Earlier{}
			}
			v.Earlier[alertKey(e.alerts[0])] = er
		}
	}
	for _, a := range v.Alerts {
		for _, ip := range a.IPs() {
			if rep, ok := in.Reputation[ip]; ok {
				if v.Reputation == nil {
					v.Reputation = map[string]abuseipdb.Report{}
				}
				v.Reputation[ip] = rep
			}
		}
	}
	return v
}

// QuietDigest is the one line posted when nothing is new (if configured).
func QuietDigest(text string) *slack.WebhookMessage {
	return &slack.WebhookMessage{Text: Escape(Cut(text, 2000)), Blocks: &slack.Blocks{BlockSet: []slack.Block{context("quiet", Escape(Cut(text, 2000)))}}}
}

func totalsText(in DigestInput) string {
	type key struct {
		tenant string
		sev    source.Severity
	}
	counts := map[key]int{}
	tenants := map[string]int{}
	for _, a := range in.Alerts {
		counts[key{a.Tenant, a.Severity}]++
		tenants[a.Tenant]++
	}
	var lines []string
	for _, t := range sortedKeys(tenants) {
		var parts []string
		for _, s := range []source.Severity{source.SeverityHigh, source.SeverityMedium, source.SeverityLow, source.SeverityInformational} {
			if c := counts[key{t, s}]; c > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", c, s))
			}
		}
		lines = append(lines, fmt.Sprintf("*%s*: %s", CutEscaped(Clean(t), 60), strings.Join(parts, ", ")))
	}
	if len(lines) == 0 {
		return "No new alerts."
	}
	return Cut(strings.Join(lines, "\n"), MaxSectionText)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var idSafe = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// alertKey names an alert in block and action ids: unique per (tenant,
// id), short, and free of the "~" FiledBlocks uses for versions.
func alertKey(a source.Alert) string { return idPart(a.Tenant, 60) + ":" + idPart(a.ID, 64) }

// idPart is s when it is short and safe; otherwise a readable prefix and a
// hash of all of s, so that two different values never share a key.
func idPart(s string, n int) string {
	if s != "" && len(s) <= n && !idSafe.MatchString(s) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	prefix := idSafe.ReplaceAllString(s, "_")
	if len(prefix) > n-18 {
		prefix = prefix[:n-18]
	}
	return prefix + "-h" + hex.EncodeToString(sum[:8])
}

// maxButtonID keeps a Create Jira button's value well under Slack's 2,000.
const maxButtonID = 200

// cards renders each entry (an alert, or a group of repeats) as a section
// (with an alert's menu: Details, and Close… until it is closed; once
// closed, how and by whom), then its buttons, or its Jira issue in their
// place.
func cards(v DigestView, states map[string]AlertState, closedStyle int) []slack.Block {
	var out []slack.Block
	for _, e := range entries(v.Alerts, v.Groups) {
		if e.group != nil {
			out = append(out, groupBlocks(v, *e.group, e.alerts, states, closedStyle)...)
			continue
		}
		a := e.alerts[0]
		key := alertKey(a)
		st := states[key]
		text := card(v, a)
		if rel := relatedText(v.Related[key], relatedOnCard, false); rel != "" {
			text += "\n" + rel
		}
		if er, ok := v.Earlier[key]; ok {
			text += "\n" + earlierText(er)
		}
		if st.Closed != nil {
			text += "\n" + digestClosedText(*st.Closed, closedStyle)
		} else if st.Reopened != nil {
			text += "\n" + ReopenedText(*st.Reopened)
		}
		sec := section("alert:"+key, text)
		if m := alertMenu(a, st.Closed == nil); m != nil {
			sec.Accessory = slack.NewAccessory(m)
		}
		out = append(out, sec)
		if st.Filed != nil {
			out = append(out, context("filed:"+key, issueText(*st.Filed, st.Jira)))
			continue
		}
		if act := actions(a, !v.NoJira); act != nil {
			out = append(out, act)
		}
	}
	return out
}

// How much of a close a digest entry tells: a full message keeps Slack's
// size limit by dropping the comments, then the reasons.
const (
	closedFull      = iota // reason and comment (cut to 100 characters)
	closedNoComment        // reason, no comment
	closedShort            // classification and who
)

func digestClosedText(c Closed, style int) string {
	switch style {
	case closedFull:
		c.Comment = Cut(Clean(c.Comment), 100)
	case closedNoComment:
		c.Comment = ""
	default:
		c.Comment, c.Reason = "", ""
	}
	return ClosedText(c)
}

func card(in DigestView, a source.Alert) string {
	title := CutEscaped(Clean(a.Title), 150)
	if title == "" {
		title = "(untitled alert)"
	}
	lines := []string{
		fmt.Sprintf("%s *%s*", SeverityLabel(a.Severity), title),
		fmt.Sprintf("*%s* · %s UTC", CutEscaped(Clean(a.Tenant), 40), utc(a.Time)) + digestState(a),
	}
	var facts []string
	if u := a.User(); u != "" {
		facts = append(facts, "User: "+CutEscaped(Clean(u), 80))
	}
	for i, ip := range a.IPs() {
		if i == 2 {
			facts = append(facts, fmt.Sprintf("+%d more IPs", len(a.IPs())-2))
			break
		}
		s := "IP: " + CutEscaped(Clean(ip), 45)
		if rep, ok := in.Reputation[ip]; ok {
			s += fmt.Sprintf(" (AbuseIPDB %d%%", rep.Score)
			if rep.Tor {
				s += ", Tor"
			}
			s += ")"
		}
		facts = append(facts, s)
	}
	if c := a.Country(); c != "" {
		facts = append(facts, "Country: "+CutEscaped(Clean(c), 10))
	}
	if len(facts) > 0 {
		lines = append(lines, strings.Join(facts, " · "))
	}
	return Cut(strings.Join(lines, "\n"), cardChars)
}

func actions(a source.Alert, jira bool) *slack.ActionBlock {
	return entryActions(a, createButton(a), "Open in Defender", jira)
}

// entryActions are a digest entry's buttons: Create Jira (create, when Jira
// is on and the button could be made) and a link to lead in the portal.
func entryActions(lead source.Alert, create *slack.ButtonBlockElement, openText string, jira bool) *slack.ActionBlock {
	var elems []slack.BlockElement
	if jira && create != nil {
		elems = append(elems, create)
	}
	if u := SafeURL(lead.URL); u != "" {
		open := slack.NewButtonBlockElement("open:"+alertKey(lead), "open", slack.NewTextBlockObject(slack.PlainTextType, openText, true, false))
		open.URL = u
		elems = append(elems, open)
	}
	if len(elems) == 0 {
		return nil
	}
	return slack.NewActionBlock("actions:"+alertKey(lead), elems...)
}

// createButton is an alert's Create Jira button; nil when its ids are too
// long for a button value.
func createButton(a source.Alert) *slack.ButtonBlockElement {
	return jiraButton(a, ButtonValue{Tenant: a.Tenant, AlertID: a.ID}, "Create Jira")
}

// jiraButton is a Create Jira button carrying v, named after lead; nil
// when the ids are too long for a button value.
func jiraButton(lead source.Alert, v ButtonValue, text string) *slack.ButtonBlockElement {
	if len(lead.ID)+len(lead.Tenant) > maxButtonID {
		return nil
	}
	val, _ := json.Marshal(v)
	create := slack.NewButtonBlockElement(ActionCreateJira+":"+alertKey(lead), string(val), slack.NewTextBlockObject(slack.PlainTextType, text, true, false))
	create.Style = slack.StylePrimary
	return create
}

// alertMenu is a digest entry's overflow: Details, and Close… until the
// alert is closed. nil when the alert's ids cannot travel in a value.
func alertMenu(a source.Alert, closable bool) *slack.OverflowBlockElement {
	details := TriageValue{Op: OpDetails, Tenant: a.Tenant, AlertID: a.ID}
	if !source.ValidID(a.ID) || !tenantNameRE.MatchString(a.Tenant) || len(details.String()) > maxOptionValue {
		return nil
	}
	opts := []*slack.OptionBlockObject{slack.NewOptionBlockObject(details.String(), plain("Details"), nil)}
	if closable {
		closeV := TriageValue{Op: OpClose, Tenant: a.Tenant, AlertID: a.ID}
		opts = append(opts, slack.NewOptionBlockObject(closeV.String(), plain("Close…"), nil))
	}
	return slack.NewOverflowBlockElement(ActionMenu+":"+alertKey(a), opts...)
}

// Filed is what replaces an alert's buttons once its issue exists.
type Filed struct {
	Key, URL string
	By       string // Slack user ID
}

var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)

// FiledBlocks rewrites a digest message: the actions of every alert in
// filed become "KEY filed by @user", and every block gets a fresh block_id
// (version) so Slack redraws it.
func FiledBlocks(blocks []slack.Block, filed map[string]Filed, version string) []slack.Block {
	out := make([]slack.Block, 0, len(blocks))
	for _, b := range blocks {
		id := baseID(b.ID())
		if strings.HasPrefix(id, "actions:") {
			if f, ok := filed[strings.TrimPrefix(id, "actions:")]; ok {
				out = append(out, context("filed:"+strings.TrimPrefix(id, "actions:")+"~"+version, filedText(f)))
				continue
			}
		}
		out = append(out, withID(b, id+"~"+version))
	}
	return out
}

func filedText(f Filed) string {
	key := Escape(Cut(Clean(f.Key), 40))
	if u := SafeURL(f.URL); u != "" {
		key = "<" + u + "|" + key + ">"
	}
	by := ""
	if slackUserID.MatchString(f.By) {
		by = " filed by <@" + f.By + ">"
	}
	return ":white_check_mark: " + key + by
}

// AlertKeyOf returns the key FiledBlocks uses for an alert.
func AlertKeyOf(tenant, alertID string) string {
	return alertKey(source.Alert{Tenant: tenant, ID: alertID})
}

// PendingAlerts lists the alert keys of a message that still have a
// Create Jira button.
func PendingAlerts(blocks []slack.Block) []string {
	var out []string
	for _, b := range blocks {
		if id := baseID(b.ID()); strings.HasPrefix(id, "actions:") {
			out = append(out, strings.TrimPrefix(id, "actions:"))
		}
	}
	return out
}

// ButtonsOf returns the Create Jira button values of a message by alert key.
func ButtonsOf(blocks []slack.Block) map[string]ButtonValue {
	out := map[string]ButtonValue{}
	for _, b := range blocks {
		ab, ok := b.(*slack.ActionBlock)
		if !ok {
			continue
		}
		for _, e := range ab.Elements.ElementSet {
			if btn, ok := e.(*slack.ButtonBlockElement); ok && strings.HasPrefix(btn.ActionID, ActionCreateJira+":") {
				if v, err := ParseButtonValue(btn.Value); err == nil {
					out[strings.TrimPrefix(btn.ActionID, ActionCreateJira+":")] = v
				}
			}
		}
	}
	return out
}

func baseID(id string) string {
	base, _, _ := strings.Cut(id, "~")
	return base
}

func withID(b slack.Block, id string) slack.Block {
	switch b := b.(type) {
	case *slack.SectionBlock:
		c := *b
		c.BlockID = id
		return &c
	case *slack.ContextBlock:
		c := *b
		c.BlockID = id
		return &c
	case *slack.HeaderBlock:
		c := *b
		c.BlockID = id
		return &c
	case *slack.ActionBlock:
		c := *b
		c.BlockID = id
		return &c
	case *slack.DividerBlock:
		c := *b
		c.BlockID = id
		return &c
	}
	return b
}

// earlierText links the done issue an entry repeats: "↩️ Repeats of
// SEC-12 (Done: Fixed); Create Jira files a new issue".
func earlierText(e Earlier) string {
	key := Escape(Cut(Clean(e.Key), 40))
	if u := SafeURL(e.URL); u != "" {
		key = "<" + u + "|" + key + ">"
	}
	status := CutEscaped(Clean(e.Status), 60)
	if status == "" {
		status = "done"
	}
	if r := CutEscaped(Clean(e.Resolution), 60); r != "" && !strings.EqualFold(r, status) {
		status += ": " + r
	}
	return fmt.Sprintf(":leftwards_arrow_with_hook: earlier: %s, %s — a new issue follows these repeats", key, status)
}
