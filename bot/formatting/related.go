package formatting

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/correlation"
)

// Related alerts across tenants (issue #11): a line per address or account
// that other tenants' alerts carry too, with the command that shows them
// there. Slack cannot link a slash command, so the command is shown as
// code, ready to copy.

const (
	relatedOnCard    = 3 // lines per digest entry
	relatedInReply   = 8 // lines under a command's table
	crossTenantLines = 10
)

// relatedText is up to max lines of matches, then how many were left out.
func relatedText(ms []correlation.Match, max int, withFrom bool) string {
	var lines []string
	for i, m := range ms {
		if i == max {
			lines = append(lines, fmt.Sprintf("… and %d more in other tenants", len(ms)-max))
			break
		}
		lines = append(lines, relatedLine(m, withFrom))
	}
	return strings.Join(lines, "\n")
}

// relatedLine: ":link: *185.220.101.4* also seen in *fabrikam*: 3 alerts
// (2 high), newest 2 hours ago · `/mcas ip 185.220.101.4 tenant=fabrikam`".
func relatedLine(m correlation.Match, withFrom bool) string {
	s := ":link: *" + CutEscaped(Clean(m.Value), 80) + "*"
	if withFrom && m.From != "" {
		s += " (" + CutEscaped(Clean(m.From), 40) + ")"
	}
	s += " also seen in *" + CutEscaped(Clean(m.Tenant), 40) + "*: " + alertCount(m.Alerts, m.High)
	if !m.Newest.IsZero() {
		s += ", newest " + ago(m.Newest)
	}
	if cmd := relatedCommand(m); cmd != "" {
		s += " · `" + Escape(cmd) + "`"
	}
	return s
}

func alertCount(n, high int) string {
	s := fmt.Sprintf("%d %s", n, plural(n, "alert", "alerts"))
	if high > 0 {
		s += fmt.Sprintf(" (%d high)", high)
	}
	return s
}

// ago is a time every reader sees relative to their own now ("2 hours
// ago", kept current by Slack), with the UTC time as the fallback.
func ago(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{ago}|%s UTC>", t.Unix(), utc(t))
}

// relatedCommand is the /mcas command that shows a match's alerts or
// activity in its tenant, or "" when the value could not be typed as one.
func relatedCommand(m correlation.Match) string {
	q := m.Query
	if q == "" {
		q = m.Value
	}
	verb := "user"
	if m.Kind == correlation.IP {
		verb = "ip"
	}
	cmd := "/mcas " + verb + " " + q + " tenant=" + m.Tenant
	// Offer only what the parser takes back exactly.
	p := commands.Parser{Tenants: []string{m.Tenant}}
	req, err := p.Parse(strings.TrimPrefix(cmd, "/mcas "))
	if err != nil || commands.Name(req) != verb {
		return ""
	}
	return cmd
}

// windowText says a window in days or hours: "7 d", "36 h".
func windowText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d d", d/(24*time.Hour))
	}
	return fmt.Sprintf("%d h", (d+time.Hour-1)/time.Hour)
}

// crossTenantText is the digest parent's section on what alerts of several
// tenants in this run share.
func crossTenantText(ss []correlation.Shared) string {
	lines := []string{":link: *Cross-tenant* — seen in more than one tenant in this run:"}
	for i, s := range ss {
		if i == crossTenantLines {
			lines = append(lines, fmt.Sprintf("… and %d more", len(ss)-crossTenantLines))
			break
		}
		kind := "IP"
		if s.Kind == correlation.Account {
			kind = "Account"
		}
		var counts []string
		for _, t := range s.Tenants {
			counts = append(counts, fmt.Sprintf("%s %d", CutEscaped(Clean(t.Tenant), 40), t.Alerts))
		}
		lines = append(lines, fmt.Sprintf("• %s *%s*: %s", kind, CutEscaped(Clean(s.Value), 80), strings.Join(counts, " · ")))
	}
	return Cut(strings.Join(lines, "\n"), MaxSectionText)
}

// relatedBlock goes under an alerts table: what other tenants' alerts share
// with its rows.
func relatedBlock(r *commands.Related) slack.Block {
	if r == nil {
		return nil
	}
	if r.Note != "" {
		return context("related", ":information_source: "+Escape(r.Note))
	}
	if len(r.Matches) == 0 {
		return nil
	}
	head := fmt.Sprintf("*Related in other tenants* (alerts of the last %s):", windowText(r.Window))
	return section("related", Cut(head+"\n"+relatedText(r.Matches, relatedInReply, true), MaxSectionText))
}

// ipRelatedBlock says which tenants' alerts carry the looked-up address,
// and which tenants show activity from it.
func ipRelatedBlock(r commands.IPResult) slack.Block {
	if r.Related == nil {
		return nil
	}
	if r.Related.Note != "" {
		return context("related", ":information_source: "+Escape(r.Related.Note))
	}
	activity := map[string]bool{}
	for _, a := range r.Activities {
		activity[a.Tenant] = true
	}
	queried := map[string]bool{}
	for _, t := range r.Tenants {
		queried[t] = true
	}
	var lines []string
	seen := map[string]bool{}
	for i, m := range r.Related.Matches {
		if i == relatedInReply {
			lines = append(lines, fmt.Sprintf("… and %d more tenants", len(r.Related.Matches)-relatedInReply))
			break
		}
		seen[m.Tenant] = true
		s := "• *" + CutEscaped(Clean(m.Tenant), 40) + "*: " + alertCount(m.Alerts, m.High) + ", newest " + ago(m.Newest)
		if activity[m.Tenant] {
			s += "; activity below"
		}
		if !queried[m.Tenant] {
			if cmd := relatedCommand(m); cmd != "" {
				s += " · `" + Escape(cmd) + "`"
			}
		}
		lines = append(lines, s)
	}
	for _, t := range r.Tenants {
		if activity[t] && !seen[t] {
			seen[t] = true
			lines = append(lines, "• *"+CutEscaped(Clean(t), 40)+"*: no alerts with it; activity below")
		}
	}
	// One tenant's activity alone says nothing the table does not.
	if len(r.Related.Matches) == 0 && len(seen) < 2 {
		return nil
	}
	head := fmt.Sprintf(":link: *Seen in %d %s* (alerts of the last %s):", len(seen), plural(len(seen), "tenant", "tenants"), windowText(r.Related.Window))
	return section("related", Cut(head+"\n"+strings.Join(lines, "\n"), MaxSectionText))
}

// underTable moves the block with id from the message's blocks to the end
// of its table's attachment, where it reads as a footnote to the rows.
func underTable(msg *slack.WebhookMessage, id string) {
	if len(msg.Attachments) == 0 || msg.Blocks == nil {
		return
	}
	blocks := msg.Blocks.BlockSet
	for i, b := range blocks {
		if b.ID() == id {
			msg.Blocks.BlockSet = append(blocks[:i:i], blocks[i+1:]...)
			msg.Attachments[0].Blocks.BlockSet = append(msg.Attachments[0].Blocks.BlockSet, b)
			return
		}
	}
}

// plainIPRelated is the terminal form of ipRelatedBlock.
func plainIPRelated(b *strings.Builder, r commands.IPResult) {
	if r.Related == nil || (r.Related.Note == "" && len(r.Related.Matches) == 0) {
		return
	}
	if r.Related.Note != "" {
		fmt.Fprintf(b, "Related: %s\n", r.Related.Note)
		return
	}
	fmt.Fprintf(b, "Alerts with this address (last %s):\n", windowText(r.Related.Window))
	for _, m := range r.Related.Matches {
		line := fmt.Sprintf("  %s: %s, newest %s UTC", Clean(m.Tenant), alertCount(m.Alerts, m.High), utc(m.Newest))
		if !slices.Contains(r.Tenants, m.Tenant) {
			if cmd := relatedCommand(m); cmd != "" {
				line += " — " + cmd
			}
		}
		b.WriteString(line + "\n")
	}
}

// plainRelated is the terminal form of relatedBlock.
func plainRelated(b *strings.Builder, r *commands.Related) {
	if r == nil {
		return
	}
	if r.Note != "" {
		fmt.Fprintf(b, "Related: %s\n", r.Note)
		return
	}
	if len(r.Matches) == 0 {
		return
	}
	fmt.Fprintf(b, "Related in other tenants (alerts of the last %s):\n", windowText(r.Window))
	for _, m := range r.Matches {
		from := ""
		if m.From != "" {
			from = " (" + Clean(m.From) + ")"
		}
		line := fmt.Sprintf("  %s%s also seen in %s: %s, newest %s UTC", Clean(m.Value), from, Clean(m.Tenant), alertCount(m.Alerts, m.High), utc(m.Newest))
		if cmd := relatedCommand(m); cmd != "" {
			line += " — " + cmd
		}
		b.WriteString(line + "\n")
	}
}
