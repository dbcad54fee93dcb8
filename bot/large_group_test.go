package bot_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/closing"
	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
)

// Issue #16: a group of 250 repeats is closed with requests of at most 100.

// largeGroupDigest posts a digest of one group of n repeats.
func largeGroupDigest(t *testing.T, n int) (*workflow, slackfake.Post, []mcasfake.Alert, string) {
	t.Helper()
	w := startWorkflow(t, filepath.Join(t.TempDir(), "state.db"), newJira(), nil, grouped)
	repeats := mcasfake.Repeats("contoso", bob, "b3", n, now.Add(-30*time.Minute), 10*time.Second)
	w.tenants[0].SetAlerts(repeats)
	w.tenants[1].SetAlerts(nil)
	if rep, err := w.digest.Run(context.Background(), false); err != nil || rep.Groups != 1 || rep.Posted != n {
		t.Fatalf("digest %+v %v", rep, err)
	}
	return w, w.slack.Posts()[0], repeats, formatting.ActionMenu + ":" + formatting.AlertKeyOf("contoso", repeats[0].ID)
}

func TestALargeGroupIsClosedWithRequestsOfAtMost100(t *testing.T) {
	w, parent, repeats, menu := largeGroupDigest(t, 250)
	contoso := w.tenant("contoso")
	viewID := w.openForm(t, lead, parent, menu, groupValue(formatting.OpClose, repeats))
	if form := string(w.slack.ViewBody(viewID)); !strings.Contains(form, "every alert of the group is closed with 3 calls of at most 100") {
		t.Fatalf("form:\n%s", form)
	}
	w.choose(t, lead, viewID, source.Benign)
	w.submit(t, lead, viewID, closeForm("benign/triggered_by_test", ""))
	w.slowUpdate(t, parent, "all 250 closed as benign (triggered by test)")
	w.slowReply(t, "all 250 alerts of the group in contoso, with 3 calls to MCAS.")
	calls := contoso.Closes()
	if len(calls) != 3 {
		t.Fatalf("%d close calls", len(calls))
	}
	for _, c := range calls {
		if len(c.IDs) > closing.MaxIDsPerCall || len(c.Closed) != len(c.IDs) {
			t.Fatalf("a call of %d ids", len(c.IDs))
		}
	}
	logs := w.logs.String()
	n := 0
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `"msg":"audit: alert closed"`) && strings.Contains(l, `"requests":3,`) {
			n++
		}
	}
	if n != 250 {
		t.Fatalf("%d audit lines with requests=3 for 250 alerts", n)
	}
	if line := auditLine(t, logs, "audit: alert group closed"); !strings.Contains(line, `"alerts":250,"closed":250,"already_closed":0,"failed":0,"requests":3`) {
		t.Fatalf("group audit line %s", line)
	}
}

// The second of three requests fails: the first hundred are closed and
// shown, the analyst is told how many were closed and which were not, and
// Close… closes the rest.
func TestALargeGroupCloseWhoseSecondRequestFails(t *testing.T) {
	w, parent, repeats, menu := largeGroupDigest(t, 250)
	contoso := w.tenant("contoso")
	contoso.Fail(mcasfake.Fault{Path: "/api/v1/alerts/close_"},
		mcasfake.Fault{Path: "/api/v1/alerts/close_", Status: 403, Body: `{"detail":"You do not have permission to perform this action."}`})
	viewID := w.openForm(t, lead, parent, menu, groupValue(formatting.OpClose, repeats))
	w.choose(t, lead, viewID, source.TruePositive)
	w.submit(t, lead, viewID, closeForm("", ""))
	told := w.slowReply(t, "100 of the group's 250 alerts in contoso, with 2 calls to MCAS.")
	ids := sortedIDs(repeats)
	for _, want := range []string{
		":warning: Could not close 150 of them: 100: the tenant's credentials can read alerts but not close them",
		fmt.Sprintf("(`%s`, `%s`, `%s`, and 97 more); 50: not sent, as request 2 of 3 failed (`%s`, ", ids[100], ids[101], ids[102], ids[200]),
		"Close… stays for them",
	} {
		if !strings.Contains(told.Text, want) {
			t.Fatalf("told %q, lacks %q", told.Text, want)
		}
	}
	msg := w.slowUpdate(t, parent, "100 of 250 closed as true positive by \\u003c@"+lead)
	if !strings.Contains(string(msg.Blocks), groupValue(formatting.OpClose, repeats)) {
		t.Fatal("the group lost Close… with 150 alerts open")
	}
	logs := w.logs.String()
	if closed, failed := strings.Count(logs, `"msg":"audit: alert closed"`), strings.Count(logs, `"msg":"audit: alert close failed"`); closed != 100 || failed != 150 {
		t.Fatalf("%d closed and %d failed audit lines", closed, failed)
	}
	if line := auditLine(t, logs, "audit: alert group closed"); !strings.Contains(line, `"closed":100,"already_closed":0,"failed":150,"requests":2`) {
		t.Fatalf("group audit line %s", line)
	}
	// Fixed: Close… takes the 150 left, with two requests.
	viewID = w.openForm(t, lead, w.slack.Current(parent), menu, groupValue(formatting.OpClose, repeats))
	if form := string(w.slack.ViewBody(viewID)); !strings.Contains(form, "the 150 still open are closed with 2 calls of at most 100; the 100 already closed are left out.") {
		t.Fatalf("form:\n%s", form)
	}
	w.choose(t, lead, viewID, source.TruePositive)
	w.submit(t, lead, viewID, closeForm("", ""))
	w.slowUpdate(t, parent, "all 250 closed as true positive")
	if c := contoso.Closes(); len(c) != 3 || len(c[0].IDs) != 100 || len(c[1].IDs) != 100 || len(c[2].IDs) != 50 || c[1].IDs[0] != ids[100] {
		t.Fatalf("close calls %d", len(c))
	}
}

// slowWait bounds the waits for a close of 250 alerts: hundreds of claims
// and records take seconds under the race detector on a loaded machine.
const slowWait = time.Minute

func (w *workflow) slowReply(t *testing.T, want string) slackfake.Post {
	t.Helper()
	got, err := w.slack.WaitPosts(1, slowWait, func(p slackfake.Post) bool {
		return p.Method == "response_url" && strings.Contains(p.Text, want)
	})
	if err != nil {
		t.Fatalf("no reply with %q: %v", want, err)
	}
	return got[0]
}

func (w *workflow) slowUpdate(t *testing.T, msg slackfake.Post, want string) slackfake.Post {
	t.Helper()
	ups, err := w.slack.WaitPosts(1, slowWait, func(p slackfake.Post) bool {
		return p.Method == "chat.update" && p.TS == msg.TS && strings.Contains(string(p.Blocks), want)
	})
	if err != nil {
		t.Fatalf("no update with %q: %v", want, err)
	}
	return ups[len(ups)-1]
}
