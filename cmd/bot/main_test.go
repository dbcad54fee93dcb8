package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
)

func fakeTenant(t *testing.T) (*mcasfake.Server, []string) {
	srv := mcasfake.New("tok-exec-secret")
	t.Cleanup(srv.Close)
	srv.AddAlerts(mcasfake.Generate("contoso", 12, time.Now().UTC(), 48*time.Hour, 7)...)
	return srv, []string{"MCAS_URL=" + srv.URL, "MCAS_TOKEN=tok-exec-secret", "MCAS_NAME=contoso", "MCAS_ATTEMPTS=1"}
}

func runCLI(env []string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb, env)
	return code, out.String(), errb.String()
}

func TestExecPrintsTable(t *testing.T) {
	_, env := fakeTenant(t)
	code, out, errs := runCLI(env, "exec", "/mcas alerts limit=5")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "Time (UTC)") || strings.Count(out, "contoso.portal.cloudappsecurity.com") != 5 {
		t.Fatalf("output:\n%s", out)
	}
}

func TestExecJSONIsTheSlackMessage(t *testing.T) {
	_, env := fakeTenant(t)
	code, out, _ := runCLI(env, "exec", "--json", "alerts", "limit=3")
	var msg struct {
		ResponseType string            `json:"response_type"`
		Blocks       []json.RawMessage `json:"blocks"`
		Attachments  []struct {
			Blocks []struct {
				Type string `json:"type"`
			} `json:"blocks"`
		} `json:"attachments"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &msg) != nil || msg.Attachments[0].Blocks[0].Type != "table" {
		t.Fatalf("exit %d, output %s", code, out)
	}
}

func TestExecExitCodes(t *testing.T) {
	srv, env := fakeTenant(t)
	code, out, errs := runCLI(env, "exec", "ip 999.1.1.1")
	if code != exitUsage || out != "" || !strings.Contains(errs, `"999.1.1.1" is not an IPv4 or IPv6 address`) {
		t.Fatalf("bad input: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	srv.Fail(mcasfake.Fault{Status: 401})
	code, out, errs = runCLI(env, "exec", "alerts")
	if code != exitUpstream || !strings.Contains(out, "authentication failed (HTTP 401)") {
		t.Fatalf("upstream failure: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if strings.Contains(out+errs, "tok-exec-secret") {
		t.Fatal("token printed")
	}
	code, _, errs = runCLI([]string{}, "exec", "alerts")
	if code != exitUsage || !strings.Contains(errs, "no MCAS tenant configured") {
		t.Fatalf("no config: exit %d, %q", code, errs)
	}
	if code, _, _ := runCLI(env, "frobnicate"); code != exitUsage {
		t.Fatalf("unknown subcommand exit %d", code)
	}
}

func TestRunRefusesIncompleteConfig(t *testing.T) {
	_, env := fakeTenant(t)
	code, _, errs := runCLI(env, "run")
	if code != exitUsage || !strings.Contains(errs, "SLACK_BOT_TOKEN is not set") || !strings.Contains(errs, "SLACK_APP_TOKEN is not set") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

func TestDemoNeedsNoCredentials(t *testing.T) {
	var out, errb bytes.Buffer
	in := strings.NewReader("/mcas alerts 5 high\n/mcas ip 185.220.101.4 limit=2\n/mcas ip 10.20.30.40\n/mcas user alice@contoso.com\nalerts limit=500\nquit\nalerts\n")
	code := run(context.Background(), []string{"demo"}, in, &out, &errb, nil)
	if code != exitOK {
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

func fault401() mcasfake.Fault { return mcasfake.Fault{Status: 401} }

func TestDemoShowsDigestAndCreateJira(t *testing.T) {
	var out, errb bytes.Buffer
	in := strings.NewReader("digest\njira 1\njira 1\njira 0\ndigest\n/mcas user bob.smith@contoso.com limit=3\n")
	if code := run(context.Background(), []string{"demo"}, in, &out, &errb, nil); code != exitOK {
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
