package formatting_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/source"
)

func digestInput(n int) formatting.DigestInput {
	as := alerts(n)
	as = append(as, hostile())
	formatting.SortForDigest(as)
	return formatting.DigestInput{
		Alerts:     as,
		Reputation: map[string]abuseipdb.Report{"185.220.101.4": {Score: 100, Tor: true}},
		Failures:   []formatting.TenantProblem{{Tenant: "northwind", Reason: "throttled (HTTP 429)"}},
	}
}

func TestGoldenDigest(t *testing.T) {
	chunks := formatting.Digest(digestInput(4))
	if len(chunks) != 1 {
		t.Fatalf("%d chunks for 5 alerts", len(chunks))
	}
	js, _ := json.MarshalIndent(chunks[0].Msg, "", "  ")
	golden(t, "digest.golden.json", append(js, '\n'))
	assertNoLiveMarkup(t, js)
	if err := formatting.Check(chunks[0].Msg); err != nil {
		t.Fatal(err)
	}
	// The most severe alerts come first.
	if chunks[0].Alerts[0].Severity != source.SeverityHigh {
		t.Fatalf("first alert is %s", chunks[0].Alerts[0].Severity)
	}

	// Filing the hostile alert replaces its buttons and renews every block id.
	blocks := chunks[0].Msg.Blocks.BlockSet
	key := formatting.AlertKeyOf(hostile().Tenant, hostile().ID)
	filed := formatting.FiledBlocks(blocks, map[string]formatting.Filed{key: {Key: "SEC-42", URL: "https://jira.example/browse/SEC-42", By: "U0LEAD"}}, "v1")
	js, _ = json.MarshalIndent(filed, "", "  ")
	golden(t, "digest_filed.golden.json", append(js, '\n'))
	// slack-go's marshaller writes < and > as \u003c and \u003e.
	if !strings.Contains(string(js), `\u003chttps://jira.example/browse/SEC-42|SEC-42\u003e filed by \u003c@U0LEAD\u003e`) {
		t.Fatal("no filed line")
	}
	if _, still := formatting.ButtonsOf(filed)[key]; still {
		t.Fatal("the filed alert kept its button")
	}
	if len(formatting.ButtonsOf(filed)) != len(formatting.ButtonsOf(blocks))-1 {
		t.Fatal("other alerts lost their buttons")
	}
}

func TestLargeDigestSplitsWithinLimits(t *testing.T) {
	chunks := formatting.Digest(digestInput(300))
	total := 0
	for i, c := range chunks {
		if err := formatting.Check(c.Msg); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if i > 0 && len(c.Alerts) > 20 {
			t.Fatalf("chunk %d has %d alerts", i, len(c.Alerts))
		}
		total += len(c.Alerts)
	}
	if total != 301 || len(chunks) > 1+301/20 {
		t.Fatalf("%d alerts in %d chunks", total, len(chunks))
	}
}

func TestDigestWithoutJiraHasNoCreateButton(t *testing.T) {
	in := digestInput(2)
	in.NoJira = true
	js, _ := json.Marshal(formatting.Digest(in)[0].Msg)
	if strings.Contains(string(js), formatting.ActionCreateJira) || !strings.Contains(string(js), "Open in Defender") {
		t.Fatal("Create Jira shown without Jira, or Open in Defender missing")
	}
}

func TestButtonValueRoundTrip(t *testing.T) {
	for _, bad := range []string{"", "{}", `{"t":"x"}`, "nope"} {
		if _, err := formatting.ParseButtonValue(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	var blocks slack.Blocks
	js, _ := json.Marshal(formatting.Digest(digestInput(1))[0].Msg.Blocks)
	_ = json.Unmarshal(js, &blocks)
	for _, v := range formatting.ButtonsOf(blocks.BlockSet) {
		if v.Tenant == "" || v.AlertID == "" {
			t.Fatal("button value lost after a JSON round trip")
		}
	}
}

// FuzzDigest: whatever upstream sends, every digest message stays within
// Slack's limits, pings nobody, and keeps block and action ids unique.
func FuzzDigest(f *testing.F) {
	h := hostile()
	f.Add(h.Title, h.Tenant, h.ID, h.URL, "<@U0ADMIN>", 3)
	f.Add(strings.Repeat("t", 3000), strings.Repeat("x", 300), strings.Repeat("f", 300), "https://ok.example/a", "u", 60)
	f.Fuzz(func(t *testing.T, title, tenant, id, url, user string, n int) {
		n = min(max(n, 1), 60)
		as := make([]source.Alert, n)
		for i := range as {
			as[i] = source.Alert{ID: fmt.Sprintf("%s%d", id, i), Tenant: tenant, Title: title, URL: url, Severity: source.Severity(i % 4),
				Entities: []source.Entity{{Type: "account", UPN: user}, {Type: "ip", ID: user}}}
		}
		formatting.SortForDigest(as)
		for _, c := range formatting.Digest(formatting.DigestInput{Alerts: as, Failures: []formatting.TenantProblem{{Tenant: tenant, Reason: title}}}) {
			if err := formatting.Check(c.Msg); err != nil {
				t.Fatalf("limit broken: %v", err)
			}
			js, _ := json.Marshal(c.Msg)
			assertNoLiveMarkup(t, js)
		}
	})
}

// A digest message is redrawn from its stored view: the view survives a
// JSON round trip (the store keeps it as JSON) and draws the same message,
// and an alert's state replaces its buttons.
func TestDigestViewRedrawsFromState(t *testing.T) {
	chunk := formatting.Digest(digestInput(4))[0]
	raw, err := json.Marshal(chunk.View)
	if err != nil {
		t.Fatal(err)
	}
	var v formatting.DigestView
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(chunk.Msg)
	if got, _ := json.Marshal(formatting.RenderDigest(v, nil, "")); string(got) != string(want) {
		t.Fatalf("stored view draws a different message:\n%s\nwant\n%s", got, want)
	}

	key := formatting.AlertKeyOf(hostile().Tenant, hostile().ID)
	states := map[string]formatting.AlertState{key: {Filed: &formatting.Filed{Key: "SEC-42", URL: "https://jira.example/browse/SEC-42", By: "U0LEAD"}}}
	msg := formatting.RenderDigest(v, states, "v2")
	js, _ := json.MarshalIndent(msg, "", "  ")
	golden(t, "digest_redrawn.golden.json", append(js, '\n'))
	if err := formatting.Check(msg); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `filed by \u003c@U0LEAD\u003e`) {
		t.Fatal("no filed line")
	}
	if _, still := formatting.ButtonsOf(msg.Blocks.BlockSet)[key]; still {
		t.Fatal("the filed alert kept its button")
	}
	if len(formatting.ButtonsOf(msg.Blocks.BlockSet)) != len(formatting.ButtonsOf(chunk.Msg.Blocks.BlockSet))-1 {
		t.Fatal("other alerts lost their buttons")
	}
	for _, b := range msg.Blocks.BlockSet {
		if !strings.HasSuffix(b.ID(), "~v2") {
			t.Fatalf("block %q kept its old id", b.ID())
		}
	}
}
