package formatting_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// Issue #16: the bot's close yields to the alert's live state.
func TestAReopenedAlertsCardIsOpenWithClose(t *testing.T) {
	closeAction := `"action_id":"alert_close:contoso:65a1b2c3d4e5f60718293a4b"`
	earlier := &store.CloseRecord{State: store.CloseDone, By: "U0CAROL", ByName: "carol", Classification: "benign",
		Reason: "triggered_by_test", Comment: "pen test <!here>", ClosedAt: now.Add(-26 * time.Hour)}
	note := "Closed before as benign (triggered by test) by \\u003c@U0CAROL\\u003e on " + now.Add(-26*time.Hour).Format("2006-01-02 15:04") +
		" UTC; reopened in Defender since."
	for _, state := range []store.CloseState{store.CloseDone, store.CloseReopened} {
		r := alertResult()
		rec := *earlier
		rec.State = state
		r.Close = &rec
		js, _ := json.Marshal(formatting.Reply(r))
		s := string(js)
		if !strings.Contains(s, ":large_green_circle: *Open* · read\\n:leftwards_arrow_with_hook: "+note) || !strings.Contains(s, closeAction) ||
			strings.Contains(s, "pen test") || !strings.Contains(s, "(open)") {
			t.Errorf("%s record, open alert: %s", state, s)
		}
		if p := formatting.Plain(r); !strings.Contains(p, "Closed before as benign (triggered by test) by @carol on ") {
			t.Errorf("plain card: %s", p)
		}
	}
	// Reopened in the store, then closed again in the portal: the portal's
	// close shows, with no Close… and no note.
	r := alertResult()
	rec := *earlier
	rec.State = store.CloseReopened
	r.Close = &rec
	r.Found[0].Resolution, r.Found[0].HandledBy, r.Found[0].ResolveTime = source.ResolutionResolved, "erin@contoso.com", now
	js, _ := json.Marshal(formatting.Reply(r))
	if s := string(js); strings.Contains(s, closeAction) || strings.Contains(s, "reopened") || !strings.Contains(s, "Resolved in Defender by erin@contoso.com") {
		t.Errorf("closed again in the portal: %s", s)
	}
}

// A reopened alert's digest entry is drawn open again, with Close… and a
// note of the earlier close.
func TestDigestEntryOfAReopenedAlert(t *testing.T) {
	v := formatting.Digest(digestInput(4))[0].View
	a := v.Alerts[1]
	key := formatting.AlertKeyOf(a.Tenant, a.ID)
	earlier := &formatting.Closed{Classification: "false_positive", Reason: "not_of_interest", By: "U0DAVE", Comment: "noise", At: now}
	js, _ := json.Marshal(formatting.RenderDigest(v, map[string]formatting.AlertState{key: {Reopened: earlier}}, "v4"))
	s := string(js)
	if !strings.Contains(s, "close|"+a.Tenant+"|"+a.ID) || !strings.Contains(s, ":leftwards_arrow_with_hook: Closed before as false positive (not of interest) by \\u003c@U0DAVE\\u003e on ") ||
		strings.Contains(s, "noise") || strings.Contains(s, ":white_check_mark:") {
		t.Fatalf("reopened entry: %s", s)
	}
}

// A group of more than 100 open alerts is closed with one request per 100:
// its form says how many.
func TestLargeGroupFormSaysHowManyCalls(t *testing.T) {
	for _, tc := range []struct {
		group, open int
		want        string
	}{
		{250, 250, "every alert of the group is closed with 3 calls of at most 100 (first: "},
		{250, 180, "the 180 still open are closed with 2 calls of at most 100; the 70 already closed are left out."},
		{250, 100, "the 100 still open are closed with one call; the 150 already closed are left out."},
		{100, 100, "every alert of the group is closed with one call (first: "},
	} {
		tg := groupTarget()
		tg.Group, tg.Open = tc.group, tc.open
		js, _ := json.Marshal(formatting.CloseModal(tg, ""))
		if !strings.Contains(string(js), tc.want) {
			t.Errorf("%d of %d open: form lacks %q:\n%s", tc.open, tc.group, tc.want, js)
		}
	}
}
