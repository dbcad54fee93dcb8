package mcasfake

import (
	"fmt"
	"math/rand/v2"
	"time"
)

type template struct {
	title, policy, desc, app string
	severity                 int
}

var templates = []template{
	{"Impossible travel activity", "Impossible travel", `<p>The user <b>%[1]s</b> signed in from %[3]s and from %[4]s within 40 minutes.</p>__siteIcon__<br>Check the sign-in logs.`, "Microsoft 365", 1},
	{"Leaked credentials", "Leaked credentials", `<p>Credentials of %[1]s were found in a public leak.</p>`, "Microsoft Entra ID", 2},
	{"Activity from a Tor IP address", "Activity from anonymous IP addresses", `<p>%[1]s performed an activity from the Tor exit node %[2]s.</p>`, "Microsoft Exchange Online", 2},
	{"Mass download by a single user", "Mass download", `<p>%[1]s downloaded 1,432 files from SharePoint in 5 minutes.</p>`, "Microsoft SharePoint Online", 1},
	{"Suspicious inbox forwarding", "Suspicious inbox forwarding", `<p>%[1]s created a rule forwarding all mail to an external address.</p>`, "Microsoft Exchange Online", 1},
	{"Ransomware activity", "Ransomware activity", `<p>%[1]s uploaded 210 files with the extension <code>.locked</code>.</p>`, "Microsoft OneDrive for Business", 2},
	{"Unusual file share activity", "Unusual file share activity", `<p>%[1]s shared 38 files with external users.</p>`, "Box", 0},
	{"Activity from infrequent country", "Activity from infrequent country", `<p>%[1]s signed in from %[3]s for the first time.</p>`, "Microsoft 365", 0},
	{"Multiple failed login attempts", "Multiple failed login attempts", `<p>24 failed sign-ins for %[1]s from %[2]s.</p>`, "Microsoft Entra ID", 3},
}

var (
	users     = []string{"alice@%s.com", "bob.smith@%s.com", "carol.j@%s.com", "dave@%s.com", "erin.ops@%s.com"}
	ips       = []string{"185.220.101.4", "45.155.205.233", "203.0.113.17", "10.20.30.40", "2a02:c207:3009:9999::1", "91.240.118.172", "104.28.55.12", "192.168.1.20"}
	countries = []string{"NL", "RU", "BR", "US", "DE", "CN", "NG"}
	cities    = map[string]string{"NL": "Amsterdam", "RU": "Moscow", "BR": "São Paulo", "US": "Seattle", "DE": "Berlin", "CN": "Shanghai", "NG": "Lagos"}
)

// homeIP keeps each sample tenant to its own public addresses, as real
// customers rarely share addresses: fabrikam uses one of each pair below,
// every other tenant the other. Only TorIP (and the private and reserved
// addresses, which never correlate) appear in both.
func homeIP(tenant, ip string) string {
	pairs := map[string]string{"45.155.205.233": "91.240.118.172", "104.28.55.12": "2a02:c207:3009:9999::1"}
	if tenant == "fabrikam" {
		if other, ok := pairs[ip]; ok {
			return other
		}
		return ip
	}
	for a, b := range pairs {
		if ip == b {
			return a
		}
	}
	return ip
}

// Generate makes n realistic alerts for tenant, newest at now and spread
// back over span. Same seed, same alerts.
func Generate(tenant string, n int, now time.Time, span time.Duration, seed uint64) []Alert {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([]Alert, 0, n)
	for i := 0; i < n; i++ {
		t := templates[r.IntN(len(templates))]
		user := fmt.Sprintf(users[r.IntN(len(users))], tenant)
		ip := homeIP(tenant, ips[r.IntN(len(ips))])
		c1, c2 := countries[r.IntN(len(countries))], countries[r.IntN(len(countries))]
		ts := now.Add(-time.Duration(float64(span) * float64(i) / float64(max(n, 1)))).UnixMilli()
		id := fmt.Sprintf("%08x%016x", uint32(seed), uint64(ts)^uint64(i))
		out = append(out, Alert{
			ID: id, Timestamp: ts, Title: t.title, SeverityValue: t.severity,
			Description: fmt.Sprintf(t.desc, user, ip, c1, c2),
			URL:         fmt.Sprintf("https://%s.portal.cloudappsecurity.com/#/alerts/%s", tenant, id),
			ThreatScore: 20 + r.IntN(80),
			Entities: []Entity{
				{Type: "account", ID: map[string]any{"id": user, "saas": 11161, "inst": 0}, Label: user, PA: user, EM: user},
				{Type: "ip", ID: ip, Label: ip},
				{Type: "country", ID: c1, Label: c1},
				{Type: "service", ID: 11161, Label: t.app},
				{Type: "policyRule", ID: fmt.Sprintf("%024x", r.Uint64()), Label: t.policy, PolicyType: "ANOMALY_DETECTION"},
			},
			Evidence: []any{map[string]any{"text": "Sign-in from " + cities[c1]}},
		})
	}
	return out
}

// GenerateActivities makes n activities for tenant from the sample IPs.
func GenerateActivities(tenant string, n int, now time.Time, span time.Duration, seed uint64) []Activity {
	r := rand.New(rand.NewPCG(seed, 0xac7))
	descs := []string{"Log on", "Download file: report-Q3.xlsx", "Create inbox rule", "Failed log on (Failure message: Invalid password)", "Share file externally", "Run command: Get-MailboxPermission"}
	apps := []string{"Microsoft Exchange Online", "Microsoft SharePoint Online", "Microsoft Entra ID", "Box"}
	out := make([]Activity, 0, n)
	for i := 0; i < n; i++ {
		c := countries[r.IntN(len(countries))]
		a := Activity{
			ID:          fmt.Sprintf("%024x", r.Uint64()),
			Timestamp:   now.Add(-time.Duration(float64(span) * float64(i) / float64(max(n, 1)))).UnixMilli(),
			AppName:     apps[r.IntN(len(apps))],
			AppID:       11161,
			Description: descs[r.IntN(len(descs))],
			Severity:    "INFO",
		}
		a.Device.ClientIP = homeIP(tenant, ips[r.IntN(len(ips))])
		a.Location.CountryCode = c
		a.Location.City = cities[c]
		a.User.UserName = fmt.Sprintf(users[r.IntN(len(users))], tenant)
		a.RawDataJSON = map[string]any{"Operation": "UserLoggedIn", "operation": "dup-key-differing-by-case"}
		out = append(out, a)
	}
	return out
}

// Hostile is an alert whose text tries every trick upstream text can play
// on Slack: mentions, disguised links, HTML, control characters.
func Hostile(tenant string, now time.Time) Alert {
	user := "mallory@" + tenant + ".com"
	return Alert{
		ID: "6660000000000000000000ff", Timestamp: now.UnixMilli(), SeverityValue: 2,
		Title:       "<!channel> Urgent: <https://evil.example/login|Reset your password> & win\u0007",
		Description: `<script>alert(1)</script><p>Click <a href="https://evil.example">here</a> &amp; <@U0ADMIN></p>__siteIcon__`,
		URL:         "https://" + tenant + ".portal.cloudappsecurity.com/#/alerts/6660000000000000000000ff",
		Entities: []Entity{
			{Type: "account", ID: user, Label: "<@U0ADMIN>", PA: user},
			{Type: "ip", ID: "185.220.101.4"},
		},
	}
}
