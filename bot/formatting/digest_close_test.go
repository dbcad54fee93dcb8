package formatting_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/store"
)

// A closed alert's digest entry says how and by whom, loses Close… and
// keeps Create Jira (and Details).
func TestDigestEntryShowsTheClose(t *testing.T) {
	in := digestInput(4)
	v := formatting.Digest(in)[0].View
	a := v.Alerts[1] // [0] is the hostile one, whose tenant name cannot travel in a menu
	key := formatting.AlertKeyOf(a.Tenant, a.ID)
	states := map[string]formatting.AlertState{key: {Closed: &formatting.Closed{Classification: "benign", Reason: "confirmed_with_end_user", By: "U0CAROL",
		Comment: strings.Repeat("long comment <b> ", 30)}}}
	msg := formatting.RenderDigest(v, states, "v3")
	if err := formatting.Check(msg); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(msg)
	s := string(js)
	if !strings.Contains(s, `Closed as benign (confirmed with end user) by \u003c@U0CAROL\u003e: \"long comment \u0026lt;b\u0026gt; long`) {
		t.Fatalf("no closed line: %s", s)
	}
	if strings.Contains(s, "close|"+a.Tenant+"|"+a.ID) {
		t.Fatal("the closed alert still offers Close…")
	}
	for _, want := range []string{"details|" + a.Tenant + "|" + a.ID, `"action_id":"create_jira:` + key + `"`} {
		if !strings.Contains(s, want) {
			t.Fatalf("the closed alert lost %s", want)
		}
	}
	// The other alerts still offer Close….
	if n := strings.Count(s, `"value":"close|`); n != len(v.Alerts)-2 { // minus the closed one and the hostile one (no menu for its tenant)
		t.Fatalf("%d Close… options", n)
	}
}

// Twenty closed alerts with long comments still fit one message.
func TestDigestOfClosedAlertsStaysWithinLimits(t *testing.T) {
	in := digestInput(40)
	for _, chunk := range formatting.Digest(in) {
		renderClosed(t, chunk)
	}
}

func renderClosed(t *testing.T, chunk formatting.DigestChunk) {
	states := map[string]formatting.AlertState{}
	for _, a := range chunk.View.Alerts {
		a.Title = strings.Repeat("Ü", 200)
		states[formatting.AlertKeyOf(a.Tenant, a.ID)] = formatting.AlertState{
			Filed:  &formatting.Filed{Key: "SEC-123456", URL: "https://jira.example/browse/SEC-123456", By: "U0LEAD"},
			Closed: &formatting.Closed{Classification: "false_positive", Reason: "too_many_similar_alerts", By: "U0DAVE", Comment: strings.Repeat("x", 1000)}}
	}
	for i := range chunk.View.Alerts {
		chunk.View.Alerts[i].Title = strings.Repeat("Ü", 200)
	}
	msg := formatting.RenderDigest(chunk.View, states, "v9")
	if err := formatting.Check(msg); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(msg)
	if n := strings.Count(string(js), "Closed as false positive"); n != len(chunk.View.Alerts) {
		t.Fatalf("%d closed lines for %d alerts", n, len(chunk.View.Alerts))
	}
}

// A close the Jira sync made reads as the bot's, with its note in place of
// a reason and a quoted comment; Jira's text is escaped.
func TestClosedByTheJiraSyncReadsWell(t *testing.T) {
	rec := store.CloseRecord{State: store.CloseDone, By: store.JiraSyncCloser, ByName: "Jira sync", Classification: "true_positive",
		Comment: "SEC-123 resolved: Fixed"}
	c := formatting.ClosedFromStore(rec)
	if got := formatting.ClosedText(*c); got != ":white_check_mark: Closed as true positive by Jira sync (SEC-123 resolved: Fixed)" {
		t.Fatalf("%q", got)
	}
	rec.Classification, rec.Reason, rec.Comment = "benign", "other", "SEC-124 resolved: <!channel> & <https://evil|Fixed>"
	got := formatting.ClosedText(*formatting.ClosedFromStore(rec))
	if got != ":white_check_mark: Closed as benign by Jira sync (SEC-124 resolved: &lt;!channel&gt; &amp; &lt;https://evil|Fixed&gt;)" {
		t.Fatalf("%q", got)
	}
	if got := formatting.AlreadyClosedText(*c); got != ":information_source: Already closed as true positive by Jira sync (SEC-123 resolved: Fixed)." {
		t.Fatalf("%q", got)
	}
	// In a digest entry.
	in := digestInput(2)
	v := formatting.Digest(in)[0].View
	a := v.Alerts[1]
	msg := formatting.RenderDigest(v, map[string]formatting.AlertState{formatting.AlertKeyOf(a.Tenant, a.ID): {Closed: c}}, "v1")
	js, _ := json.Marshal(msg)
	if !strings.Contains(string(js), "Closed as true positive by Jira sync (SEC-123 resolved: Fixed)") || strings.Contains(string(js), "@Jira") {
		t.Fatalf("%s", js)
	}
}

// A group of repeats whose one issue was done: the sync closed every
// alert of it, and the entry says so once.
func TestGroupShowsItsAlertsClosedByTheJiraSync(t *testing.T) {
	in, group := groupedInput()
	v := formatting.Digest(in)[0].View
	byBot := &formatting.Closed{Classification: "true_positive", By: store.JiraSyncCloser, ByName: "Jira sync", Comment: "SEC-1 resolved: Fixed", Bot: true}
	st := map[string]formatting.AlertState{}
	for _, a := range group[:3] {
		st[formatting.AlertKeyOf(a.Tenant, a.ID)] = formatting.AlertState{Closed: byBot}
	}
	js, _ := json.Marshal(formatting.RenderDigest(v, st, "v1"))
	if !strings.Contains(string(js), ":white_check_mark: 3 of 7 closed as true positive by Jira sync (SEC-1 resolved: Fixed)") {
		t.Fatalf("partly closed group: %s", js)
	}
	for _, a := range group {
		st[formatting.AlertKeyOf(a.Tenant, a.ID)] = formatting.AlertState{Closed: byBot}
	}
	msg := formatting.RenderDigest(v, st, "v2")
	js, _ = json.Marshal(msg)
	if n := strings.Count(string(js), ":white_check_mark: all 7 closed as true positive by Jira sync (SEC-1 resolved: Fixed)"); n != 1 || strings.Contains(string(js), "Closed as true positive") {
		t.Fatalf("%d close lines for the group: %s", n, js)
	}
	if err := formatting.Check(msg); err != nil {
		t.Fatal(err)
	}
}
