package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// The demo's group of repeats, filed as one issue and moved to Done: the
// sync closes all its alerts with one call.
func TestDemoClosesADoneGroupWithOneCall(t *testing.T) {
	var out, errb bytes.Buffer
	in := strings.NewReader("digest\njira 1\nprogress\nprogress\n")
	if code := run(context.Background(), []string{"demo"}, in, &out, &errb, nil); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	m := regexp.MustCompile(`the sync closed the (\d+) alerts of the group in contoso, all (\d+) ids in one POST /api/v1/alerts/close_true_positive/, ` +
		`with comment "Jira SEC-1 resolved: Fixed"; no comment back on SEC-1\.`).FindStringSubmatch(s)
	if m == nil || m[1] != m[2] || m[1] == "1" {
		t.Fatalf("no one call for the group's alerts:\n%s", s)
	}
	for _, want := range []string{", " + m[1] + " alerts closed.\n", "✅ all " + m[1] + " closed as true positive by Jira sync (SEC-1 resolved: Fixed)"} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if n := strings.Count(s, "JIRA_DONE_CLOSES_ALERT=true_positive (on in the sandbox)"); n != 1 {
		t.Errorf("%d close lines, want one for the one call:\n%s", n, s)
	}
}
