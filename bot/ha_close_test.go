package bot_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store/storetest"
)

// Two replicas on one PostgreSQL, two analysts submitting Close… for one
// alert at the same moment, each submission handled by another replica:
// one close call, and both analysts are told the same closer.
func TestTwoReplicasCloseOnce(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	js := newJira()
	defer js.Close()
	a := startWorkflow(t, dbURL, js, nil)
	b := startWorkflow(t, dbURL, js, a.slack)
	if err := a.slack.WaitConnections(2, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, w := range []*workflow{a, b} {
		for _, f := range w.tenants {
			f.SetLatency(150 * time.Millisecond) // the claims race, not the calls
		}
	}
	parent, _ := a.postDigest(t)
	e := entries(t, parent)[0]
	views := map[string]string{}
	for _, user := range []string{lead, dave} {
		views[user] = a.openForm(t, user, parent, e.menu, e.value(formatting.OpClose))
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
		return p.Method == "response_url" && (strings.Contains(p.Text, "Already closed as benign") || strings.Contains(p.Text, ":white_check_mark: Closed as benign"))
	})
	if err != nil {
		t.Fatalf("%v: %+v", err, a.slack.Posts())
	}
	calls := 0
	for _, w := range []*workflow{a, b} {
		for _, f := range w.tenants {
			calls += len(f.Closes())
		}
	}
	if calls != 1 {
		t.Fatalf("%d close calls from two replicas", calls)
	}
	// Whoever won, the other was told it was them.
	var winner string
	for _, p := range told {
		if strings.Contains(p.Text, ":white_check_mark: Closed as benign") {
			winner = map[bool]string{true: "triggered by test", false: "actual severity is lower"}[strings.Contains(p.Text, "triggered by test")]
		}
	}
	for _, p := range told {
		if strings.Contains(p.Text, "Already closed") && !strings.Contains(p.Text, winner) {
			t.Fatalf("the loser was told %q, the winner closed as %q", p.Text, winner)
		}
	}
	if !strings.Contains(a.logs.String()+b.logs.String(), "audit: alert closed") {
		t.Fatal("no audit line")
	}
}
