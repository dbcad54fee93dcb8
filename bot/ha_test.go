package bot_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/store/storetest"
)

// Two replicas, each with its own Socket Mode connection, share one
// PostgreSQL: the digest is posted once, and a click on replica A with a
// double click on replica B file one issue and tell both the same key.
func TestTwoReplicasOnePostgres(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	js := newJira()
	defer js.Close()
	js.SetLatency(300 * time.Millisecond)
	a := startWorkflow(t, dbURL, js, nil)
	b := startWorkflow(t, dbURL, js, a.slack)
	if err := a.slack.WaitConnections(2, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	a.digest.Owner, b.digest.Owner = "replica-a", "replica-b"

	var scheds []*schedule.Scheduler
	for _, w := range []*workflow{a, b} {
		s, err := schedule.NewScheduler("0 8 * * *", "UTC", w.digest, w.logger)
		if err != nil {
			t.Fatal(err)
		}
		scheds = append(scheds, s)
	}
	fired := time.Now()
	var wg sync.WaitGroup
	for _, s := range scheds {
		wg.Go(func() { s.RunSlot(context.Background(), fired) })
	}
	wg.Wait()
	var parents []slackfake.Post
	for _, p := range a.slack.Posts() {
		if p.Method == "chat.postMessage" && p.Thread == "" {
			parents = append(parents, p)
		}
	}
	if len(parents) != 1 {
		t.Fatalf("%d digest parents posted by two replicas, want 1", len(parents))
	}
	parent := parents[0]
	action, _ := createButton(t, parent)

	// The fake hands envelopes to the connections in turn: one click per replica.
	id1, err := a.tryClick(lead, parent, action)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := b.tryClick(lead, parent, action)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.slack.WaitPosts(1, 10*time.Second, func(p slackfake.Post) bool { return p.Method == "chat.update" }); err != nil {
		t.Fatal(err)
	}
	// The clicks race: whichever lost is told the key the winner filed.
	t1, t2 := a.slack.ResponseID(id1), a.slack.ResponseID(id2)
	replies, err := a.slack.WaitPosts(1, 25*time.Second, func(p slackfake.Post) bool {
		return p.Method == "response_url" && (p.Target == t1 || p.Target == t2)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(js.Issues()); n != 1 {
		t.Fatalf("%d issues from clicks on two replicas", n)
	}
	key := js.Issues()[0].Key
	if len(replies) != 1 || !strings.Contains(replies[0].Text, "Already filed as") || !strings.Contains(replies[0].Text, key) {
		t.Fatalf("the other user was told %+v, want the key %s", replies, key)
	}
	update := a.slack.Current(parent)
	if !strings.Contains(string(update.Blocks), key) {
		t.Fatal("the message does not show the key")
	}
	// Each replica handled one of the clicks.
	if !strings.Contains(a.logs.String(), "audit: jira") || !strings.Contains(b.logs.String(), "audit: jira") {
		t.Fatalf("clicks were not spread over both replicas")
	}
}

// While PostgreSQL is unreachable, commands keep working and filing is
// refused with a clear message; when it is back, filing works again
// without a restart.
func TestPostgresOutageKeepsCommandsAndRefusesFiling(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	u, _ := url.Parse(dbURL)
	proxy := storetest.NewProxy(t, u.Host)
	js := newJira()
	defer js.Close()
	w := startWorkflow(t, proxy.Via(dbURL), js, nil)
	parent, action := w.postDigest(t)

	proxy.Down()
	id, _ := w.command(t, "alerts limit=2")
	if posts, err := w.slack.Responses(id, 1, 5*time.Second); err != nil || !strings.Contains(string(posts[0].Attach), "table") {
		t.Fatalf("command during outage: %v", err)
	}
	id = w.click(t, lead, parent, action)
	reply, err := w.slack.Responses(id, 1, 10*time.Second)
	if err != nil || !strings.Contains(reply[0].Text, "state store is unreachable") {
		t.Fatalf("click during outage: %+v %v", reply, err)
	}
	if len(js.Issues()) != 0 {
		t.Fatal("filed without the store")
	}

	proxy.Up()
	id = w.click(t, lead, parent, action)
	if _, err := w.slack.WaitPosts(1, 10*time.Second, func(p slackfake.Post) bool { return p.Method == "chat.update" }); err != nil {
		r, _ := w.slack.Responses(id, 1, time.Second)
		t.Fatalf("%v; reply %+v\n%s", err, r, w.logs.String()[max(0, len(w.logs.String())-3000):])
	}
	if len(js.Issues()) != 1 {
		t.Fatalf("%d issues after recovery", len(js.Issues()))
	}
}
