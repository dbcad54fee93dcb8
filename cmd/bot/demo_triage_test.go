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
		"details 1\ndetails 1 2\nclose 1 false_positive too_many_similar_alerts\nclose 1\n" +
		"/mcas alert 6660000000000000000000ff\n/mcas alert 6660000000000000000000ff tenant=fabrikam\n/mcas alert ../etc\n")
	if code := run(context.Background(), []string{"demo"}, in, &out, &errb, nil); code != exitOK {
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
