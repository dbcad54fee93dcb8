package demo

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/console"
	"github.com/soc/mcasbot/report"
)

// testStart is the sandbox's clock in the tests that check dates; `bot
// demo` itself (and TestDemoNeedsNoCredentials) runs on today's.
var testStart = time.Date(2026, 11, 24, 17, 22, 0, 0, time.UTC)

func TestDemoNeedsNoCredentials(t *testing.T) {
	var out, errb bytes.Buffer
	in := strings.NewReader("/mcas alerts 5 high\n/mcas ip 185.220.101.4 limit=2\n/mcas ip 10.20.30.40\n/mcas user alice@contoso.com\nalerts limit=500\nquit\nalerts\n")
	code := Run(context.Background(), nil, in, &out, &errb)
	if code != console.ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	for _, want := range []string{
		"tenants: contoso, fabrikam · severity high", "🔴 high",
		"AbuseIPDB: confidence 100%", "private or reserved address: not sent to AbuseIPDB",
		"Alerts for alice@contoso.com", "limit must be from 1 to 100, not 500",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if strings.Count(s, "\n> ") != 5 {
		t.Errorf("quit did not stop the demo:\n%s", s)
	}
}

func TestDemoShowsDigestAndCreateJira(t *testing.T) {
	var out, errb bytes.Buffer
	in := strings.NewReader("digest\njira 1\njira 1\njira 0\ndigest\n/mcas user bob.smith@contoso.com limit=3\n")
	if code := run(context.Background(), testStart, nil, in, &out, &errb); code != console.ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	for _, want := range []string{
		"MCAS digest:", "[Create Jira for all ", "→ jira 1]", "[Create Jira → jira 2]", "[Open in Defender → https://",
		// Issue #11: bob's Tor repeats are one entry, and one issue; what the
		// tenants share is marked in the digest and in commands.
		"Activity from a Tor IP address — bob.smith@contoso.com, first ", "Summary:       [MCAS][contoso] ×",
		"🔗 Cross-tenant — seen in more than one tenant in this run:", "• IP 185.220.101.4: contoso ",
		"🔗 185.220.101.4 also seen in fabrikam: 2 alerts (2 high), newest ", "`/mcas user bob.smith_contoso.com#EXT#@fabrikam.onmicrosoft.com tenant=fabrikam`",
		"bob.smith@contoso.com (contoso) also seen in fabrikam: 1 alert (1 high)",
		"The digest message now shows: ✅ SEC-1 filed by @you", "Summary:       [MCAS][",
		"IP reputation:", "Already filed as SEC-1", `There is no button "0"`,
		"No new alerts since the last digest",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if strings.Count(s, "SEC-2") != 0 {
		t.Error("a second click filed a second issue")
	}
}

// The demo signs fabrikam in with its sandbox Entra ID, and its group rule
// asks the sandbox Graph.
func TestDemoShowsEntraSignInAndGroupRules(t *testing.T) {
	runDemo := func(input string) string {
		var out, errb bytes.Buffer
		if code := run(context.Background(), testStart, nil, strings.NewReader(input), &out, &errb); code != console.ExitOK {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		return out.String()
	}
	s := runDemo("auth\n/mcas alerts limit=50\ndigest\n")
	for _, want := range []string{
		"contoso   legacy token", "fabrikam  Entra app " + demoApp + " (secret)  token issued by the sandbox Entra ID",
		"1 token request(s) so far", "tenants: contoso, fabrikam",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "Partial results") || strings.Contains(s, "could not be queried") {
		t.Fatalf("a sandbox tenant failed:\n%s", s)
	}
	// Press the button of fabrikam's Leaked credentials alert for a Staff
	// member, and of contoso's (a legacy tenant: no groups).
	button := func(tenant, user string) string {
		re := regexp.MustCompile(`Leaked credentials\n` + tenant + ` · [^\n]*\nUser: ` + user + `[^\n]*\n  \[Create Jira → (jira \d+)\]`)
		m := re.FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("no Leaked credentials alert of %s for %s in the digest:\n%s", tenant, user, s)
		}
		return m[1]
	}
	s2 := runDemo("digest\n" + button("fabrikam", `carol\.j@fabrikam\.com`) + "\n")
	if !strings.Contains(s2, "[MCAS][fabrikam] Leaked credentials") || !strings.Contains(s2, "Priority:      Highest") || !strings.Contains(s2, "||Matched groups|Staff|") {
		t.Fatalf("Staff member's issue:\n%s", s2[strings.Index(s2, "Jira issue"):])
	}
	s3 := runDemo("digest\n" + button("contoso", `\S+`) + "\n")
	if !strings.Contains(s3, "Priority:      High\n") || !strings.Contains(s3, "group membership unavailable: contoso signs in with a legacy MCAS token") {
		t.Fatalf("legacy tenant's issue:\n%s", s3[strings.Index(s3, "Jira issue"):])
	}
}

func TestDemoShowsJiraProgressAndTheReport(t *testing.T) {
	var out, errb bytes.Buffer
	// jira 2: one alert (jira 1 is a group of repeats, one issue for all);
	// close 4, then jira 4: an alert closed from Slack before its issue is done.
	in := strings.NewReader("progress\ndigest\njira 2\nprogress\nprogress\nreport\nclose 4 benign other seen\njira 4\nprogress\nprogress\n")
	if code := run(context.Background(), testStart, nil, in, &out, &errb); code != console.ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	for _, want := range []string{
		"No issue filed yet",
		"SEC-1 moved to In Progress", "1 changed, 1 message updated", "· In Progress · @U0DAVE · filed by @U0DEMO",
		"· Done (Fixed) · @U0DAVE",
		// By hand, up to now: today so far, named from the sandbox's clock.
		"MCAS weekly report: ", "(" + testStart.Format("2 Jan") + " so far, to " + testStart.Format("15:04") + " UTC)",
		testStart.Format("2 Jan") + ", so far (to " + testStart.Format("15:04") + " UTC): ", "in the same span a week before",
		"posted by the digest", "became a Jira issue", "fabrikam: 1 of 7 runs — last: throttled (HTTP 429)",
		"↳ in thread: 📊 MCAS alerts per day", "Chart saved to ",
		// JIRA_DONE_CLOSES_ALERT=true_positive in the sandbox: SEC-1's alert is closed at Done, once.
		`the sync closed the alert in contoso: POST /api/v1/alerts/close_true_positive/ with comment "Jira SEC-1 resolved: Fixed"; no comment back on SEC-1.`,
		"✅ Closed as true positive by Jira sync (SEC-1 resolved: Fixed)",
		// SEC-2's alert was closed from Slack first: not closed again.
		`the alert was closed before (✅ Closed as benign (other) by @U0DEMO: "seen"), so nothing is closed twice.`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if n := strings.Count(s, "Jira sync (SEC-1 resolved"); n != 1 {
		t.Errorf("SEC-1's close shown %d times", n)
	}
	_, path, _ := strings.Cut(s, "Chart saved to ")
	path, _, _ = strings.Cut(path, "\n")
	path = strings.TrimSpace(path)
	defer os.Remove(path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(b)); err != nil || cfg.Width != report.ChartWidth || cfg.Height != report.ChartHeight {
		t.Fatalf("chart %+v %v", cfg, err)
	}
}

func TestDemoShowsTheCardAndClosing(t *testing.T) {
	var out, errb bytes.Buffer
	in := strings.NewReader("digest\njira 2\ndetails 2\nclose 2 benign other\nclose 2\nclose 2\nclose 99\n" +
		"details 1\ndetails 1 2\nclose 1 false_positive too_many_similar_alerts\nclose 1\n" +
		"/mcas alert 6660000000000000000000ff\n/mcas alert 6660000000000000000000ff tenant=fabrikam\n/mcas alert ../etc\n")
	if code := run(context.Background(), testStart, nil, in, &out, &errb); code != console.ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	for _, want := range []string{
		"[⋯ Details → details 2 · Close… → close 2]",
		"Alert ID:     `", "[Close…]  [Open in Defender]", // the card from the menu
		"The form stays open and says under comment: Say why in a comment: it is required when the reason is other.",
		"Close… opened a form", "Reason:         confirmed_with_end_user", "Submitted: the form closes.",
		"✅ Closed as benign (confirmed with end user) by @U0DEMO in contoso.", "Added a comment to SEC-1",
		"The digest message now shows:", `Closed as benign (confirmed with end user) by @U0DEMO: "Checked with the user`,
		"Jira comment on SEC-1", "* Classification: benign",
		"ℹ️ Already closed as benign", `There is no alert "99"`,
		"exists in 2 tenants", "Tenant:      fabrikam", "AbuseIPDB 100% (high risk)",
		`"../etc" is not an alert id`,
		// Entry 1 is bob's repeats: Details lists them, its menu opens one,
		// Close… closes them all with one call.
		"[⋯ Details → details 1 · Close… → close 1]", "×8 Activity from a Tor IP address — bob.smith@contoso.com",
		"[Details for… ▾ 8 alerts]", "`details 1 1` … `details 1 8` picks one", "Details for… 11-24 ",
		"Close 8 alerts: Activity from a Tor IP address — bob.smith@contoso.com",
		"✅ Closed as false positive (too many similar alerts) by @U0DEMO: all 8 alerts of the group in contoso, with one call to MCAS.",
		"✅ all 8 closed as false positive (too many similar alerts) by @U0DEMO",
		"ℹ️ Nothing left to close: all 8 closed as false positive (too many similar alerts) by @U0DEMO.",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	// The group's menu opened a card too (details 1 2), besides details 2.
	if n := strings.Count(s, "Alert ID:     `"); n != 2 {
		t.Errorf("%d cards from menus", n)
	}
	if t.Failed() {
		t.Log(s)
	}
}

// Issue #16: an alert closed from Slack and reopened in the portal is
// shown open by Close…, and closed anew; the first close is kept.
func TestDemoShowsAReopenedAlertClosedAnew(t *testing.T) {
	var out, errb bytes.Buffer
	in := strings.NewReader("digest\nreopen 2\nclose 2 benign other seen\nreopen 1\nreopen 2\nclose 2 true_positive\nclose 2\nreport\n")
	if code := run(context.Background(), testStart, nil, in, &out, &errb); code != console.ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	for _, want := range []string{
		"Alert 2 is open in contoso: close it first (close 2).",
		"Entry 1 is a group of repeats: reopen one alert",
		"Reopened alert 2 (6660000000000000000000ff) in contoso's portal, the sandbox's MCAS; the digest still shows the bot's close.",
		"The bot asked MCAS first: the alert is open again, so the digest message now shows it open:",
		"[⋯ Details · Close…]",
		"✅ Closed as true positive by @U0DEMO in contoso.",
		"ℹ️ Already closed as true positive by @U0DEMO",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	// The note dates the first close by the sandbox's clock.
	m := regexp.MustCompile(`↩️ Closed before as benign \(other\) by @U0DEMO on (\d{4}-\d\d-\d\d \d\d:\d\d) UTC; reopened in Defender since\.`).FindStringSubmatch(s)
	if m == nil {
		t.Error("no note of the earlier close on the reopened entry")
	} else if at, err := time.Parse("2006-01-02 15:04", m[1]); err != nil || at.Before(testStart.Truncate(time.Minute)) || at.After(testStart.Add(2*time.Minute)) {
		t.Errorf("the earlier close is dated %s, not the sandbox's %s", m[1], testStart)
	}
	// Both closes count in the week's report.
	if !strings.Contains(s, "Closed from Slack: 2 (benign 1 · true positive 1)") {
		t.Error("the report does not count both closes")
	}
	_, path, _ := strings.Cut(s, "Chart saved to ")
	path, _, _ = strings.Cut(path, "\n")
	_ = os.Remove(strings.TrimSpace(path))
	if t.Failed() {
		t.Log(s)
	}
}

// fabrikam is read through Microsoft Graph: auth says so, /mcas ip asks
// advanced hunting, the card shows Defender XDR's state, Close… offers its
// reasons and PATCHes the alert, and the Jira sync's done close does too.
func TestDemoServesATenantThroughGraph(t *testing.T) {
	runDemo := func(input string) string {
		var out, errb bytes.Buffer
		if code := run(context.Background(), testStart, nil, strings.NewReader(input), &out, &errb); code != console.ExitOK {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		return out.String()
	}
	s := runDemo("auth\n/mcas ip 185.220.101.4 tenant=fabrikam limit=3\n/mcas alert da638700000000000001_-1234567\ndigest\n" +
		"close 4 true_positive compromised_account Password reset and sessions revoked.\nclose 4\n")
	for _, want := range []string{
		"alerts from Microsoft Graph's security API (Defender XDR), roles SecurityAlert.ReadWrite.All, ThreatHunting.Read.All",
		"alerts from the MCAS REST API",
		"tenants: fabrikam · ip 185.220.101.4 · limit 3 · 3 activities shown, more match",
		"Status:      In progress · assigned to erin.ops@fabrikam.com", "Product:     Defender for Identity", "Incident:    Incident ",
		"Portal:      https://security.microsoft.com/alerts/da638700000000000001_-1234567",
		"[Open in Defender → https://security.microsoft.com/alerts/b0b000000000000000000f01",
		"(the form now offers the reasons for true positive: multi_staged_attack, malicious_user_activity, compromised_account, malware, phishing, unwanted_software, other)",
		"✅ Closed as true positive (compromised account) by @U0DEMO in fabrikam.",
		"In Defender XDR (the sandbox Graph): PATCH /v1.0/security/alerts_v2/b0b000000000000000000f01 set status resolved, classification truePositive, determination compromisedAccount; " +
			`POST …/comments sent one object: {"@odata.type":"microsoft.graph.security.alertComment","comment":"Closed from Slack by u0demo: Password reset and sessions revoked."}.`,
		"ℹ️ Already closed as true positive (compromised account) by @U0DEMO",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if !regexp.MustCompile(`\n\d{4}-\d\d-\d\d \d\d:\d\d  fabrikam  .*  (UserLoggedIn|UserLoginFailed|FileDownloaded|New-InboxRule|SharingSet|Get-MailboxPermission)`).MatchString(s) {
		t.Errorf("no activity from advanced hunting:\n%s", s)
	}
	if t.Failed() {
		t.Log(s)
	}
	// The Jira sync's done close, through Graph.
	s = runDemo("digest\njira 4\nprogress\nprogress\n")
	for _, want := range []string{
		`the sync closed the alert in fabrikam through Microsoft Graph: PATCH /v1.0/security/alerts_v2/b0b000000000000000000f01 (status resolved, classification truePositive, determination other), then POST …/comments with comment "Jira SEC-1 resolved: Fixed"; no comment back on SEC-1.`,
		"✅ Closed as true positive by Jira sync (SEC-1 resolved: Fixed)",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
}

// Issue #16: repeats of a group whose issue is done start a new entry that
// links it, and its Create Jira files a new issue naming the done one.
func TestDemoShowsRepeatsAfterADoneIssue(t *testing.T) {
	run1 := func(input string) string {
		var out, errb bytes.Buffer
		if code := run(context.Background(), testStart, nil, strings.NewReader(input), &out, &errb); code != console.ExitOK {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		return out.String()
	}
	s := run1("digest\njira 1\nprogress\nprogress\nrepeat\ndigest\n")
	if !strings.Contains(s, "↩️ earlier: SEC-1 (") || !strings.Contains(s, "), Done: Fixed — a new issue follows these repeats") {
		t.Fatalf("no entry linking the done issue:\n%s", s)
	}
	m := regexp.MustCompile(`\[Create Jira for all 3 → (jira \d+)\]`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no Create Jira for the three repeats:\n%s", s)
	}
	s = run1("digest\njira 1\nprogress\nprogress\nrepeat\ndigest\n" + m[1] + "\n")
	if !strings.Contains(s, "✅ SEC-2 filed by @you") || !strings.Contains(s, "*Earlier issue:* [SEC\\-1|") {
		t.Fatalf("the new issue does not name SEC-1:\n%s", s[strings.LastIndex(s, "> jira"):])
	}
}
