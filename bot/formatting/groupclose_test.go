package formatting_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/source"
)

// closedBy is the state of alerts closed from Slack by carol.
func closedBy(as []source.Alert, c formatting.Closed) map[string]formatting.AlertState {
	st := map[string]formatting.AlertState{}
	for _, a := range as {
		cc := c
		st[formatting.AlertKeyOf(a.Tenant, a.ID)] = formatting.AlertState{Closed: &cc}
	}
	return st
}

var carolsClose = formatting.Closed{Classification: "benign", Reason: "confirmed_with_end_user", By: "U0CAROL", Comment: "Travelling <!here>"}

// The group's menu and its closed state: Close… stays while any alert is
// open; the card says how much is closed, and how.
func TestGoldenGroupClosed(t *testing.T) {
	in, group := groupedInput()
	v := formatting.Digest(in)[0].View
	for name, states := range map[string]map[string]formatting.AlertState{
		"digest_group_closed_partly": closedBy(group[:3], carolsClose),
		"digest_group_closed":        closedBy(group, carolsClose),
	} {
		t.Run(name, func(t *testing.T) {
			msg := formatting.RenderDigest(v, states, "v1")
			if err := formatting.Check(msg); err != nil {
				t.Fatal(err)
			}
			js, _ := json.MarshalIndent(msg, "", "  ")
			golden(t, name+".golden.json", append(js, '\n'))
			assertNoLiveMarkup(t, ownMentions(js))
			s := string(js)
			closeOpt := formatting.TriageValue{Op: formatting.OpClose, Tenant: "contoso", AlertID: group[0].ID, Group: true}.String()
			detailsOpt := formatting.TriageValue{Op: formatting.OpDetails, Tenant: "contoso", AlertID: group[0].ID, Group: true}.String()
			if !strings.Contains(s, `"value": "`+detailsOpt+`"`) {
				t.Fatal("the group has no Details")
			}
			if len(states) == 7 {
				if strings.Contains(s, closeOpt) || !strings.Contains(s, `:white_check_mark: all 7 closed as benign (confirmed with end user) by \u003c@U0CAROL\u003e: \"Travelling \u0026lt;!here\u0026gt;\"`) {
					t.Fatalf("closed group:\n%s", s)
				}
			} else if !strings.Contains(s, closeOpt) || !strings.Contains(s, ":white_check_mark: 3 of 7 closed as benign (confirmed with end user) by \\u003c@U0CAROL\\u003e") {
				t.Fatalf("partly closed group:\n%s", s)
			}
			// Create Jira for the group stays, as on a closed alert.
			if !strings.Contains(s, "Create Jira for all 7") {
				t.Fatal("closing removed Create Jira")
			}
		})
	}
}

// Alerts closed in different ways are counted by way.
func TestGroupClosedDifferently(t *testing.T) {
	in, group := groupedInput()
	v := formatting.Digest(in)[0].View
	states := closedBy(group[:4], carolsClose)
	for i, a := range group[4:] {
		states[formatting.AlertKeyOf(a.Tenant, a.ID)] = formatting.AlertState{Closed: &formatting.Closed{Classification: "resolved", Elsewhere: true,
			HandledBy: "erin@contoso.com", At: now.Add(time.Duration(i) * time.Minute)}}
	}
	js, _ := json.Marshal(formatting.RenderDigest(v, states, "v1"))
	want := `:white_check_mark: all 7 closed: 4 closed as benign (confirmed with end user) by \u003c@U0CAROL\u003e: \"Travelling \u0026lt;!here\u0026gt;\" · 3 resolved in Defender by erin@contoso.com`
	if !strings.Contains(string(js), want) {
		t.Fatalf("lacks %s:\n%s", want, js)
	}
	cs := []formatting.Closed{carolsClose, {Classification: "resolved", Elsewhere: true}}
	if got := formatting.GroupAlreadyClosedText(cs, 2); got != `:information_source: Nothing left to close: all 2 closed: 1 closed as benign (confirmed with end user) by <@U0CAROL>: "Travelling &lt;!here&gt;" · 1 resolved in Defender.` {
		t.Fatalf("%q", got)
	}
	if got := formatting.GroupAlreadyClosedText(cs[:1], 1); got != `:information_source: Nothing left to close: all 1 closed as benign (confirmed with end user) by <@U0CAROL>: "Travelling &lt;!here&gt;"` {
		t.Fatalf("%q", got)
	}
}

func TestGroupTriageValueRoundTrips(t *testing.T) {
	v := formatting.TriageValue{Op: formatting.OpClose, Tenant: "contoso", AlertID: strings.Repeat("a", 64), Group: true}
	if len(v.String()) > 150 {
		t.Fatalf("value of %d characters", len(v.String()))
	}
	back, err := formatting.ParseTriageValue(v.String())
	if err != nil || back != v {
		t.Fatalf("%+v %v", back, err)
	}
	for _, bad := range []string{"group_|contoso|abc", "group_open|contoso|abc", "group_close|contoso|a/b"} {
		if _, err := formatting.ParseTriageValue(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func groupTarget() formatting.CloseTarget {
	t := target()
	t.Title, t.Group, t.Open = "<!channel> Activity from a Tor IP address — bob.smith@contoso.com", 7, 5
	return t
}

func TestGoldenGroupModal(t *testing.T) {
	v := formatting.CloseModal(groupTarget(), source.Benign)
	if err := formatting.CheckModal(v); err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(v, "", "  ")
	golden(t, "modal_group.golden.json", append(js, '\n'))
	assertNoLiveMarkup(t, ownMentions(js))
	s := string(js)
	for _, want := range []string{`"text": "Close 7 alerts"`, `"text": "Close 5 open"`,
		`*Close 7 alerts: \u0026lt;!channel\u0026gt; Activity from a Tor IP address — bob.smith@contoso.com*\ncontoso · the 5 still open are closed with one call; the 2 already closed are left out.`} {
		if !strings.Contains(s, want) {
			t.Errorf("group form lacks %s", want)
		}
	}
	// The form comes back as a group's, for the reason list and the submission.
	form, errs := formatting.ParseCloseSubmission(submission(v, "benign", "benign/triggered_by_test", ""))
	if errs != nil || form.Target.Group != 7 || form.Target.Open != 5 || form.Target.AlertID != target().AlertID || form.Target.TS == "" {
		t.Fatalf("%+v %v", form, errs)
	}
	// Huge titles and response_urls still fit private_metadata.
	tg := groupTarget()
	tg.Title, tg.ResponseURL = strings.Repeat("\"<&>é", 2000), "https://hooks.slack.com/"+strings.Repeat("x", 2990)
	md := tg.Metadata()
	back, err := formatting.ParseCloseTarget(md)
	if n := utf8.RuneCountInString(md); n > formatting.MaxMetadata || err != nil || back.Group != 7 || back.TS != tg.TS {
		t.Fatalf("private_metadata of %d characters: %+v %v", n, back, err)
	}
	// Every alert open: no "left out".
	tg = groupTarget()
	tg.Open = 7
	v = formatting.CloseModal(tg, "")
	if js, _ := json.Marshal(v); strings.Contains(string(js), "left out") || !strings.Contains(string(js), `"text":"Close 7 alerts"`) {
		t.Fatalf("%s", js)
	}
}

func TestGoldenGroupDetails(t *testing.T) {
	in, group := groupedInput()
	states := closedBy(group[5:], carolsClose)
	msg := formatting.GroupDetails(in.Groups[0], group, states)
	if err := formatting.Check(msg); err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(msg, "", "  ")
	golden(t, "group_details.golden.json", append(js, '\n'))
	assertNoLiveMarkup(t, ownMentions(js))
	s := string(js)
	for _, a := range group {
		if !strings.Contains(s, "`"+a.ID+"`") || !strings.Contains(s, `"value": "details|contoso|`+a.ID+`"`) {
			t.Errorf("%s is not listed or not in the menu", a.ID)
		}
	}
	if strings.Count(s, "Closed as benign") != 2 || !strings.Contains(s, "2 of 7 closed as benign") {
		t.Fatalf("closes not shown:\n%s", s)
	}
}

// A huge group lists what fits, and its menu the first 100.
func TestGroupDetailsOfAHugeGroup(t *testing.T) {
	var as []source.Alert
	var ids []string
	for i := range 250 {
		a := torRepeat(i % 7)
		a.ID = fmt.Sprintf("7f%022x", i)
		a.Entities[0].UPN = strings.Repeat("long.user.name.", 4) + "@contoso.com"
		as = append(as, a)
		ids = append(ids, a.ID)
	}
	g := formatting.DigestGroup{Tenant: "contoso", Policy: "p", By: "account", Value: "x", IDs: ids}
	msg := formatting.GroupDetails(g, as, closedBy(as, carolsClose))
	if err := formatting.Check(msg); err != nil {
		t.Fatal(err)
	}
	last := msg.Blocks.BlockSet[len(msg.Blocks.BlockSet)-1].(*slack.ActionBlock)
	if n := len(last.Elements.ElementSet[0].(*slack.SelectBlockElement).Options); n != 100 {
		t.Fatalf("%d options", n)
	}
	js, _ := json.Marshal(msg)
	if !strings.Contains(string(js), "more; the menu below holds the first 100.") {
		t.Fatalf("no note of the rest: %s", js)
	}
}

// ownMentions hides the mentions the bot writes itself (who closed).
func ownMentions(js []byte) []byte {
	return []byte(strings.ReplaceAll(string(js), `\u003c@U0CAROL\u003e`, "@U0CAROL"))
}
