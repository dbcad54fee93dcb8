package bot_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/messages"
	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/source"
)

// syncWorld is the digest-and-click workflow plus the Jira sync, on a Jira
// whose search shows issues at once.
type syncWorld struct {
	*workflow
	sync *schedule.JiraSync
}

// startSync starts it; hooks change the workflow before it starts.
func startSync(t *testing.T, hooks ...func(*workflow, *harness)) *syncWorld {
	t.Helper()
	js := jirafake.New(jirafake.Options{Cloud: true, User: "soc@example.com", Token: "jira-SECRET-666",
		Fields: []jirafake.CustomField{
			{ID: "customfield_10050", Name: "Alert URL", Type: jirafake.URLField, OnScreen: true},
			{ID: "customfield_10051", Name: "Affected user", Type: jirafake.SingleLine, OnScreen: true},
			{ID: "customfield_10052", Name: "Reported IPs", Type: jirafake.Paragraph, OnScreen: true},
		}})
	t.Cleanup(js.Close)
	js.AddUser(jirafake.User{AccountID: "acc-dave", DisplayName: "Dave Ops", Email: "dave@example.com"})
	js.AddUser(jirafake.User{AccountID: "acc-erin", DisplayName: "Erin <!channel>", Email: "erin@example.com", HideEmail: true})
	w := startWorkflow(t, filepath.Join(t.TempDir(), "state.db"), js, nil, hooks...)
	w.slack.AddUser("U0DAVE", "Dave@Example.com")
	// Enough alerts for a thread: the sync must leave the other messages alone.
	w.digest.MinSeverity, w.digest.Lookback = source.SeverityLow, 5*24*time.Hour
	jc, _ := jira.New(jira.Config{URL: js.URL, User: "soc@example.com", APIToken: "jira-SECRET-666"}, js.Client(), w.logger)
	api := slack.New("xoxb-test", slack.OptionAPIURL(w.slack.APIURL()))
	return &syncWorld{workflow: w, sync: &schedule.JiraSync{
		Store: w.store, Jira: jc, Users: api, Logger: w.logger, Owner: "replica-a", UpdateInterval: time.Millisecond,
		Redraw: &messages.Redrawer{Store: w.store, Slack: api, Logger: w.logger},
	}}
}

// fileFirst posts a digest and files its first alert; it returns the
// digest's messages and the filed message's updates so far.
func (w *syncWorld) fileFirst(t *testing.T) (slackfake.Post, []slackfake.Post) {
	t.Helper()
	parent, action := w.postDigest(t)
	w.click(t, lead, parent, action)
	if _, err := w.slack.WaitPosts(1, 5*time.Second, func(p slackfake.Post) bool { return p.Method == "chat.update" && p.TS == parent.TS }); err != nil {
		t.Fatal(err)
	}
	var digest []slackfake.Post
	for _, p := range w.slack.Posts() {
		if p.Method == "chat.postMessage" {
			digest = append(digest, p)
		}
	}
	if len(digest) < 2 {
		t.Fatalf("want a digest with a thread, got %d messages", len(digest))
	}
	return parent, digest
}

func (w *syncWorld) run(t *testing.T) schedule.SyncReport {
	t.Helper()
	rep, err := w.sync.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func updatesOf(posts []slackfake.Post, ts string) []slackfake.Post {
	var out []slackfake.Post
	for _, p := range posts {
		if p.Method == "chat.update" && p.TS == ts {
			out = append(out, p)
		}
	}
	return out
}

func TestJiraProgressUpdatesTheMessageTwiceAndNoOther(t *testing.T) {
	w := startSync(t)
	parent, digest := w.fileFirst(t)
	before := len(updatesOf(w.slack.Posts(), parent.TS))
	key := w.jira.Issues()[0].Key

	// Just filed (To Do, unassigned): what the message already says.
	if rep := w.run(t); rep.Tracked != 1 || rep.Changed != 0 || rep.Redrawn != 0 || rep.Searches != 1 {
		t.Fatalf("first sync %+v", rep)
	}
	must(t, w.jira.Move(key, "In Progress", ""))
	must(t, w.jira.Assign(key, "acc-dave"))
	if rep := w.run(t); rep.Changed != 1 || rep.Redrawn != 1 {
		t.Fatalf("sync after In Progress %+v", rep)
	}
	ups := updatesOf(w.slack.Posts(), parent.TS)
	if len(ups) != before+1 || !strings.Contains(string(ups[len(ups)-1].Blocks), "SEC-1|SEC-1\\u003e · In Progress · \\u003c@U0DAVE\\u003e · filed by \\u003c@"+lead) {
		t.Fatalf("after In Progress: %d updates, last %s", len(ups)-before, ups[len(ups)-1].Blocks)
	}
	// Nothing changed: nothing is touched.
	if rep := w.run(t); rep.Changed != 0 || rep.Redrawn != 0 {
		t.Fatalf("idle sync %+v", rep)
	}
	must(t, w.jira.Move(key, "Done", "Fixed"))
	if rep := w.run(t); rep.Changed != 1 || rep.Redrawn != 1 {
		t.Fatalf("sync after Done %+v", rep)
	}
	ups = updatesOf(w.slack.Posts(), parent.TS)
	if len(ups) != before+2 || !strings.Contains(string(ups[len(ups)-1].Blocks), ":white_check_mark: \\u003c"+w.jira.URL+"/browse/SEC-1|SEC-1\\u003e · Done (Fixed) · \\u003c@U0DAVE\\u003e") {
		t.Fatalf("after Done: %d updates, last %s", len(ups)-before, ups[len(ups)-1].Blocks)
	}
	// No other digest message was touched.
	for _, m := range digest[1:] {
		if n := len(updatesOf(w.slack.Posts(), m.TS)); n != 0 {
			t.Fatalf("message %s was updated %d times", m.TS, n)
		}
	}
	// JIRA_DONE_CLOSES_ALERT is off: nothing was closed.
	for _, srv := range w.tenants {
		if n := len(srv.Closes()); n != 0 {
			t.Fatalf("%d alerts closed with the setting off", n)
		}
	}
	// The assignee's e-mail was looked up once and cached.
	if w.slack.Lookups() != 1 {
		t.Fatalf("%d users.lookupByEmail calls", w.slack.Lookups())
	}
	for _, want := range []string{`"msg":"audit: jira status synced"`, `"from":"To Do"`, `"to":"In Progress, assigned to acc-dave"`, `"to":"Done (Fixed), assigned to acc-dave"`} {
		if !strings.Contains(w.logs.String(), want) {
			t.Errorf("log lacks %s", want)
		}
	}
}

func TestDeletedIssueAndHiddenEmail(t *testing.T) {
	w := startSync(t)
	parent, _ := w.fileFirst(t)
	key := w.jira.Issues()[0].Key
	w.run(t)

	// Erin hides her e-mail: her Jira name is shown, escaped.
	must(t, w.jira.Assign(key, "acc-erin"))
	if rep := w.run(t); rep.Redrawn != 1 {
		t.Fatalf("%+v", rep)
	}
	last := func() string {
		ups := updatesOf(w.slack.Posts(), parent.TS)
		return string(ups[len(ups)-1].Blocks)
	}
	if !strings.Contains(last(), "To Do · Erin \\u0026lt;!channel\\u0026gt;") {
		t.Fatalf("hidden e-mail: %s", last())
	}
	if w.slack.Lookups() != 0 {
		t.Fatal("looked up a hidden e-mail")
	}

	must(t, w.jira.Delete(key))
	rep := w.run(t)
	if rep.Gone != 1 || rep.Redrawn != 1 || rep.Searches != 1 {
		t.Fatalf("after delete %+v", rep)
	}
	if !strings.Contains(last(), ":wastebasket: *SEC-1 no longer exists* in Jira") {
		t.Fatalf("gone: %s", last())
	}
	// A gone issue is not searched again.
	searches := w.jira.Searches()
	if rep := w.run(t); rep.Searched != 0 || w.jira.Searches() != searches {
		t.Fatalf("gone issue searched again: %+v", rep)
	}
}

func TestFailedUpdateIsRetriedNextSync(t *testing.T) {
	w := startSync(t)
	parent, _ := w.fileFirst(t)
	key := w.jira.Issues()[0].Key
	w.run(t)
	must(t, w.jira.Move(key, "In Progress", ""))
	w.slack.FailPosts("message_not_found")
	if rep := w.run(t); rep.Changed != 1 || rep.Redrawn != 0 {
		t.Fatalf("%+v", rep)
	}
	n := len(updatesOf(w.slack.Posts(), parent.TS))
	// Jira did not change again, but the message never showed it.
	if rep := w.run(t); rep.Changed != 0 || rep.Redrawn != 1 {
		t.Fatalf("retry %+v", rep)
	}
	if len(updatesOf(w.slack.Posts(), parent.TS)) != n+1 {
		t.Fatal("not redrawn")
	}
	if rep := w.run(t); rep.Redrawn != 0 {
		t.Fatalf("redrawn again %+v", rep)
	}
}

// Two replicas tick together: one syncs, the other finds it done.
func TestOneReplicaSyncsPerInterval(t *testing.T) {
	w := startSync(t)
	w.fileFirst(t)
	other := schedule.JiraSync{Store: w.store, Jira: w.sync.Jira, Redraw: w.sync.Redraw, Owner: "replica-b", Interval: time.Hour}
	w.sync.Interval = time.Hour
	if rep := w.run(t); rep.Skipped != "" {
		t.Fatalf("%+v", rep)
	}
	rep, err := other.Run(context.Background())
	if err != nil || rep.Skipped == "" {
		t.Fatalf("second replica synced too: %+v %v", rep, err)
	}
}

func TestMissingEmailScopeFallsBackToJiraNames(t *testing.T) {
	w := startSync(t)
	parent, _ := w.fileFirst(t)
	key := w.jira.Issues()[0].Key
	w.slack.DenyEmailLookup(true)
	must(t, w.jira.Assign(key, "acc-dave"))
	w.run(t)
	ups := updatesOf(w.slack.Posts(), parent.TS)
	if !strings.Contains(string(ups[len(ups)-1].Blocks), "To Do · Dave Ops · filed by") {
		t.Fatalf("%s", ups[len(ups)-1].Blocks)
	}
	if !strings.Contains(w.logs.String(), "users:read.email") {
		t.Fatal("no hint about the missing scope")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
