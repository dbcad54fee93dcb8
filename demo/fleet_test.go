package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/soc/mcasbot/console"
)

// `bot demo --tenants=100`: the question goes to all 100 tenants, and the
// digest to ten channels, each with its own pod's tenants and no other's.
func TestDemoServesAHundredTenantsAndRoutesTheDigest(t *testing.T) {
	var out, errb bytes.Buffer
	in := strings.NewReader("/mcas alerts 5 high\ndigest\ndigest\n")
	if code := run(context.Background(), testStart, []string{"--tenants=100"}, in, &out, &errb); code != console.ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	for _, want := range []string{
		"a managed SOC's sandbox of 100 customer tenants", "digest_channel: C0POD01", "- name: contoso-01", "… (98 more tenants)",
		"MCAS alerts", "🔴 high", "The digest, routed: 100 tenants into 10 channels",
		"No new alerts since the last digest: nothing posted, in any channel.",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	for _, bad := range []string{"could not be queried", "Partial results", "not answering", "digest failed", "have no digest channel"} {
		if strings.Contains(s, bad) {
			t.Fatalf("demo output says %q:\n%s", bad, s)
		}
	}
	// Each pod's channel: its ten tenants, named, and no other pod's.
	sections := strings.Split(s, "\n── ")[1:]
	if len(sections) != 10 {
		t.Fatalf("%d channel sections, want 10:\n%s", len(sections), s)
	}
	posted := 0
	for p, sec := range sections {
		if head := fmt.Sprintf("%s (%s) · Jira project %s", podChannelName(podChannel(p)), podChannel(p), podProject(p)); !strings.HasPrefix(sec, head) {
			t.Fatalf("section %d starts %q, want %q", p, sec[:min(len(sec), 80)], head)
		}
		for i := range 100 {
			named := regexp.MustCompile(`\b` + regexp.QuoteMeta(fleetTenant(i)) + `\b`).MatchString(sec)
			if mine := fleetPod(i, 100) == p; mine != named {
				t.Fatalf("%s: %s named %v, its pod is %s:\n%s", podChannel(p), fleetTenant(i), named, podGroup(fleetPod(i, 100)), sec)
			}
		}
		m := regexp.MustCompile(`MCAS digest: (\d+) new alerts`).FindStringSubmatch(sec)
		if m == nil {
			t.Fatalf("no digest parent in %s:\n%s", podChannel(p), sec)
		}
		n, _ := strconv.Atoi(m[1])
		posted += n
	}
	if !strings.Contains(s, fmt.Sprintf("Posted %d alerts in ", posted)) || !strings.Contains(s, "to 10 channels, every alert once") {
		t.Fatalf("the summary does not add up to the channels' %d alerts:\n%s", posted, s[strings.LastIndex(s, "Posted"):])
	}
	// tier1 customers (their group's min_severity: low) get their low alerts.
	if !regexp.MustCompile(`contoso-01: [^\n]*\d+ low`).MatchString(s) {
		t.Fatalf("contoso-01 (tier1) shows no low alerts:\n%s", sections[0])
	}
	if regexp.MustCompile(`fabrikam-01: [^\n]*\d+ low`).MatchString(s) {
		t.Fatalf("fabrikam-01 (medium and above) shows low alerts:\n%s", sections[0])
	}
}

// One question over 100 tenants is 100 MCAS calls (one each), and so is
// the digest's read (one page each).
func TestFleetSandboxCallsEachTenantOnce(t *testing.T) {
	sb, err := newFleetSandbox(newClock(testStart), 100, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	var out bytes.Buffer
	console.Execute(context.Background(), sb.runner, "/mcas alerts limit=20", demoDeadline, false, &out, &out)
	if n := sb.fleet.Requests(); n != 100 {
		t.Fatalf("%d MCAS calls for one question over 100 tenants:\n%s", n, out.String())
	}
	sb.runDigest(context.Background(), io.Discard)
	if n := sb.fleet.Requests(); n != 200 {
		t.Fatalf("the digest made %d MCAS calls, want 100", n-100)
	}
	var parents []string
	for _, p := range sb.slack.Posts() {
		if p.Thread == "" && !slices.Contains(parents, p.Channel) {
			parents = append(parents, p.Channel)
		}
	}
	if len(parents) != 10 {
		t.Fatalf("parents in %v, want one in each of 10 channels", parents)
	}
}

func TestDemoTenantsFlagIsChecked(t *testing.T) {
	for _, arg := range []string{"--tenants=2", "--tenants=5000", "--tenants=-1"} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), testStart, []string{arg}, strings.NewReader(""), &out, &errb); code != console.ExitUsage ||
			!strings.Contains(errb.String(), "--tenants takes 3 to 1000 tenants") {
			t.Errorf("%s: exit %d, %q", arg, code, errb.String())
		}
	}
}
