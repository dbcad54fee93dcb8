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

func TestDemoShowsTheCardAndClosing(t *testing.T) {
	var out, errb bytes.Buffer
	in := strings.NewReader("digest\njira 2\ndetails 2\nclose 2 benign other\nclose 2\nclose 2\nclose 99\n" +
		"/mcas alert 6660000000000000000000ff\n/mcas alert 6660000000000000000000ff tenant=fabrikam\n/mcas alert ../etc\n")
	if code := run(context.Background(), []string{"demo"}, in, &out, &errb, nil); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	for _, want := range []string{
		"[⋯ Details → details 2 · Close… → close 2]", // entry 1 is a group of repeats
		"Alert ID:     `", "[Close…]  [Open in Defender]", // the card from the menu
		"The form stays open and says under comment: Say why in a comment: it is required when the reason is other.",
		"Close… opened a form", "Reason:         confirmed_with_end_user", "Submitted: the form closes.",
		"✅ Closed as benign (confirmed with end user) by @U0DEMO in contoso.", "Added a comment to SEC-1",
		"The digest message now shows:", `Closed as benign (confirmed with end user) by @U0DEMO: "Checked with the user`,
		"Jira comment on SEC-1", "* Classification: benign",
		"ℹ️ Already closed as benign", `There is no alert "99"`,
		"exists in 2 tenants", "Tenant:      fabrikam", "AbuseIPDB 100% (high risk)",
		`"../etc" is not an alert id`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(s)
	}
}

func TestExecPrintsTheCard(t *testing.T) {
	srv, env := fakeTenant(t)
	a := mcasfake.Generate("contoso", 1, time.Now().UTC(), time.Hour, 99)[0]
	srv.AddAlerts(a)
	code, out, errs := runCLI(env, "exec", "alert "+a.ID)
	if code != exitOK || !strings.Contains(out, "Alert ID:    "+a.ID) || !strings.Contains(out, "Status:      Open") || !strings.Contains(out, "Portal:      https://") {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	code, out, _ = runCLI(env, "exec", "--json", "alert", a.ID)
	var msg struct {
		Blocks []struct {
			BlockID string `json:"block_id"`
		} `json:"blocks"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &msg) != nil || msg.Blocks[0].BlockID != "card-title" {
		t.Fatalf("exit %d: %s", code, out)
	}
	// A malformed id is refused before any call.
	before := len(srv.Requests())
	if code, _, errs := runCLI(env, "exec", "alert a/b"); code != exitUsage || !strings.Contains(errs, "is not an alert id") || len(srv.Requests()) != before {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if code, out, _ := runCLI(env, "exec", "alert deadbeef"); code != exitOK || !strings.Contains(out, "No alert deadbeef in contoso.") {
		t.Fatalf("exit %d: %s", code, out)
	}
}
