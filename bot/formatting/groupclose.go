package formatting

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/soc/mcasbot/source"
)

// A group of repeats' menu, close and details (issue #11): Details lists
// the group's alerts, each openable; Close… closes every open one with one
// MCAS call; the card says how much of the group is closed, and how.

// groupMenu is a group's overflow: Details (its alerts) and, while any of
// them is open, Close… for all of them. nil when the lead's ids cannot
// travel in a value.
func groupMenu(lead source.Alert, closable bool) *slack.OverflowBlockElement {
	details := TriageValue{Op: OpDetails, Tenant: lead.Tenant, AlertID: lead.ID, Group: true}
	if !source.ValidID(lead.ID) || !tenantNameRE.MatchString(lead.Tenant) || len(details.String()) > maxOptionValue {
		return nil
	}
	opts := []*slack.OptionBlockObject{slack.NewOptionBlockObject(details.String(), plain("Details"), nil)}
	if closable {
		closeV := TriageValue{Op: OpClose, Tenant: lead.Tenant, AlertID: lead.ID, Group: true}
		opts = append(opts, slack.NewOptionBlockObject(closeV.String(), plain("Close…"), nil))
	}
	return slack.NewOverflowBlockElement(ActionMenu+":"+alertKey(lead), opts...)
}

// groupCloses are the closes of a group's alerts, in the group's order.
func groupCloses(as []source.Alert, states map[string]AlertState) []Closed {
	var out []Closed
	for _, a := range as {
		if c := states[alertKey(a)].Closed; c != nil {
			out = append(out, *c)
		}
	}
	return out
}

// GroupClosedLine says how much of a group of n alerts is closed, and how:
// "✅ all 7 closed as benign (confirmed with end user) by @carol",
// "✅ 3 of 7 closed as …", or each way with its count when they were
// closed differently. "" when none is.
func GroupClosedLine(cs []Closed, n int) string { return groupClosedText(cs, n, closedFull) }

func groupClosedText(cs []Closed, n, style int) string {
	if len(cs) == 0 {
		return ""
	}
	count := fmt.Sprintf("%d of %d", len(cs), n)
	if len(cs) >= n {
		count = fmt.Sprintf("all %d", n)
	}
	return ":white_check_mark: " + count + " " + closedSummary(cs, style)
}

// ClosedSummary says how alerts were closed: "closed as benign (…) by
// @carol" when alike, else "closed: 5 closed as benign … · 2 resolved in
// Defender by erin@contoso.com".
func ClosedSummary(cs []Closed) string { return closedSummary(cs, closedFull) }

// maxCloseWays bounds the different closes a summary names.
const maxCloseWays = 3

func closedSummary(cs []Closed, style int) string {
	type way struct {
		words string
		n     int
	}
	var ways []way
	for _, c := range cs {
		c.At = time.Time{} // each alert closed elsewhere has its own time
		w := strings.TrimPrefix(digestClosedText(c, style), ":white_check_mark: ")
		w = strings.ToLower(w[:1]) + w[1:]
		found := false
		for i := range ways {
			if ways[i].words == w {
				ways[i].n++
				found = true
			}
		}
		if !found {
			ways = append(ways, way{words: w, n: 1})
		}
	}
	if len(ways) == 1 {
		return ways[0].words
	}
	var parts []string
	for i, w := range ways {
		if i == maxCloseWays {
			rest := 0
			for _, x := range ways[i:] {
				rest += x.n
			}
			parts = append(parts, fmt.Sprintf("%d closed otherwise", rest))
			break
		}
		parts = append(parts, fmt.Sprintf("%d %s", w.n, w.words))
	}
	return "closed: " + strings.Join(parts, " · ")
}

// GroupAlreadyClosedText tells an analyst a group has nothing left to
// close, and how its alerts were closed.
func GroupAlreadyClosedText(cs []Closed, n int) string {
	s := ":information_source: Nothing left to close: " + strings.TrimPrefix(GroupClosedLine(cs, n), ":white_check_mark: ")
	if !strings.HasSuffix(s, "\"") {
		s += "."
	}
	return s
}

// GroupTitle names a group in plain text: "Activity from a Tor IP address
// — bob.smith@contoso.com".
func GroupTitle(g DigestGroup, as []source.Alert) string {
	title := ""
	if len(as) > 0 {
		title = Clean(as[0].Title)
	}
	if title == "" {
		title = "(untitled alert)"
	}
	if v := Clean(g.Value); v != "" {
		title += " — " + v
	}
	return title
}

// groupModalText heads a group's Close… form: "Close 7 alerts: …", the
// tenant, and what is left out. title is escaped already.
func groupModalText(t CloseTarget, title string) string {
	s := fmt.Sprintf("*Close %d %s: %s*\n%s · ", t.Group, plural(t.Group, "alert", "alerts"), title, CutEscaped(Clean(t.Tenant), 40))
	if t.Open > 0 && t.Open < t.Group {
		closed := t.Group - t.Open
		return s + fmt.Sprintf("the %d still open are closed with %s; the %d already closed %s left out.", t.Open, closeCalls(t.Open), closed, plural(closed, "is", "are"))
	}
	return s + fmt.Sprintf("every alert of the group is closed with %s (first: `%s`).", closeCalls(t.Group), Escape(t.AlertID))
}

// groupModalButtons are a group form's title and submit button (at most
// 24 characters each).
func groupModalButtons(t CloseTarget) (title, submit string) {
	title = fmt.Sprintf("Close %d %s", t.Group, plural(t.Group, "alert", "alerts"))
	submit = title
	if t.Open > 0 && t.Open < t.Group {
		submit = fmt.Sprintf("Close %d open", t.Open)
	}
	return title, submit
}

// GroupDetails lists a group's alerts (time, severity, user, IP, id, and
// how each was closed) with a "Details for…" menu that opens any one's
// card, as an ephemeral message.
func GroupDetails(g DigestGroup, as []source.Alert, states map[string]AlertState) *slack.WebhookMessage {
	first, last := GroupSpan(as)
	title := CutEscaped(GroupTitle(g, as), 200)
	head := fmt.Sprintf("*×%d %s*\n*%s* · first %s, last %s UTC", len(as), title, CutEscaped(Clean(g.Tenant), 40), utc(first), utc(last))
	if p := Clean(g.Policy); p != "" && len(as) > 0 && p != Clean(as[0].Title) {
		head += " · policy: " + CutEscaped(p, 100)
	}
	if line := groupClosedText(groupCloses(as, states), len(as), closedNoComment); line != "" {
		head += "\n" + line
	}
	blocks := []slack.Block{section("group-head", Cut(head, MaxSectionText))}
	sel := detailsSelectOf("Details for…", as, groupOption)
	// The lines share the message's budget with the menu's options.
	budget := messageBudget - utf8.RuneCountInString(head) - 500
	if sel != nil {
		for _, o := range sel.Elements.ElementSet[0].(*slack.SelectBlockElement).Options {
			budget -= optionChars(o)
		}
	}
	var chunk []string
	chunkChars, shown := 0, 0
	flush := func() {
		if len(chunk) > 0 {
			blocks = append(blocks, section(fmt.Sprintf("group-alerts-%d", len(blocks)), strings.Join(chunk, "\n")))
			chunk, chunkChars = nil, 0
		}
	}
	for _, a := range as {
		line := groupLine(a, states[alertKey(a)])
		n := utf8.RuneCountInString(line) + 1
		if budget -= n; budget < 0 || len(blocks) >= MaxBlocks-4 {
			break
		}
		if chunkChars+n > MaxSectionText {
			flush()
		}
		chunk, chunkChars = append(chunk, line), chunkChars+n
		shown++
	}
	flush()
	if left := len(as) - shown; left > 0 {
		note := fmt.Sprintf("… and %d more", left)
		if len(as) <= 100 {
			note += ": every alert is in the menu below"
		} else {
			note += "; the menu below holds the first 100"
		}
		blocks = append(blocks, context("group-more", note+"."))
	}
	if sel != nil {
		blocks = append(blocks, sel)
	}
	fallback := fmt.Sprintf("%d alerts of %s in %s", len(as), GroupTitle(g, as), Clean(g.Tenant))
	return &slack.WebhookMessage{ResponseType: slack.ResponseTypeEphemeral, Text: Escape(Cut(fallback, 300)), Blocks: &slack.Blocks{BlockSet: blocks}}
}

// groupLine is one alert of a group's list: "• 2026-11-24 06:40 · 🔴 high ·
// bob.smith@contoso.com · 185.220.101.4 · `7e00…`", and its close.
func groupLine(a source.Alert, st AlertState) string {
	parts := []string{utc(a.Time), SeverityLabel(a.Severity)}
	if u := a.User(); u != "" {
		parts = append(parts, CutEscaped(Clean(u), 60))
	}
	if ips := a.IPs(); len(ips) > 0 {
		ip := CutEscaped(Clean(ips[0]), 45)
		if len(ips) > 1 {
			ip += fmt.Sprintf(" +%d", len(ips)-1)
		}
		parts = append(parts, ip)
	}
	parts = append(parts, "`"+Escape(Cut(a.ID, 64))+"`")
	line := "• " + strings.Join(parts, " · ")
	if st.Closed != nil {
		c := *st.Closed
		c.Comment, c.Reason = "", ""
		line += " · " + ClosedText(c)
	}
	return line
}

// groupOption is a group alert's "Details for…" choice: time, severity,
// user and IP (the title is the group's).
func groupOption(a source.Alert) *slack.OptionBlockObject {
	parts := []string{a.Time.UTC().Format("01-02 15:04"), a.Severity.String()}
	if u := a.User(); u != "" {
		parts = append(parts, Clean(u))
	}
	if ips := a.IPs(); len(ips) > 0 {
		parts = append(parts, Clean(ips[0]))
	}
	return detailsOption(a, strings.Join(parts, " · "))
}
