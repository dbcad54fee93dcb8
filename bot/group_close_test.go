package bot_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store/storetest"
)

// Issue #11 end to end: a group of repeats' Details and Close….

// groupDigest posts a digest whose first entry is bob's seven repeats and
// returns the parent message, the repeats (newest first) and the group's
// menu.
func groupDigest(t *testing.T, js *jirafake.Server) (*workflow, slackfake.Post, []mcasfake.Alert, string) {
	t.Helper()
	w := startWorkflow(t, filepath.Join(t.TempDir(), "state.db"), js, nil, grouped)
	repeats := relatedFixtures(w)
	if rep, err := w.digest.Run(context.Background(), false); err != nil || rep.Groups != 1 {
		t.Fatalf("digest %+v %v", rep, err)
	}
	menu := formatting.ActionMenu + ":" + formatting.AlertKeyOf("contoso", repeats[0].ID)
	return w, w.slack.Posts()[0], repeats, menu
}

func groupValue(op string, repeats []mcasfake.Alert) string {
	return formatting.TriageValue{Op: op, Tenant: "contoso", AlertID: repeats[0].ID, Group: true}.String()
}

func sortedIDs(as []mcasfake.Alert) []string {
	var ids []string
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	slices.Sort(ids)
	return ids
}

// waitReply waits for a response_url post containing want.
func (w *workflow) waitReply(t *testing.T, want string) slackfake.Post {
	t.Helper()
	got, err := w.slack.WaitPosts(1, 10*time.Second, func(p slackfake.Post) bool {
		return p.Method == "response_url" && strings.Contains(p.Text, want)
	})
	if err != nil {
		var texts []string
		for _, p := range w.slack.Posts() {
			if p.Method == "response_url" {
				texts = append(texts, p.Text)
			}
		}
		t.Fatalf("no reply with %q: %v\nreplies: %q", want, err, texts)
	}
	return got[0]
}

func TestGroupCloseEndToEnd(t *testing.T) {
	js := newJira()
	defer js.Close()
	w, parent, repeats, menu := groupDigest(t, js)
	contoso := w.tenant("contoso")
	// The group's issue first: the close comments on it.
	w.click(t, lead, parent, formatting.ActionCreateJira+":"+formatting.AlertKeyOf("contoso", repeats[0].ID))
	w.waitUpdate(t, parent, "all 7 alerts")

	// dave opens the form too, and submits after lead.
	daveView := w.openForm(t, dave, w.slack.Current(parent), menu, groupValue(formatting.OpClose, repeats))
	viewID := w.openForm(t, lead, w.slack.Current(parent), menu, groupValue(formatting.OpClose, repeats))
	form := string(w.slack.ViewBody(viewID))
	for _, want := range []string{`"text":"Close 7 alerts"`, "*Close 7 alerts: Activity from a Tor IP address — " + bob + "*\\ncontoso · "} {
		if !strings.Contains(form, want) {
			t.Fatalf("the form lacks %s:\n%s", want, form)
		}
	}
	w.choose(t, lead, viewID, source.Benign)
	if _, action, errs := w.submit(t, lead, viewID, closeForm("benign/confirmed_with_end_user", "Bob is travelling. <!channel>")); action != "" || errs != nil {
		t.Fatalf("ack %s %v", action, errs)
	}
	msg := w.waitUpdate(t, parent, "all 7 closed as benign (confirmed with end user) by \\u003c@"+lead+"\\u003e")

	// One call to close_benign with every id and the reason.
	closes := contoso.Closes()
	if len(closes) != 1 {
		t.Fatalf("%d close calls", len(closes))
	}
	c := closes[0]
	if c.Kind != "benign" || c.ReasonID == nil || *c.ReasonID != 5 || !slices.Equal(c.IDs, sortedIDs(repeats)) ||
		c.Comment != "Closed from Slack by u0lead: Bob is travelling. <!channel>" {
		t.Fatalf("MCAS got %+v", c)
	}
	var closeReq *mcasfake.Request
	for _, r := range contoso.Requests() {
		if strings.HasPrefix(r.Path, "/api/v1/alerts/close_") {
			closeReq = &r
		}
	}
	if closeReq == nil || closeReq.Method != "POST" || closeReq.Path != "/api/v1/alerts/close_benign/" {
		t.Fatalf("close request %+v", closeReq)
	}
	// The group lost Close… and kept Details and Create Jira's issue; the
	// other entries keep their Close….
	s := string(msg.Blocks)
	if strings.Contains(s, groupValue(formatting.OpClose, repeats)) || !strings.Contains(s, groupValue(formatting.OpDetails, repeats)) ||
		!strings.Contains(s, `"value":"close|`) || !strings.Contains(s, "\\u0026lt;!channel\\u0026gt;") {
		t.Fatalf("message after the close:\n%s", s)
	}
	// The group's issue got one comment naming all seven.
	comments := js.Comments("SEC-1")
	if len(comments) != 1 {
		t.Fatalf("%d comments", len(comments))
	}
	text, _ := jirafake.Render(comments[0].Body)
	for _, id := range append(sortedIDs(repeats), "7 alerts closed", "Reason: confirmed with end user") {
		if !strings.Contains(text, id) {
			t.Errorf("comment lacks %s:\n%s", id, text)
		}
	}
	w.waitReply(t, "all 7 alerts of the group in contoso, with one call to MCAS.\nAdded a comment to ")
	if n := strings.Count(w.logs.String(), `"msg":"audit: alert closed"`); n != 7 {
		t.Fatalf("%d audit lines for 7 alerts", n)
	}
	if !strings.Contains(w.logs.String(), `"group":"`+repeats[0].ID+`"`) {
		t.Fatal("the audit lines do not name the group")
	}

	// dave's form, submitted after: told who closed them, nothing called.
	w.choose(t, dave, daveView, source.TruePositive)
	if _, action, errs := w.submit(t, dave, daveView, closeForm("", "")); action != "" || errs != nil {
		t.Fatalf("ack %s %v", action, errs)
	}
	w.waitReply(t, "Nothing left to close: all 7 closed as benign (confirmed with end user) by <@"+lead+">")
	// Close… on a stale copy says so at once, without a form.
	opens := len(w.slack.Views())
	click := w.pick(t, dave, parent, menu, groupValue(formatting.OpClose, repeats))
	if r := w.reply(t, click); !strings.Contains(r.Text, "Nothing left to close: all 7 closed as benign") {
		t.Fatalf("reply %q", r.Text)
	}
	if len(w.slack.Views()) != opens || len(contoso.Closes()) != 1 {
		t.Fatal("a form opened, or MCAS was called, for a closed group")
	}
}

// Details on a group lists its alerts; its menu opens any one's card.
// Two alerts closed from their cards are then left out of the group's close.
func TestGroupDetailsAndAPartlyClosedGroup(t *testing.T) {
	w, parent, repeats, menu := groupDigest(t, newJira())
	contoso := w.tenant("contoso")
	click := w.pick(t, analyst, parent, menu, groupValue(formatting.OpDetails, repeats))
	list := w.reply(t, click)
	if m := decode(t, list.Raw); m.ReplaceOriginal || m.ResponseType != "ephemeral" {
		t.Fatalf("details replaced the digest: %+v", m)
	}
	s := string(list.Blocks)
	for _, a := range repeats {
		if !strings.Contains(s, "`"+a.ID+"`") || !strings.Contains(s, `"value":"details|contoso|`+a.ID+`"`) {
			t.Errorf("%s not listed, or not in the menu", a.ID)
		}
	}
	if !strings.Contains(s, "×7 Activity from a Tor IP address — "+bob) || !strings.Contains(s, "185.220.101.4") {
		t.Fatalf("list:\n%s", s)
	}
	// Its menu opens one alert's card, read from MCAS.
	pick := func(a mcasfake.Alert) slackfake.Post {
		t.Helper()
		reads := func() int {
			n := 0
			for _, r := range contoso.Requests() {
				if r.Method == "GET" && r.Path == "/api/v1/alerts/"+a.ID+"/" {
					n++
				}
			}
			return n
		}
		before := reads()
		id := w.pick(t, dave, list, formatting.ActionDetails, formatting.TriageValue{Op: formatting.OpDetails, Tenant: "contoso", AlertID: a.ID}.String())
		card := w.reply(t, id)
		if !strings.Contains(string(card.Blocks), "`"+a.ID+"`") || !strings.Contains(string(card.Blocks), `"block_id":"card-status"`) {
			t.Fatalf("card of %s:\n%s", a.ID, card.Blocks)
		}
		if reads() != before+1 {
			t.Fatalf("the card was not read from MCAS: %d reads", reads()-before)
		}
		return card
	}
	// dave closes two of them from their cards.
	for _, a := range []mcasfake.Alert{repeats[2], repeats[4]} {
		card := pick(a)
		viewID := w.openForm(t, dave, card, formatting.ActionClose+":"+formatting.AlertKeyOf("contoso", a.ID), "")
		w.choose(t, dave, viewID, source.TruePositive)
		if _, action, errs := w.submit(t, dave, viewID, closeForm("", "")); action != "" || errs != nil {
			t.Fatalf("ack %s %v", action, errs)
		}
		w.waitUpdate(t, parent, "closed as true positive by \\u003c@"+dave+"\\u003e")
	}
	msg := w.waitUpdate(t, parent, "2 of 7 closed as true positive by \\u003c@"+dave+"\\u003e")
	if !strings.Contains(string(msg.Blocks), groupValue(formatting.OpClose, repeats)) {
		t.Fatal("Close… left a group with open alerts")
	}
	// The group's form says what is left out; the close calls MCAS once,
	// with the other five.
	viewID := w.openForm(t, lead, w.slack.Current(parent), menu, groupValue(formatting.OpClose, repeats))
	if form := string(w.slack.ViewBody(viewID)); !strings.Contains(form, "the 5 still open are closed with one call; the 2 already closed are left out") ||
		!strings.Contains(form, `"text":"Close 5 open"`) {
		t.Fatalf("form:\n%s", form)
	}
	w.choose(t, lead, viewID, source.FalsePositive)
	w.submit(t, lead, viewID, closeForm("false_positive/too_many_similar_alerts", ""))
	w.waitUpdate(t, parent, "all 7 closed: 5 closed as false positive (too many similar alerts) by \\u003c@"+lead+"\\u003e · 2 closed as true positive by \\u003c@"+dave+"\\u003e")
	closes := contoso.Closes()
	if len(closes) != 3 {
		t.Fatalf("%d close calls", len(closes))
	}
	var rest []mcasfake.Alert
	for i, a := range repeats {
		if i != 2 && i != 4 {
			rest = append(rest, a)
		}
	}
	if c := closes[2]; c.Kind != "false_positive" || *c.ReasonID != 1 || !slices.Equal(c.IDs, sortedIDs(rest)) {
		t.Fatalf("group call %+v", c)
	}
	w.waitReply(t, "5 of the group's 7 alerts in contoso, with one call to MCAS.\n:information_source: Left out: 2 already closed as true positive by <@"+dave+">.")
	// Details now shows who closed each.
	click = w.pick(t, analyst, w.slack.Current(parent), menu, groupValue(formatting.OpDetails, repeats))
	if r := w.reply(t, click); strings.Count(string(r.Blocks), "Closed as false positive by") != 5 || strings.Count(string(r.Blocks), "Closed as true positive by") != 2 {
		t.Fatalf("details after the close:\n%s", r.Blocks)
	}
}

// A 403 closes nothing: every claim is released, the message keeps
// Close…, and the analyst is told why.
func TestAFailedGroupCloseKeepsCloseAndSaysWhy(t *testing.T) {
	w, parent, repeats, menu := groupDigest(t, newJira())
	contoso := w.tenant("contoso")
	contoso.Fail(mcasfake.Fault{Path: "/api/v1/alerts/close_", Status: 403, Body: `{"detail":"You do not have permission to perform this action."}`})
	viewID := w.openForm(t, lead, parent, menu, groupValue(formatting.OpClose, repeats))
	w.choose(t, lead, viewID, source.TruePositive)
	w.submit(t, lead, viewID, closeForm("", ""))
	told := w.waitReply(t, "Could not close the alerts")
	if !strings.Contains(told.Text, "Investigation.manage") || !strings.Contains(told.Text, "Close… stays") {
		t.Fatalf("reply %q", told.Text)
	}
	for _, p := range w.slack.Posts() {
		if p.Method == "chat.update" && p.TS == parent.TS {
			t.Fatal("the message changed after a failed close")
		}
	}
	if n := strings.Count(w.logs.String(), `"msg":"audit: alert close failed"`); n != 7 {
		t.Fatalf("%d failure audit lines for 7 alerts", n)
	}
	// Fixed (the fault is spent): the same group closes now, in one call.
	viewID = w.openForm(t, lead, parent, menu, groupValue(formatting.OpClose, repeats))
	w.choose(t, lead, viewID, source.TruePositive)
	w.submit(t, lead, viewID, closeForm("", ""))
	w.waitUpdate(t, parent, "all 7 closed as true positive")
	if c := contoso.Closes(); len(c) != 1 || len(c[0].IDs) != 7 {
		t.Fatalf("close calls %+v", c)
	}
}

// Two replicas on one PostgreSQL, two analysts submitting the group's
// Close… at the same moment, each handled by another replica: one close
// call with all seven, and the other analyst is told who closed them.
func TestTwoReplicasCloseAGroupOnce(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	js := newJira()
	defer js.Close()
	a := startWorkflow(t, dbURL, js, nil, grouped)
	b := startWorkflow(t, dbURL, js, a.slack, grouped)
	if err := a.slack.WaitConnections(2, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	repeats := relatedFixtures(a)
	relatedFixtures(b)
	for _, w := range []*workflow{a, b} {
		for _, f := range w.tenants {
			f.SetLatency(150 * time.Millisecond) // the claims race, not the calls
		}
	}
	if _, err := a.digest.Run(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	parent := a.slack.Posts()[0]
	menu := formatting.ActionMenu + ":" + formatting.AlertKeyOf("contoso", repeats[0].ID)
	views := map[string]string{}
	for _, user := range []string{lead, dave} {
		views[user] = a.openForm(t, user, parent, menu, groupValue(formatting.OpClose, repeats))
		a.choose(t, user, views[user], source.Benign)
	}
	var wg sync.WaitGroup
	for user, reason := range map[string]string{lead: "benign/triggered_by_test", dave: "benign/actual_severity_lower"} {
		wg.Go(func() {
			id, err := a.slack.Submit(user, views[user], closeForm(reason, ""))
			if err == nil {
				_, err = a.slack.WaitAck(id, 5*time.Second)
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	told, err := a.slack.WaitPosts(2, 20*time.Second, func(p slackfake.Post) bool {
		return p.Method == "response_url" && (strings.Contains(p.Text, "with one call to MCAS") || strings.Contains(p.Text, "Nothing left to close"))
	})
	if err != nil {
		t.Fatalf("%v: %+v", err, a.slack.Posts())
	}
	var calls []mcasfake.Close
	for _, w := range []*workflow{a, b} {
		calls = append(calls, w.tenant("contoso").Closes()...)
	}
	if len(calls) != 1 || !slices.Equal(calls[0].IDs, sortedIDs(repeats)) {
		t.Fatalf("close calls from two replicas: %+v", calls)
	}
	// Whoever won, the other was told it was them.
	winner := map[bool]string{true: "triggered by test", false: "actual severity is lower"}[calls[0].ReasonID != nil && *calls[0].ReasonID == 6]
	for _, p := range told {
		if !strings.Contains(p.Text, winner) {
			t.Fatalf("told %q; the close was %q", p.Text, winner)
		}
	}
}
