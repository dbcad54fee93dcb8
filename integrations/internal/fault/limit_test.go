package fault

import (
	"testing"
	"time"
)

// Two a minute: the third request within the minute is refused, one a
// minute after the first is not; Most counts the busiest minute.
func TestLimit(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	id := func(t time.Time) time.Time { return t }
	var l Limit
	var reqs []time.Time
	send := func(at time.Time) bool { reqs = append(reqs, at); return Over(&l, reqs, id) }
	if send(t0) {
		t.Fatal("refused while off")
	}
	l.Throttle(2, time.Minute)
	if send(t0.Add(time.Second)) {
		t.Fatal("the second request in the minute was refused")
	}
	if !send(t0.Add(2 * time.Second)) {
		t.Fatal("the third request in the minute was let through")
	}
	if send(t0.Add(62 * time.Second)) {
		t.Fatal("a request once the first two had left the minute was refused")
	}
	if l.Throttled() != 1 || Most(reqs, id, time.Minute) != 3 {
		t.Fatalf("throttled %d (want 1), most in a minute %d (want 3)", l.Throttled(), Most(reqs, id, time.Minute))
	}
}
