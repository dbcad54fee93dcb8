package formatting

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/soc/mcasbot/source"
)

// Grouped repeats in the digest (issue #11): one entry for a tenant's
// alerts of one policy for one account or IP. Its buttons act on every
// alert in it; what became of them is drawn from their states like a
// single alert's.

// groupBlocks draws a group: its card (with its menu, and how much of it
// is closed), then its buttons, or its issue once every alert in it is filed.
func groupBlocks(v DigestView, g DigestGroup, as []source.Alert, states map[string]AlertState, closedStyle int) []slack.Block {
	lead := as[0]
	key := alertKey(lead)
	text := groupCard(v, g, as)
	var filed []Filed
	var jira *JiraStatus // of the first filed alert's issue
	keys := map[string]bool{}
	for _, a := range as {
		st := states[alertKey(a)]
		if st.Filed != nil {
			if len(filed) == 0 {
				jira = st.Jira
			}
			filed = append(filed, *st.Filed)
			keys[st.Filed.Key] = true
		}
	}
	if len(filed) > 0 && len(filed) < len(as) {
		text += fmt.Sprintf("\n:white_check_mark: %d of %d already filed as %s", len(filed), len(as), issueKeys(filed))
	}
	if rel := relatedText(v.Related[key], relatedOnCard, false); rel != "" {
		text += "\n" + rel
	}
	if er, ok := v.Earlier[key]; ok {
		text += "\n" + earlierText(er)
	}
	closed := groupCloses(as, states)
	if line := groupClosedText(closed, len(as), closedStyle); line != "" {
		text += "\n" + line
	}
	sec := section("alert:"+key, text)
	if m := groupMenu(lead, len(closed) < len(as)); m != nil {
		sec.Accessory = slack.NewAccessory(m)
	}
	out := []slack.Block{sec}
	if len(as) > 0 && len(filed) == len(as) {
		line := issueText(filed[0], jira)
		if len(keys) > 1 {
			line = ":white_check_mark: filed as " + issueKeys(filed)
		}
		return append(out, context("filed:"+key, line+fmt.Sprintf(" · all %d alerts", len(as))))
	}
	if act := groupActions(lead, len(as), !v.NoJira); act != nil {
		out = append(out, act)
	}
	return out
}

// issueKeys lists the distinct keys of filed, at most three.
func issueKeys(filed []Filed) string {
	var keys []string
	for _, f := range filed {
		k := Escape(Cut(Clean(f.Key), 40))
		if u := SafeURL(f.URL); u != "" {
			k = "<" + u + "|" + k + ">"
		}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) > 3 {
		return strings.Join(keys[:3], ", ") + fmt.Sprintf(" and %d more", len(keys)-3)
	}
	return strings.Join(keys, ", ")
}

// groupCard: "🔴 high ×7 *Activity from a Tor IP address* —
// bob.smith@contoso.com, first 01:12, last 06:40 UTC", then the tenant,
// day and policy, then what varies: the addresses of an account's group,
// the accounts of an address's group.
func groupCard(v DigestView, g DigestGroup, as []source.Alert) string {
	sev := as[0].Severity
	for _, a := range as {
		if a.Severity.Rank() > sev.Rank() {
			sev = a.Severity
		}
	}
	first, last := GroupSpan(as)
	title := CutEscaped(Clean(as[0].Title), 150)
	if title == "" {
		title = "(untitled alert)"
	}
	layout := "15:04"
	if first.UTC().Format("2006-01-02") != last.UTC().Format("2006-01-02") {
		layout = "01-02 15:04"
	}
	lines := []string{
		fmt.Sprintf("%s ×%d *%s* — %s, first %s, last %s UTC", SeverityLabel(sev), len(as), title, CutEscaped(Clean(g.Value), 80),
			first.UTC().Format(layout), last.UTC().Format(layout)),
	}
	second := fmt.Sprintf("*%s* · %s", CutEscaped(Clean(g.Tenant), 40), last.UTC().Format("2006-01-02"))
	if p := ProductName(as[0]); p != "" {
		second += " · " + Escape(p)
	}
	if p := Clean(g.Policy); p != "" && p != Clean(as[0].Title) {
		second += " · policy: " + CutEscaped(p, 100)
	}
	lines = append(lines, second)
	var facts []string
	if g.By == "ip" {
		facts = append(facts, ipFact(v, g.Value))
		users := distinct(as, func(a source.Alert) []string { return []string{a.User()} })
		if len(users) > 0 {
			facts = append(facts, "Users: "+listSome(users, 3, 40))
		}
	} else {
		ips := distinct(as, func(a source.Alert) []string { return a.IPs() })
		for i, ip := range ips {
			if i == 2 {
				facts = append(facts, fmt.Sprintf("+%d more IPs", len(ips)-2))
				break
			}
			facts = append(facts, ipFact(v, ip))
		}
	}
	if len(facts) > 0 {
		lines = append(lines, strings.Join(facts, " · "))
	}
	return Cut(strings.Join(lines, "\n"), cardChars)
}

// ipFact is "IP: 185.220.101.4 (AbuseIPDB 100%, Tor)".
func ipFact(v DigestView, ip string) string {
	s := "IP: " + CutEscaped(Clean(ip), 45)
	if rep, ok := v.Reputation[ip]; ok {
		s += fmt.Sprintf(" (AbuseIPDB %d%%", rep.Score)
		if rep.Tor {
			s += ", Tor"
		}
		s += ")"
	}
	return s
}

func distinct(as []source.Alert, values func(source.Alert) []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range as {
		for _, v := range values(a) {
			if k := strings.ToLower(v); v != "" && !seen[k] {
				seen[k] = true
				out = append(out, v)
			}
		}
	}
	return out
}

func listSome(vs []string, n, width int) string {
	var parts []string
	for i, v := range vs {
		if i == n {
			parts = append(parts, fmt.Sprintf("+%d more", len(vs)-n))
			break
		}
		parts = append(parts, CutEscaped(Clean(v), width))
	}
	return strings.Join(parts, ", ")
}

// groupActions are a group's Create Jira (one issue for all its alerts)
// and a link to its newest alert.
func groupActions(lead source.Alert, n int, jira bool) *slack.ActionBlock {
	create := jiraButton(lead, ButtonValue{Tenant: lead.Tenant, AlertID: lead.ID, Group: true}, fmt.Sprintf("Create Jira for all %d", n))
	return entryActions(lead, create, "Open newest in Defender", jira)
}

// GroupOf finds the group of a view that holds an alert, and its alerts in
// the view's order.
func GroupOf(v DigestView, tenant, alertID string) (DigestGroup, []source.Alert, bool) {
	for _, e := range entries(v.Alerts, v.Groups) {
		if e.group == nil || e.group.Tenant != tenant {
			continue
		}
		for _, a := range e.alerts {
			if a.ID == alertID {
				return *e.group, e.alerts, true
			}
		}
	}
	return DigestGroup{}, nil, false
}

// GroupSpan is a group's first and last alert times.
func GroupSpan(as []source.Alert) (first, last time.Time) {
	for i, a := range as {
		if i == 0 || a.Time.Before(first) {
			first = a.Time
		}
		if i == 0 || a.Time.After(last) {
			last = a.Time
		}
	}
	return first, last
}
