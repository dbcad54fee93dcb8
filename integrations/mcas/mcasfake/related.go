package mcasfake

import (
	"fmt"
	"strings"
	"time"
)

// Samples for related alerts (issue #11): an address both sample tenants
// see, a user who trips one policy again and again, and that user's guest
// account in another tenant.

// TorIP is the Tor exit node the sample tenants share (Hostile and
// Generate use it in every tenant too).
const TorIP = "185.220.101.4"

// TorIP2 is a second Tor exit the repeats come from.
const TorIP2 = "185.220.102.8"

// TorPolicy is the policy the repeats trip, and TorTitle their title.
const (
	TorPolicy = "Activity from anonymous IP addresses"
	TorTitle  = "Activity from a Tor IP address"
)

// Repeats is the grouping sample: user trips the Tor policy n times, the
// newest at now and each earlier one every before it, from TorIP and TorIP2
// in turn. Their ids start with prefix (hex digits, as MCAS ids are) and are
// unique per prefix and time.
func Repeats(tenant, user, prefix string, n int, now time.Time, every time.Duration) []Alert {
	out := make([]Alert, 0, n)
	for i := range n {
		ts := now.Add(-time.Duration(i) * every).UnixMilli()
		ip := []string{TorIP, TorIP2}[i%2]
		out = append(out, torAlert(tenant, user, fmt.Sprintf("%s%016x%02x", prefix, ts, i%256), ip, ts, 2))
	}
	return out
}

// Guest is the correlation sample: in tenant, an alert on the guest
// account of home (bob.smith@contoso.com is
// bob.smith_contoso.com#EXT#@fabrikam.onmicrosoft.com in fabrikam), from
// TorIP, with the given severity (0 low … 2 high).
func Guest(tenant, home, id string, at time.Time, severity int) Alert {
	local, domain, _ := strings.Cut(home, "@")
	guest := local + "_" + domain + "#EXT#@" + tenant + ".onmicrosoft.com"
	return torAlert(tenant, guest, id, TorIP, at.UnixMilli(), severity)
}

func torAlert(tenant, user, id, ip string, ts int64, severity int) Alert {
	return Alert{
		ID: id, Timestamp: ts, Title: TorTitle, SeverityValue: severity, ThreatScore: 80,
		Description: fmt.Sprintf(`<p>%s performed an activity from the Tor exit node %s.</p>`, user, ip),
		URL:         fmt.Sprintf("https://%s.portal.cloudappsecurity.com/#/alerts/%s", tenant, id),
		Entities: []Entity{
			{Type: "account", ID: map[string]any{"id": user, "saas": 11161, "inst": 0}, Label: user, PA: user, EM: user},
			{Type: "ip", ID: ip, Label: ip},
			{Type: "country", ID: "DE", Label: "DE"},
			{Type: "service", ID: 20893, Label: "Microsoft Exchange Online"},
			{Type: "policyRule", ID: "5f9a3c1e2b7d4a0012e4c001", Label: TorPolicy, PolicyType: "ANOMALY_DETECTION"},
		},
		Evidence: []any{map[string]any{"text": "Sign-in from a Tor exit node in Berlin"}},
	}
}
