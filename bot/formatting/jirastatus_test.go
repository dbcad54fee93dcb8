package formatting_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/soc/mcasbot/bot/formatting"
)

// The Jira sync's view of an issue replaces "filed by" on the alert's card.
func TestDigestShowsJiraStatus(t *testing.T) {
	chunk := formatting.Digest(digestInput(4))[0]
	filed := func(key string) *formatting.Filed {
		return &formatting.Filed{Key: key, URL: "https://jira.example/browse/" + key, By: "U0LEAD"}
	}
	as := chunk.View.Alerts
	key := func(i int) string { return formatting.AlertKeyOf(as[i].Tenant, as[i].ID) }
	states := map[string]formatting.AlertState{
		key(0): {Filed: filed("SEC-1"), Jira: &formatting.JiraStatus{Status: "In Progress", Category: "indeterminate", AssigneeSlack: "U0DAVE", AssigneeName: "Dave"}},
		key(1): {Filed: filed("SEC-2"), Jira: &formatting.JiraStatus{Status: "Done", Category: "done", Resolution: "Fixed", AssigneeName: "Erin <!channel> & co"}},
		key(2): {Filed: filed("SEC-3"), Jira: &formatting.JiraStatus{Gone: true, Status: "In Progress"}},
		key(3): {Filed: filed("SEC-4"), Jira: &formatting.JiraStatus{Status: "Done", Category: "done", Resolution: "Done"}},
		key(4): {Filed: filed("SEC-5")},
	}
	msg := formatting.RenderDigest(chunk.View, states, "v3")
	if err := formatting.Check(msg); err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(msg, "", "  ")
	golden(t, "digest_jira_status.golden.json", append(js, '\n'))
	var lines []string
	for _, b := range msg.Blocks.BlockSet {
		if strings.HasPrefix(b.ID(), "filed:") {
			raw, _ := json.Marshal(b)
			var ctx struct{ Elements []struct{ Text string } }
			_ = json.Unmarshal(raw, &ctx)
			lines = append(lines, ctx.Elements[0].Text)
		}
	}
	want := []string{
		":large_yellow_circle: <https://jira.example/browse/SEC-1|SEC-1> · In Progress · <@U0DAVE> · filed by <@U0LEAD>",
		":white_check_mark: <https://jira.example/browse/SEC-2|SEC-2> · Done (Fixed) · Erin &lt;!channel&gt; &amp; co · filed by <@U0LEAD>",
		":wastebasket: *SEC-3 no longer exists* in Jira · filed by <@U0LEAD>",
		":white_check_mark: <https://jira.example/browse/SEC-4|SEC-4> · Done · unassigned · filed by <@U0LEAD>",
		":white_check_mark: <https://jira.example/browse/SEC-5|SEC-5> filed by <@U0LEAD>",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("issue lines:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
