package bot_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
)

// Issue #16: repeats of a group whose issue is done are not added to that
// issue (nobody reads it); they start a new entry that links it, and its
// Create Jira files a new issue naming the earlier one, which later repeats
// then join. While the issue is open, repeats stay a comment.
func TestRepeatsAfterTheIssueIsDoneStartANewIssue(t *testing.T) {
	w := startSync(t, grouped)
	repeats := relatedFixtures(w.workflow)
	ctx := context.Background()
	w.digest.MinSeverity = 2 // high: the fixtures' alerts

	if _, err := w.digest.Run(ctx, false); err != nil {
		t.Fatal(err)
	}
	parent := w.slack.Posts()[0]
	groupKey := formatting.AlertKeyOf("contoso", repeats[0].ID)
	w.click(t, lead, parent, formatting.ActionCreateJira+":"+groupKey)
	if _, err := w.slack.WaitPosts(1, 10*time.Second, func(p slackfake.Post) bool { return p.Method == "chat.update" && p.TS == parent.TS }); err != nil {
		t.Fatal(err)
	}
	first := w.jira.Issues()[0].Key

	// While SEC-1 is in progress, a repeat is a comment on it.
	_ = w.jira.Move(first, "In Progress", "")
	w.run(t)
	w.tenants[0].AddAlerts(mcasfake.Repeats("contoso", bob, "b8", 1, now.Add(-5*time.Minute), time.Minute)...)
	if rep, err := w.digest.Run(ctx, false); err != nil || rep.Appended != 1 || rep.AfterDone != 0 {
		t.Fatalf("repeat while in progress: %+v %v", rep, err)
	}
	if len(w.jira.Comments(first)) != 1 {
		t.Fatalf("the open issue got %d comments", len(w.jira.Comments(first)))
	}

	// SEC-1 is done, as the Jira sync sees it.
	_ = w.jira.Move(first, "Done", "Fixed")
	w.run(t)
	later := mcasfake.Repeats("contoso", bob, "b9", 3, now.Add(-2*time.Minute), time.Second)
	w.tenants[0].AddAlerts(later...)
	before := len(w.slack.Posts())
	rep, err := w.digest.Run(ctx, false)
	if err != nil || rep.Appended != 0 || rep.AfterDone != 3 || rep.Groups != 1 {
		t.Fatalf("repeats after done: %+v %v", rep, err)
	}
	if n := len(w.jira.Comments(first)); n != 1 {
		t.Fatalf("the done issue got another comment (%d)", n)
	}
	var posted slackfake.Post
	for _, p := range w.slack.Posts()[before:] {
		if p.Method == "chat.postMessage" {
			posted = p
		}
	}
	newKey := formatting.AlertKeyOf("contoso", later[0].ID)
	card := cardTexts(t, posted)["alert:"+newKey]
	if !strings.Contains(card, ":leftwards_arrow_with_hook: earlier: <"+w.jira.URL+"/browse/"+first+"|"+first+">, Done: Fixed — a new issue follows these repeats") {
		t.Fatalf("the new entry does not link the done issue:\n%s", card)
	}
	var blocks slack.Blocks
	_ = json.Unmarshal(posted.Blocks, &blocks)
	if b := formatting.ButtonsOf(blocks.BlockSet); len(b) != 1 || !b[newKey].Group {
		t.Fatalf("the new entry's buttons: %+v", b)
	}

	// Its Create Jira files a new issue that names the done one.
	w.click(t, lead, posted, formatting.ActionCreateJira+":"+newKey)
	ups, err := w.slack.WaitPosts(1, 10*time.Second, func(p slackfake.Post) bool { return p.Method == "chat.update" && p.TS == posted.TS })
	if err != nil {
		t.Fatal(err)
	}
	if n := len(w.jira.Issues()); n != 2 {
		t.Fatalf("%d issues", n)
	}
	second := w.jira.Issues()[1]
	var desc string
	_ = json.Unmarshal(second.Fields["description"], &desc)
	text, live := jirafake.Render(desc)
	if !strings.HasPrefix(text, "Earlier issue: "+first+" (Done: Fixed). These alerts repeat its alerts") ||
		!slices.ContainsFunc(live, func(l jirafake.Live) bool { return l.Kind == "link" && l.Text == first+"|"+w.jira.URL+"/browse/"+first }) {
		t.Fatalf("the new issue does not name the earlier one:\n%s\n%+v", text, live)
	}
	after := cardTexts(t, ups[len(ups)-1])
	if !strings.Contains(after["filed:"+newKey], second.Key) || !strings.Contains(after["alert:"+newKey], "earlier: ") {
		t.Fatalf("after filing: %v", after)
	}

	// The next repeats join the new, open issue.
	w.tenants[0].AddAlerts(mcasfake.Repeats("contoso", bob, "ba", 1, now.Add(-time.Minute), time.Second)...)
	if rep, err := w.digest.Run(ctx, false); err != nil || rep.Appended != 1 || rep.AfterDone != 0 {
		t.Fatalf("repeat after the new issue: %+v %v", rep, err)
	}
	if len(w.jira.Comments(second.Key)) != 1 || len(w.jira.Comments(first)) != 1 || len(w.jira.Issues()) != 2 {
		t.Fatalf("comments: %d on %s, %d on %s; %d issues", len(w.jira.Comments(second.Key)), second.Key, len(w.jira.Comments(first)), first, len(w.jira.Issues()))
	}
}
