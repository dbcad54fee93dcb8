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

func fault401() mcasfake.Fault { return mcasfake.Fault{Status: 401} }
