package defenderfake

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
)

// Samples are mcasfake's, as Defender XDR serves the same alerts through
// Graph, so a sandbox tenant tells the same story through either API: a
// Tor exit node (mcasfake.TorIP), repeats of one policy for grouping, a
// guest account shared with another tenant for correlation, and hostile
// text. Ids are kept from the MCAS sample: Graph's relation between an
// MCAS _id and an alert's id is not documented, and a sample keeps its
// name in both fakes.

// FromMCAS is an MCAS sample alert as Graph serves it in directory dir:
// its entities become evidence, its resolution Graph's state.
func FromMCAS(a mcasfake.Alert, dir string) Alert {
	at := time.UnixMilli(a.Timestamp).UTC()
	out := Alert{
		Type: "#microsoft.graph.security.alert", ID: a.ID, ProviderAlertID: a.ID, IncidentID: incidentID(a.ID),
		Severity: Ptr([]string{"low", "medium", "high", "informational"}[max(0, min(a.SeverityValue, 3))]), Status: Ptr("new"),
		ServiceSource: Ptr("microsoftDefenderForCloudApps"), DetectionSource: "cloudAppSecurity", ProductName: "Microsoft Defender for Cloud Apps",
		DetectorID: "mcas-" + policyOf(a), TenantID: dir, Title: a.Title, Description: a.Description, Category: categoryOf(a.Title),
		RecommendedActions: "Review the user's activity in Defender for Cloud Apps.", MitreTechniques: []string{"T1078"},
		CreatedDateTime: Time(at), LastUpdateDateTime: Time(at), FirstActivity: Time(at.Add(-5 * time.Minute)), LastActivity: Time(at),
		Comments: []Comment{}, SystemTags: []string{},
	}
	out.AlertWebURL = fmt.Sprintf("https://security.microsoft.com/alerts/%s?tid=%s", a.ID, dir)
	out.IncidentWebURL = fmt.Sprintf("https://security.microsoft.com/incidents/%s?tid=%s", out.IncidentID, dir)
	if a.ResolutionStatusValue != 0 {
		class := map[int]string{3: "falsePositive", 4: "informationalExpectedActivity", 5: "truePositive"}[a.ResolutionStatusValue]
		out.Status = Ptr("resolved")
		if class != "" {
			out.Classification, out.Determination = Ptr(class), Ptr("other")
		}
		out.ResolvedDateTime = Ptr(Time(at.Add(time.Hour)))
		if a.HandledByUser != "" {
			out.AssignedTo = Ptr(a.HandledByUser)
		}
	}
	country, city := "", ""
	for _, e := range a.Entities {
		if e.Type == "country" {
			country = fmt.Sprint(e.ID)
		}
	}
	for _, ev := range a.Evidence {
		if m, ok := ev.(map[string]any); ok {
			if s, ok := m["text"].(string); ok {
				if _, c, ok := strings.Cut(s, " in "); ok {
					city = c
				} else if _, c, ok := strings.Cut(s, "from "); ok {
					city = c
				}
			}
		}
	}
	for _, e := range a.Entities {
		switch e.Type {
		case "account", "user":
			upn := firstOf(e.PA, e.EM, e.Label)
			out.Evidence = append(out.Evidence, UserEvidence(upn, at))
		case "ip":
			out.Evidence = append(out.Evidence, IPEvidence(fmt.Sprint(e.ID), country, city, at))
		case "service":
			var id int64
			fmt.Sscan(fmt.Sprint(e.ID), &id)
			out.Evidence = append(out.Evidence, CloudAppEvidence(id, e.Label, at))
		}
	}
	return out
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func policyOf(a mcasfake.Alert) string {
	for _, e := range a.Entities {
		if e.Type == "policyRule" {
			return fmt.Sprint(e.ID)
		}
	}
	return "policy"
}

func categoryOf(title string) string {
	switch {
	case strings.Contains(title, "Tor"), strings.Contains(title, "travel"), strings.Contains(title, "country"):
		return "InitialAccess"
	case strings.Contains(title, "download"), strings.Contains(title, "share"), strings.Contains(title, "forwarding"):
		return "Exfiltration"
	case strings.Contains(title, "Ransomware"):
		return "Impact"
	}
	return "CredentialAccess"
}

func incidentID(id string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return fmt.Sprint(1000 + h.Sum32()%90000)
}

func convert(as []mcasfake.Alert, dir string) []Alert {
	out := make([]Alert, len(as))
	for i, a := range as {
		out[i] = FromMCAS(a, dir)
	}
	return out
}

// Generate is mcasfake.Generate's alerts as Graph serves them; every
// fourth has a sign-in session besides (an evidence type with no entity).
func Generate(tenant, dir string, n int, now time.Time, span time.Duration, seed uint64) []Alert {
	out := convert(mcasfake.Generate(tenant, n, now, span, seed), dir)
	for i := range out {
		if i%4 == 0 {
			at := out[i].Created()
			out[i].Evidence = append(out[i].Evidence, LogonSessionEvidence(out[i].upns()[0], "Edge 126.0", "Windows 11", at))
		}
	}
	return out
}

// Repeats is mcasfake.Repeats as Graph serves them: user trips the Tor
// policy n times, from mcasfake.TorIP and TorIP2 in turn.
func Repeats(tenant, dir, user, prefix string, n int, now time.Time, every time.Duration) []Alert {
	return convert(mcasfake.Repeats(tenant, user, prefix, n, now, every), dir)
}

// Guest is mcasfake.Guest as Graph serves it: an alert on home's guest
// account in tenant, from the Tor exit node, which correlation links to
// home's own tenant.
func Guest(tenant, dir, home, id string, at time.Time, severity int) Alert {
	return FromMCAS(mcasfake.Guest(tenant, home, id, at, severity), dir)
}

// Hostile is mcasfake.Hostile as Graph serves it, with a hostile URL,
// unknown evidence types and null enums besides.
func Hostile(tenant, dir string, now time.Time) Alert {
	a := FromMCAS(mcasfake.Hostile(tenant, now), dir)
	a.Classification, a.Determination, a.AssignedTo = nil, nil, nil
	a.Evidence = append(a.Evidence,
		URLEvidence("https://evil.example/login?<@U0ADMIN>|Reset", now),
		UnknownEvidence("kubernetesPodEvidence", now, map[string]any{"name": "<!channel> pod", "namespace": map[string]any{"name": "default"}}),
		UnknownEvidence("someFutureEvidence", now, map[string]any{"weird": []any{1, "x", nil}}))
	return a
}

// Identity is a Defender for Identity alert (serviceSource
// microsoftDefenderForIdentity) on user, for tenants that read more than
// Defender for Cloud Apps.
func Identity(dir, user, id string, at time.Time) Alert {
	local, _, _ := strings.Cut(user, "@")
	return Alert{
		Type: "#microsoft.graph.security.alert", ID: id, ProviderAlertID: id, IncidentID: incidentID(id),
		Severity: Ptr("low"), Status: Ptr("inProgress"), AssignedTo: Ptr("erin.ops@" + domainOf(user)),
		ServiceSource: Ptr("microsoftDefenderForIdentity"), DetectionSource: "azureAdIdentityProtection", ProductName: "Microsoft Defender for Identity",
		TenantID: dir, Title: "Suspected brute-force attack (LDAP)", Category: "CredentialAccess", MitreTechniques: []string{"T1110"},
		Description:     fmt.Sprintf("<p>%s's account was the target of 42 failed LDAP sign-ins from <b>WKS-%s-07</b>.</p>", local, strings.ToUpper(local[:1])),
		CreatedDateTime: Time(at), LastUpdateDateTime: Time(at), FirstActivity: Time(at.Add(-20 * time.Minute)), LastActivity: Time(at),
		AlertWebURL:    fmt.Sprintf("https://security.microsoft.com/alerts/%s?tid=%s", id, dir),
		IncidentWebURL: fmt.Sprintf("https://security.microsoft.com/incidents/%s?tid=%s", incidentID(id), dir),
		Comments:       []Comment{}, SystemTags: []string{},
		Evidence: []Evidence{UserEvidence(user, at),
			UnknownEvidence("deviceEvidence", at, map[string]any{"deviceDnsName": fmt.Sprintf("wks-%s-07.%s", local, domainOf(user)), "osPlatform": "Windows11"})},
	}
}

func domainOf(upn string) string {
	_, d, _ := strings.Cut(upn, "@")
	return d
}

// Events are mcasfake.GenerateActivities as CloudAppEvents rows.
func Events(tenant string, n int, now time.Time, span time.Duration, seed uint64) []Event {
	acts := mcasfake.GenerateActivities(tenant, n, now, span, seed)
	out := make([]Event, len(acts))
	actions := map[string]string{"Log on": "UserLoggedIn", "Create inbox rule": "New-InboxRule", "Share file externally": "SharingSet",
		"Run command: Get-MailboxPermission": "Get-MailboxPermission"}
	for i, a := range acts {
		action, object := actions[a.Description], ""
		switch {
		case strings.HasPrefix(a.Description, "Download file: "):
			action, object = "FileDownloaded", strings.TrimPrefix(a.Description, "Download file: ")
		case strings.HasPrefix(a.Description, "Failed log on"):
			action = "UserLoginFailed"
		case action == "":
			action = a.Description
		}
		local, _, _ := strings.Cut(a.User.UserName, "@")
		out[i] = Event{Timestamp: time.UnixMilli(a.Timestamp).UTC(), ReportID: a.ID, Application: a.AppName, ApplicationID: int64(a.AppID),
			ActionType: action, ActivityType: "Basic", ObjectName: object, AccountID: a.User.UserName, AccountDisplayName: local,
			AccountObjectID: ObjectID(a.User.UserName), IPAddress: a.Device.ClientIP, CountryCode: a.Location.CountryCode,
			City: a.Location.City, ISP: "Sample ISP", UserAgent: "Mozilla/5.0"}
	}
	return out
}
