package schedule_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/schedule"
)

func TestOneReplicaRunsEachSlot(t *testing.T) {
	w := newWorld(t, 40)
	var outcomes []string
	var mu sync.Mutex
	var scheds []*schedule.Scheduler
	for i := range 2 {
		d, _ := w.digest(t)
		d.Owner = []string{"replica-a", "replica-b"}[i]
		s, err := schedule.NewScheduler("0 8 * * *", "UTC", d, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		s.OnRun = func(o string) { mu.Lock(); outcomes = append(outcomes, o); mu.Unlock() }
		scheds = append(scheds, s)
	}
	fired := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for _, s := range scheds {
		wg.Go(func() { s.RunSlot(context.Background(), fired.Add(10*time.Millisecond)) })
	}
	wg.Wait()
	// A replica that wakes late for the same firing finds it done.
	scheds[1].RunSlot(context.Background(), fired.Add(40*time.Second))
	ok := 0
	for _, o := range outcomes {
		if o == "ok" {
			ok++
		}
	}
	if ok != 1 || len(outcomes) != 3 {
		t.Fatalf("outcomes %v: want one ok and two skipped", outcomes)
	}
	if ids := postedIDs(t, w.slack.Posts()); len(dupes(ids)) != 0 || len(ids) == 0 {
		t.Fatalf("%d posted, %d dupes", len(ids), len(dupes(ids)))
	}
}
