// Package filing turns an MCAS alert into exactly one Jira issue: it claims
// the alert in the store, looks for an issue already filed, builds the
// issue from the alert and its AbuseIPDB reports, creates it and records it.
package filing

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/source"
)

// Jira's limits.
const (
	maxSingleLine = 255
	maxParagraph  = 32767
)

// Fields maps alert facts to custom field ids ("" = not mapped, the fact
// goes into the description only).
type Fields struct {
	AlertURL, AlertSummary, AlertDescription, AffectedUser, IP, ReportedIPs string
}

// ParsePriorities reads "high=High,medium=Medium,low=Low,informational=Lowest"
// over the defaults.
func ParsePriorities(s string) (map[source.Severity]string, error) {
	out := map[source.Severity]string{
		source.SeverityHigh: "High", source.SeverityMedium: "Medium", source.SeverityLow: "Low", source.SeverityInformational: "Lowest",
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		sev, prio, ok := strings.Cut(part, "=")
		s, known := source.ParseSeverity(strings.TrimSpace(sev))
		if !ok || !known || strings.TrimSpace(prio) == "" {
			return nil, fmt.Errorf("priority mapping %q is not severity=Priority (severity: low, medium, high, informational)", part)
		}
		out[s] = strings.TrimSpace(prio)
	}
	return out, nil
}

// Mapping is how alerts become issues.
type Mapping struct {
	Project    string
	IssueType  string
	Priorities map[source.Severity]string
	Rules      []Rule
	Fields     Fields
}

// Label is the label that identifies an alert's issue.
func Label(alertID string) string { return "mcas-" + labelSafe(alertID) }

var labelBad = regexp.MustCompile(`[^A-Za-z0-9_.\-]+`)

func labelSafe(s string) string {
	return strings.Trim(labelBad.ReplaceAllString(s, "-"), "-")
}

var (
	emailRE = regexp.MustCompile(`[A-Za-z0-9._%+\-']+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)
	ipv4RE  = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}\b`)
	ipv6RE  = regexp.MustCompile(`\b[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}\b`)
)

// AffectedUser is the alert's account/user entity, else the first e-mail
// in its description.
func AffectedUser(a source.Alert) string {
	if u := a.User(); u != "" {
		return u
	}
	return emailRE.FindString(formatting.StripHTML(a.Description))
}

// IPs are the alert's IP entities, else the addresses in its description.
func IPs(a source.Alert) []netip.Addr {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	add := func(s string) {
		if addr, err := netip.ParseAddr(s); err == nil && addr.Zone() == "" {
			addr = addr.Unmap()
			if !seen[addr] {
				seen[addr] = true
				out = append(out, addr)
			}
		}
	}
	for _, s := range a.IPs() {
		add(s)
	}
	if len(out) == 0 {
		text := formatting.StripHTML(a.Description)
		for _, s := range ipv4RE.FindAllString(text, 10) {
			add(s)
		}
		for _, s := range ipv6RE.FindAllString(text, 10) {
			add(s)
		}
	}
	return out
}

// Reports are AbuseIPDB's answers per address; Notes say why one is missing.
type Reports struct {
	ByIP  map[netip.Addr]abuseipdb.Report
	Notes map[netip.Addr]string
}

// ReportText is one line per address for the reported-IPs field.
func ReportText(ips []netip.Addr, r Reports) string {
	var lines []string
	for _, ip := range ips {
		if rep, ok := r.ByIP[ip]; ok {
			lines = append(lines, reportLine(ip, rep))
			continue
		}
		note := r.Notes[ip]
		if note == "" {
			note = "not checked"
		}
		lines = append(lines, fmt.Sprintf("%s: %s", ip, note))
	}
	return strings.Join(lines, "\n")
}

func reportLine(ip netip.Addr, rep abuseipdb.Report) string {
	parts := []string{fmt.Sprintf("AbuseIPDB confidence %d%%", rep.Score), fmt.Sprintf("%d reports from %d users", rep.Reports, rep.DistinctUsers)}
	if rep.Tor {
		parts = append(parts, "Tor exit node")
	}
	hosts := rep.Hostnames
	if len(hosts) > 3 {
		hosts = hosts[:3]
	}
	for _, kv := range [][2]string{{"ISP", rep.ISP}, {"usage", rep.UsageType}, {"country", rep.Country}, {"domain", rep.Domain},
		{"hostnames", strings.Join(hosts, " ")}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+formatting.Clean(kv[1]))
		}
	}
	if !rep.LastReported.IsZero() {
		parts = append(parts, "last reported "+rep.LastReported.UTC().Format("2006-01-02 15:04")+" UTC")
	}
	parts = append(parts, "https://www.abuseipdb.com/check/"+ip.String())
	return ip.String() + ": " + strings.Join(parts, ", ")
}

// Filer is who clicked, for the issue's text.
type Filer struct{ ID, Name string }

// Build makes the Jira issue for an alert, with the priority d decided.
func (m Mapping) Build(a source.Alert, ips []netip.Addr, reps Reports, d Decision, by Filer, now time.Time) jira.Issue {
	title := formatting.Clean(a.Title)
	if title == "" {
		title = "(untitled alert)"
	}
	is := jira.Issue{
		Project:   m.Project,
		IssueType: m.IssueType,
		Summary:   formatting.Cut(fmt.Sprintf("[MCAS][%s] %s", formatting.Clean(a.Tenant), title), maxSingleLine),
		Priority:  d.Priority,
		Labels:    labels(a),
		Custom:    map[string]any{},
	}
	user := AffectedUser(a)
	ipList := make([]string, len(ips))
	for i, ip := range ips {
		ipList[i] = ip.String()
	}
	report := ReportText(ips, reps)
	desc := formatting.StripHTML(a.Description)
	set := func(id, value string, limit int) {
		if id != "" && value != "" {
			if limit == maxSingleLine {
				value = strings.Join(strings.Fields(value), " ")
			}
			is.Custom[id] = formatting.Cut(value, limit)
		}
	}
	set(m.Fields.AlertURL, formatting.SafeURL(a.URL), maxSingleLine)
	set(m.Fields.AlertSummary, title, maxSingleLine)
	// Paragraph fields are rendered as wiki markup, like the description.
	set(m.Fields.AlertDescription, jira.Escape(desc), maxParagraph)
	set(m.Fields.AffectedUser, formatting.Clean(user), maxSingleLine)
	set(m.Fields.IP, strings.Join(ipList, ", "), maxSingleLine)
	set(m.Fields.ReportedIPs, jira.Escape(report), maxParagraph)
	is.Description = formatting.Cut(m.description(a, title, desc, user, ipList, report, d, by, now), maxParagraph)
	return is
}

func labels(a source.Alert) []string {
	out := []string{"mcas", Label(a.ID)}
	if t := tenantLabel(a.Tenant); t != "" {
		out = append(out, t)
	}
	return out
}

// tenantLabel is the label naming an alert's tenant ("" when it cannot).
func tenantLabel(tenant string) string {
	if t := strings.ToLower(labelSafe(tenant)); t != "" && t != "mcas" {
		return formatting.Cut(t, 255)
	}
	return ""
}

func (m Mapping) description(a source.Alert, title, desc, user string, ips []string, report string, d Decision, by Filer, now time.Time) string {
	var b strings.Builder
	b.WriteString("h3. Defender for Cloud Apps alert\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "||%s|%s|\n", k, jira.Escape(v))
		}
	}
	// Our own values (a time, an id) need no escaping.
	rawRow := func(k, v string) { fmt.Fprintf(&b, "||%s|%s|\n", k, v) }
	row("Title", title)
	row("Tenant", formatting.Clean(a.Tenant))
	row("Severity", a.Severity.String())
	rawRow("Time (UTC)", a.Time.UTC().Format("2006-01-02 15:04:05"))
	row("Policy", formatting.Clean(a.Policy()))
	row("Affected user", formatting.Clean(user))
	row("IP addresses", strings.Join(ips, ", "))
	row("Country", formatting.Clean(a.Country()))
	row("Apps", formatting.Clean(strings.Join(a.Services(), ", ")))
	row("Alert ID", a.ID)
	graphRows(&b, a, row)
	if u := formatting.SafeURL(a.URL); u != "" {
		fmt.Fprintf(&b, "||Portal|%s|\n", jira.Link(portalText(a), u))
	}
	groupNotes(&b, d) // issue #9
	if desc != "" {
		fmt.Fprintf(&b, "\nh3. Description\n%s\n", jira.Escape(desc))
	}
	if len(a.Entities) > 0 {
		b.WriteString("\nh3. Entities\n||Type||Value||\n")
		ents := append([]source.Entity(nil), a.Entities...)
		sort.SliceStable(ents, func(i, j int) bool { return ents[i].Type < ents[j].Type })
		for _, e := range ents {
			v := e.Label
			for _, alt := range []string{e.UPN, e.Email, e.ID} {
				if v == "" {
					v = alt
				}
			}
			fmt.Fprintf(&b, "|%s|%s|\n", jira.Escape(formatting.Clean(e.Type)), jira.Escape(formatting.Clean(v)))
		}
	}
	if len(a.Evidence) > 0 {
		b.WriteString("\nh3. Evidence\n")
		for _, ev := range a.Evidence {
			fmt.Fprintf(&b, "* %s\n", jira.Escape(formatting.StripHTML(ev)))
		}
	}
	if m.Fields.ReportedIPs == "" && report != "" {
		b.WriteString("\nh3. IP reputation (AbuseIPDB)\n")
		for _, line := range strings.Split(report, "\n") {
			fmt.Fprintf(&b, "* %s\n", jira.Escape(line))
		}
	}
	name := formatting.Clean(by.Name)
	if name == "" {
		name = by.ID
	}
	fmt.Fprintf(&b, "\n_Filed from Slack by %s (%s) with mcasbot on %s UTC._\n", jira.Escape(name), jira.Escape(by.ID), now.UTC().Format("2006-01-02 15:04"))
	return b.String()
}
