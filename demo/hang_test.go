package demo

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/soc/mcasbot/console"
)

// `hang fabrikam` (issue #16): the next question waits for fabrikam up to
// the deadline, then gets its timeout; later ones are answered at once
// without it, saying it is not answering; after `back fabrikam` and the
// cooldown, the next question checks it and finds it back.
func TestDemoShowsAHungTenant(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	in := strings.NewReader("hang fabrikam\n/mcas alerts 5 low\n/mcas user alice@contoso.com\n/mcas alerts tenant=fabrikam\nback fabrikam\n/mcas alerts 3 medium\nhang nowhere\n")
	if code := run(context.Background(), testStart, nil, in, &out, &errb); code != console.ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	steps := map[string]string{}
	for _, step := range strings.Split(out.String(), "\n> ")[1:] {
		cmd, rest, _ := strings.Cut(step, "\n")
		steps[cmd] = rest
	}
	for cmd, want := range map[string]*regexp.Regexp{
		"hang fabrikam":                regexp.MustCompile(`fabrikam stops answering: the next lookup waits for it up to 5s`),
		"/mcas alerts 5 low":           regexp.MustCompile(`(?s)\(after 1s, the reply shows.*WAITING: fabrikam has not answered yet.*\(then it is replaced by:\).*WARNING: tenant fabrikam could not be queried: timed out: no answer within 5s\n`),
		"/mcas user alice@contoso.com": regexp.MustCompile(`^Alerts for alice@contoso.com\n.*\nWARNING: fabrikam is not answering \(timed out (just now|\d+ s ago)\)\n`),
		"/mcas alerts tenant=fabrikam": regexp.MustCompile(`WARNING: fabrikam is not answering \(timed out (just now|\d+ s ago)\); mcasbot asks it again in \d s\n`),
		"back fabrikam":                regexp.MustCompile(`fabrikam's cooldown is over: the next lookup checks whether it is back`),
		"/mcas alerts 3 medium":        regexp.MustCompile(`^MCAS alerts\ntenants: contoso, fabrikam .*\nTime \(UTC\)`),
		"hang nowhere":                 regexp.MustCompile(`no sandbox tenant "nowhere"`),
	} {
		if !want.MatchString(steps[cmd]) {
			t.Errorf("%s: output does not match %s:\n%s", cmd, want, steps[cmd])
		}
	}
	if !strings.Contains(steps["/mcas alerts 3 medium"], "  fabrikam  ") {
		t.Errorf("fabrikam is not back:\n%s", steps["/mcas alerts 3 medium"])
	}
}
