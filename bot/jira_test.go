package bot_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot"
	"github.com/soc/mcasbot/bot/createjira"
	"github.com/soc/mcasbot/bot/filing"
	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/bot/messages"
	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

const (
	digestChannel = "C0DIGEST"
	lead          = "U0LEAD"
)

type workflow struct {
	*harness
	jira   *jirafake.Server
	store  store.Store
	digest *schedule.Digest
	filing *filing.Service
}

// startWorkflow runs a bot with the digest and Create Jira wired, on a
// database and Jira that survive restarts; hooks change it before it starts.
func startWorkflow(t testing.TB, dbPath string, jiraSrv *jirafake.Server, fake *slackfake.Server, hooks ...func(*workflow, *harness)) *workflow {
	t.Helper()
	return startWorkflowOf(t, nil, dbPath, jiraSrv, fake, hooks...)
}

// startWorkflowOf is startWorkflow with these tenants (nil: contoso and
// fabrikam; "graph:<name>" is read through Microsoft Graph).
func startWorkflowOf(t testing.TB, names []string, dbPath string, jiraSrv *jirafake.Server, fake *slackfake.Server, hooks ...func(*workflow, *harness)) *workflow {
	t.Helper()
	w := &workflow{jira: jiraSrv}
	cfg := bot.Config{AllowedChannels: []string{socChannel}, AllowedUsers: []string{analyst, lead, dave}}
	w.harness = startWith(t, cfg, fake, func(h *harness) {
		st, err := store.Open(context.Background(), dbPath)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		w.store = st
		jc, _ := jira.New(jira.Config{URL: jiraSrv.URL, User: "soc@example.com", APIToken: "jira-SECRET-666"}, jiraSrv.Client(), h.logger)
		prios, _ := filing.ParsePriorities("")
		svc := &filing.Service{
			Mapping: filing.Mapping{Project: "SEC", IssueType: "Task", Priorities: prios,
				Fields: filing.Fields{AlertURL: "customfield_10050", AffectedUser: "customfield_10051", ReportedIPs: "customfield_10052"}},
			Store: st, Jira: jc, Tenants: h.runner.Tenants, Reputation: h.rep, Logger: h.logger,
		}
		w.filing = svc
		redraw := &messages.Redrawer{Store: st, Slack: h.bot.API(), Logger: h.logger}
		h.bot.EnableJira(createjira.Config{Filer: svc, Issues: st, ActionUsers: []string{lead}, Channels: []string{digestChannel}, Messages: redraw})
		enableTriage(h, st, jc, redraw)
		w.digest = &schedule.Digest{
			Config: schedule.Config{Channel: digestChannel, MinSeverity: source.SeverityHigh, PostInterval: time.Millisecond},
			Store:  st, Slack: h.bot.API(), Reputation: h.rep, Logger: h.logger,
		}
		w.digest.Tenants = h.runner.Tenants
		for _, hook := range hooks {
			hook(w, h)
		}
	}, names...)
	return w
}

func newJira() *jirafake.Server {
	return jirafake.New(jirafake.Options{Cloud: true, User: "soc@example.com", Token: "jira-SECRET-666", SearchLag: time.Hour,
		Fields: []jirafake.CustomField{
			{ID: "customfield_10050", Name: "Alert URL", Type: jirafake.URLField, OnScreen: true},
			{ID: "customfield_10051", Name: "Affected user", Type: jirafake.SingleLine, OnScreen: true},
			{ID: "customfield_10052", Name: "Reported IPs", Type: jirafake.Paragraph, OnScreen: true},
		}})
}

// postDigest runs a digest and returns its parent message and the action
// id of the parent's first Create Jira button.
func (w *workflow) postDigest(t testing.TB) (slackfake.Post, string) {
	t.Helper()
	if _, err := w.digest.Run(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	parent := w.slack.Posts()[0]
	action, _ := createButton(t, parent)
	return parent, action
}

func createButton(t testing.TB, p slackfake.Post) (string, formatting.ButtonValue) {
	t.Helper()
	var blocks slack.Blocks
	if err := json.Unmarshal(p.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	for key, v := range formatting.ButtonsOf(blocks.BlockSet) {
		return formatting.ActionCreateJira + ":" + key, v
	}
	t.Fatal("no Create Jira button in the message")
	return "", formatting.ButtonValue{}
}

func (w *workflow) click(t *testing.T, user string, msg slackfake.Post, action string) string {
	t.Helper()
	id, err := w.tryClick(user, msg, action)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// tryClick is click for goroutines (t.Fatal must not run there).
func (w *workflow) tryClick(user string, msg slackfake.Post, action string) (string, error) {
	id, err := w.slack.Click(user, msg, action)
	if err != nil {
		return "", err
	}
	_, err = w.slack.WaitAck(id, 2*time.Second)
	return id, err
}

func (w *workflow) updates(msg slackfake.Post) []slackfake.Post {
	var out []slackfake.Post
	for _, p := range w.slack.Posts() {
		if p.Method == "chat.update" && p.TS == msg.TS {
			out = append(out, p)
		}
	}
	return out
}

func TestDigestAndCreateJiraEndToEnd(t *testing.T) {
	db := filepath.Join(t.TempDir(), "state.db")
	js := newJira()
	defer js.Close()
	w := startWorkflow(t, db, js, nil)
	ctx := context.Background()

	rep, err := w.digest.Run(ctx, false)
	if err != nil || rep.Posted == 0 {
		t.Fatalf("digest: %+v %v", rep, err)
	}
	parent := w.slack.Posts()[0]
	action, v := createButton(t, parent)

	// A click files one issue with the mapped fields and updates the message.
	w.click(t, lead, parent, action)
	ups, err := w.slack.WaitPosts(1, 5*time.Second, func(p slackfake.Post) bool { return p.Method == "chat.update" && p.TS == parent.TS })
	if err != nil {
		t.Fatal(err)
	}
	if n := len(js.Issues()); n != 1 {
		t.Fatalf("%d issues", n)
	}
	is := js.Issues()[0]
	var url, labels string
	_ = json.Unmarshal(is.Fields["customfield_10050"], &url)
	labels = string(is.Fields["labels"])
	if !strings.Contains(url, v.AlertID) || !strings.Contains(labels, "mcas-"+v.AlertID) {
		t.Fatalf("issue fields %s", is.Fields)
	}
	up := string(ups[0].Blocks)
	if !strings.Contains(up, "SEC-1") || !strings.Contains(up, "filed by \\u003c@"+lead+"\\u003e") && !strings.Contains(up, "filed by <@"+lead+">") {
		t.Fatalf("update does not show the issue: %s", up)
	}
	if strings.Contains(up, `"action_id":"`+action+`"`) {
		t.Fatal("the filed alert still has its Create Jira button")
	}
	var updated slack.Blocks
	_ = json.Unmarshal(ups[0].Blocks, &updated)
	for _, b := range updated.BlockSet {
		if !strings.Contains(b.ID(), "~") {
			t.Fatalf("block %q kept its old block_id", b.ID())
		}
	}

	// A double click (from the view before the update) answers "already
	// filed" and files nothing.
	id := w.click(t, lead, parent, action)
	replies, err := w.slack.Responses(id, 1, 5*time.Second)
	if err != nil || !strings.Contains(replies[0].Text, "Already filed as") || !strings.Contains(replies[0].Text, "SEC-1") {
		t.Fatalf("second click reply %+v %v", replies, err)
	}
	if n := len(js.Issues()); n != 1 {
		t.Fatalf("double click made %d issues", n)
	}

	// After a restart (same database, same Jira) a click files nothing new.
	w.stop(t)
	w2 := startWorkflow(t, db, js, w.slack)
	id = w2.click(t, lead, parent, action)
	if replies, err := w2.slack.Responses(id, 1, 5*time.Second); err != nil || !strings.Contains(replies[0].Text, "SEC-1") {
		t.Fatalf("click after restart: %+v %v", replies, err)
	}
	if n := len(js.Issues()); n != 1 {
		t.Fatalf("click after restart made %d issues", n)
	}
	if !strings.Contains(w.logs.String(), `"msg":"audit: jira issue filed"`) || !strings.Contains(w.logs.String(), `"issue":"SEC-1"`) {
		t.Fatal("no audit line for the filed issue")
	}
}

func TestUnauthorizedClickFilesNothing(t *testing.T) {
	js := newJira()
	defer js.Close()
	w := startWorkflow(t, filepath.Join(t.TempDir(), "s.db"), js, nil)
	parent, action := w.postDigest(t)
	// analyst may run commands but is not in SLACK_ACTION_USERS.
	id := w.click(t, analyst, parent, action)
	replies, err := w.slack.Responses(id, 1, 5*time.Second)
	if err != nil || !strings.Contains(replies[0].Text, "not on the list of users allowed to file Jira issues") {
		t.Fatalf("%+v %v", replies, err)
	}
	time.Sleep(100 * time.Millisecond)
	if len(js.Issues()) != 0 || len(w.updates(parent)) != 0 {
		t.Fatal("unauthorized click filed or updated")
	}
	if !strings.Contains(w.logs.String(), "audit: jira click refused") {
		t.Fatal("refusal not audited")
	}
}

func TestRacingClicksFileOneIssueAndTellBothTheKey(t *testing.T) {
	js := newJira()
	defer js.Close()
	js.SetLatency(150 * time.Millisecond)
	w := startWorkflow(t, filepath.Join(t.TempDir(), "s.db"), js, nil)
	parent, action := w.postDigest(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := w.tryClick(lead, parent, action); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, err := w.slack.WaitPosts(1, 5*time.Second, func(p slackfake.Post) bool { return p.Method == "chat.update" }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(js.Issues()); n != 1 {
		t.Fatalf("%d issues from 4 racing clicks", n)
	}
}

func TestJiraRejectionIsExplainedAndButtonStays(t *testing.T) {
	js := jirafake.New(jirafake.Options{Cloud: true, User: "soc@example.com", Token: "jira-SECRET-666"}) // no custom fields on screen
	defer js.Close()
	w := startWorkflow(t, filepath.Join(t.TempDir(), "s.db"), js, nil)
	parent, action := w.postDigest(t)
	id := w.click(t, lead, parent, action)
	replies, err := w.slack.Responses(id, 1, 5*time.Second)
	if err != nil || !strings.Contains(replies[0].Text, "customfield_10050: Field") || !strings.Contains(replies[0].Text, "button stays") {
		t.Fatalf("%+v %v", replies, err)
	}
	if len(w.updates(parent)) != 0 {
		t.Fatal("message updated although nothing was filed")
	}
	if strings.Contains(w.logs.String(), "jira-SECRET-666") {
		t.Fatal("Jira token in logs")
	}
}

func TestAmbiguousJiraFailureHoldsTheAlert(t *testing.T) {
	js := newJira()
	defer js.Close()
	w := startWorkflow(t, filepath.Join(t.TempDir(), "s.db"), js, nil)
	parent, action := w.postDigest(t)
	js.Fail(jirafake.Fault{Path: "/rest/api/2/issue", Status: 502})
	id := w.click(t, lead, parent, action)
	reply, err := w.slack.Responses(id, 1, 5*time.Second)
	if err != nil || !strings.Contains(reply[0].Text, "may or may not exist") || !strings.Contains(reply[0].Text, "held until") {
		t.Fatalf("first click: %+v %v", reply, err)
	}
	id = w.click(t, lead, parent, action)
	reply, err = w.slack.Responses(id, 1, 5*time.Second)
	if err != nil || !strings.Contains(reply[0].Text, "got no answer from Jira") || !strings.Contains(reply[0].Text, "HTTP 502") {
		t.Fatalf("second click: %+v %v", reply, err)
	}
	if js.Requests("POST /rest/api/2/issue") != 1 {
		t.Fatal("the held alert was filed again")
	}
}

// Two analysts file two alerts of one digest message at the same moment:
// each update redraws the message from the store, so the message ends up
// showing both issues, whichever update reached Slack last.
func TestClicksOnTwoAlertsOfOneMessageBothShow(t *testing.T) {
	js := newJira()
	defer js.Close()
	js.SetLatency(100 * time.Millisecond)
	w := startWorkflow(t, filepath.Join(t.TempDir(), "s.db"), js, nil)
	parent, _ := w.postDigest(t)
	var blocks slack.Blocks
	if err := json.Unmarshal(parent.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for key := range formatting.ButtonsOf(blocks.BlockSet) {
		actions = append(actions, formatting.ActionCreateJira+":"+key)
	}
	if len(actions) < 2 {
		t.Fatalf("%d buttons in the digest", len(actions))
	}
	var wg sync.WaitGroup
	for _, a := range actions[:2] {
		wg.Go(func() {
			if _, err := w.tryClick(lead, parent, a); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, err := w.slack.WaitPosts(2, 5*time.Second, func(p slackfake.Post) bool { return p.Method == "chat.update" && p.TS == parent.TS }); err != nil {
		t.Fatal(err)
	}
	final := string(w.slack.Current(parent).Blocks)
	for _, key := range []string{"SEC-1", "SEC-2"} {
		if !strings.Contains(final, key) {
			t.Fatalf("the message lost %s:\n%s", key, final)
		}
	}
}

// A digest posted before messages' views were kept (an upgrade) is still
// updated, from the clicked copy.
func TestMessageWithoutStoredViewIsPatched(t *testing.T) {
	js := newJira()
	defer js.Close()
	w := startWorkflow(t, filepath.Join(t.TempDir(), "s.db"), js, nil)
	parent, action := w.postDigest(t)
	old := parent
	old.TS = "1700000000.000001" // no stored view for this ts
	w.click(t, lead, old, action)
	ups, err := w.slack.WaitPosts(1, 5*time.Second, func(p slackfake.Post) bool { return p.Method == "chat.update" && p.TS == old.TS })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ups[0].Blocks), "SEC-1") {
		t.Fatalf("old message not updated: %s", ups[0].Blocks)
	}
}
