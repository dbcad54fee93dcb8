package bot_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/correlation"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
)

// Issue #11 end to end: the same attacker address and account in two
// tenants, and one user tripping one policy seven times.

const bob = "bob.smith@contoso.com"

// relatedFixtures replaces the sample tenants' alerts with the related
// samples (every alert high, as the workflow's digest wants): in contoso
// bob's seven Tor repeats (four from the shared exit) and an unrelated
// alert; in fabrikam bob's guest account and carol, both from the shared exit.
func relatedFixtures(w *workflow) (repeats []mcasfake.Alert) {
	repeats = mcasfake.Repeats("contoso", bob, "b1", 7, now.Add(-30*time.Minute), 50*time.Minute)
	single := mcasfake.Generate("contoso", 1, now.Add(-10*time.Minute), time.Minute, 42)[0]
	single.SeverityValue = 2
	single.Entities[1] = mcasfake.Entity{Type: "ip", ID: "45.155.205.233"}
	w.tenants[0].SetAlerts(append(slices.Clone(repeats), single))
	guest := mcasfake.Guest("fabrikam", bob, "f10000000000000000000001", now.Add(-2*time.Hour), 2)
	carol := mcasfake.Guest("fabrikam", bob, "f10000000000000000000002", now.Add(-3*time.Hour), 2)
	carol.Entities[0] = mcasfake.Entity{Type: "account", ID: "carol@fabrikam.com", Label: "carol@fabrikam.com", PA: "carol@fabrikam.com"}
	w.tenants[1].SetAlerts([]mcasfake.Alert{guest, carol})
	return repeats
}

func grouped(w *workflow, h *harness) {
	w.filing.RepeatWindow = correlation.DefaultWindow
	w.digest.GroupMin = 3
	w.digest.Repeats = w.filing
	h.runner.Related = &correlation.Finder{Store: w.store}
}

// cardTexts are the section texts of a message by block id (without the
// redraw version).
func cardTexts(t *testing.T, p slackfake.Post) map[string]string {
	t.Helper()
	var blocks slack.Blocks
	if err := json.Unmarshal(p.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, b := range blocks.BlockSet {
		id, _, _ := strings.Cut(b.ID(), "~")
		switch b := b.(type) {
		case *slack.SectionBlock:
			out[id] = b.Text.Text
		case *slack.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if txt, ok := e.(*slack.TextBlockObject); ok {
					out[id] += txt.Text
				}
			}
		}
	}
	return out
}

func TestGroupedRepeatsAndRelatedAlertsEndToEnd(t *testing.T) {
	js := newJira()
	defer js.Close()
	w := startWorkflow(t, filepath.Join(t.TempDir(), "state.db"), js, nil, grouped)
	repeats := relatedFixtures(w)
	ctx := context.Background()

	rep, err := w.digest.Run(ctx, false)
	if err != nil || rep.New != 10 || rep.Posted != 10 || rep.Messages != 1 || rep.Groups != 1 {
		t.Fatalf("digest %+v %v", rep, err)
	}
	parent := w.slack.Posts()[0]
	cards := cardTexts(t, parent)
	groupKey := formatting.AlertKeyOf("contoso", repeats[0].ID)
	guestKey := formatting.AlertKeyOf("fabrikam", "f10000000000000000000001")

	// One entry for the seven, with what fabrikam shares with them.
	group := cards["alert:"+groupKey]
	for _, want := range []string{"🔴 high ×7 *Activity from a Tor IP address* — " + bob,
		"*185.220.101.4* also seen in *fabrikam*: 2 alerts (2 high), newest <!date^",
		"*" + bob + "* also seen in *fabrikam*: 1 alert (1 high), newest <!date^",
		"`/mcas user bob.smith_contoso.com#EXT#@fabrikam.onmicrosoft.com tenant=fabrikam`"} {
		if !strings.Contains(group, want) {
			t.Errorf("group card lacks %q:\n%s", want, group)
		}
	}
	// The guest's alert in fabrikam: bob's account and the exit in contoso.
	guest := cards["alert:"+guestKey]
	for _, want := range []string{"*185.220.101.4* also seen in *contoso*: 4 alerts (4 high)",
		"also seen in *contoso*: 7 alerts (7 high)", "`/mcas user " + bob + " tenant=contoso`"} {
		if !strings.Contains(guest, want) {
			t.Errorf("guest card lacks %q:\n%s", want, guest)
		}
	}
	if cross := cards["cross-tenant"]; !strings.Contains(cross, "• IP *185.220.101.4*: contoso 4 · fabrikam 2") ||
		!strings.Contains(cross, "• Account *"+bob+"*: contoso 7 · fabrikam 1") || strings.Contains(cross, "185.220.102.8") {
		t.Errorf("cross-tenant section:\n%s", cross)
	}
	var blocks slack.Blocks
	_ = json.Unmarshal(parent.Blocks, &blocks)
	buttons := formatting.ButtonsOf(blocks.BlockSet)
	if len(buttons) != 4 || !buttons[groupKey].Group {
		t.Fatalf("buttons %+v", buttons)
	}
	// Exactly once stays per alert: all seven are recorded as posted here.
	for _, a := range repeats {
		if loc, ok, _ := w.store.Message(ctx, "contoso", a.ID); !ok || loc.TS != parent.TS {
			t.Fatalf("%s not recorded as posted: %+v", a.ID, loc)
		}
	}

	// The group's Create Jira files one issue listing all seven.
	w.click(t, lead, parent, formatting.ActionCreateJira+":"+groupKey)
	ups, err := w.slack.WaitPosts(1, 10*time.Second, func(p slackfake.Post) bool { return p.Method == "chat.update" && p.TS == parent.TS })
	if err != nil {
		t.Fatal(err)
	}
	if n := len(js.Issues()); n != 1 {
		t.Fatalf("%d issues", n)
	}
	is := js.Issues()[0]
	var labels []string
	_ = json.Unmarshal(is.Fields["labels"], &labels)
	var desc, summary string
	_ = json.Unmarshal(is.Fields["description"], &desc)
	_ = json.Unmarshal(is.Fields["summary"], &summary)
	for _, a := range repeats {
		if !slices.Contains(labels, "mcas-"+a.ID) || !strings.Contains(desc, a.ID) {
			t.Errorf("issue does not list %s", a.ID)
		}
	}
	if !strings.Contains(summary, "×7") {
		t.Errorf("summary %q", summary)
	}
	// Redrawn from state: the group shows its issue, the others keep their buttons.
	after := cardTexts(t, ups[0])
	if f := after["filed:"+groupKey]; !strings.Contains(f, "SEC-1") || !strings.Contains(f, "· all 7 alerts") {
		t.Fatalf("group after filing: %q", f)
	}
	_ = json.Unmarshal(ups[0].Blocks, &blocks)
	if b := formatting.ButtonsOf(blocks.BlockSet); len(b) != 3 {
		t.Fatalf("%d buttons after filing the group", len(b))
	}
	if !strings.Contains(after["alert:"+groupKey], "also seen in *fabrikam*") {
		t.Fatal("the redraw lost the related lines")
	}

	// /mcas user and /mcas ip say the same from the store.
	id, _ := w.command(t, "user "+bob)
	reps, err := w.slack.Responses(id, 1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(reps[0].Raw)
	for _, want := range []string{"*Related in other tenants* (alerts of the last 7 d)",
		"*185.220.101.4* (contoso) also seen in *fabrikam*: 2 alerts (2 high)", "*" + bob + "* (contoso) also seen in *fabrikam*: 1 alert (1 high)"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("/mcas user reply lacks %q", want)
		}
	}
	id, _ = w.command(t, "ip 185.220.101.4")
	reps, err = w.slack.Responses(id, 1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = json.Marshal(reps[0].Raw)
	for _, want := range []string{"*Seen in 2 tenants*", "• *contoso*: 4 alerts (4 high)", "• *fabrikam*: 2 alerts (2 high)"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("/mcas ip reply lacks %q: %s", want, raw)
		}
	}

	// A later run brings an eighth: it goes to SEC-1 as a comment and is
	// posted as filed there, with no button to file it again.
	eighth := mcasfake.Repeats("contoso", bob, "b8", 1, now.Add(-5*time.Minute), time.Minute)[0]
	w.tenants[0].AddAlerts(eighth)
	before := len(w.slack.Posts())
	rep, err = w.digest.Run(ctx, false)
	if err != nil || rep.Posted != 1 || rep.Appended != 1 {
		t.Fatalf("second digest %+v %v", rep, err)
	}
	if n := len(js.Issues()); n != 1 {
		t.Fatalf("%d issues after the repeat", n)
	}
	comments := js.Comments("SEC-1")
	if len(comments) != 1 || !strings.Contains(comments[0].Body, eighth.ID) {
		t.Fatalf("comments %+v", comments)
	}
	var posted slackfake.Post
	for _, p := range w.slack.Posts()[before:] {
		if p.Method == "chat.postMessage" {
			posted = p
		}
	}
	later := cardTexts(t, posted)
	if f := later["filed:"+formatting.AlertKeyOf("contoso", eighth.ID)]; !strings.Contains(f, "SEC-1") {
		t.Fatalf("the repeat is not shown as filed: %v", later)
	}
	_ = json.Unmarshal(posted.Blocks, &blocks)
	if b := formatting.ButtonsOf(blocks.BlockSet); len(b) != 0 {
		t.Fatalf("the repeat kept a Create Jira button: %v", b)
	}
	if rec, _, _ := w.store.Issue(ctx, "contoso", eighth.ID); rec.Key != "SEC-1" {
		t.Fatalf("the repeat is recorded as %+v", rec)
	}
}

func TestWithGroupingOffEveryAlertIsItsOwnEntry(t *testing.T) {
	js := newJira()
	defer js.Close()
	w := startWorkflow(t, filepath.Join(t.TempDir(), "state.db"), js, nil)
	repeats := relatedFixtures(w)
	ctx := context.Background()
	rep, err := w.digest.Run(ctx, false)
	if err != nil || rep.Posted != 10 || rep.Groups != 0 {
		t.Fatalf("digest %+v %v", rep, err)
	}
	parent := w.slack.Posts()[0]
	var blocks slack.Blocks
	_ = json.Unmarshal(parent.Blocks, &blocks)
	buttons := formatting.ButtonsOf(blocks.BlockSet)
	if len(buttons) != 10 || strings.Contains(string(parent.Blocks), "×7") {
		t.Fatalf("%d buttons for 10 alerts", len(buttons))
	}
	for _, v := range buttons {
		if v.Group {
			t.Fatal("a group button with grouping off")
		}
	}
	// Each repeat files its own issue, as before.
	w.click(t, lead, parent, formatting.ActionCreateJira+":"+formatting.AlertKeyOf("contoso", repeats[0].ID))
	if _, err := w.slack.WaitPosts(1, 10*time.Second, func(p slackfake.Post) bool { return p.Method == "chat.update" }); err != nil {
		t.Fatal(err)
	}
	w.tenants[0].AddAlerts(mcasfake.Repeats("contoso", bob, "b8", 1, now.Add(-5*time.Minute), time.Minute)...)
	if rep, err := w.digest.Run(ctx, false); err != nil || rep.Posted != 1 || rep.Appended != 0 {
		t.Fatalf("second digest %+v %v", rep, err)
	}
	if len(js.Issues()) != 1 || len(js.Comments("SEC-1")) != 0 {
		t.Fatalf("%d issues, %d comments", len(js.Issues()), len(js.Comments("SEC-1")))
	}
}
