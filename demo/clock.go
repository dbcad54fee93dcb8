package demo

import "time"

// clock is the sandbox's time: it starts at a chosen instant and moves on
// with the wall clock. `bot demo` starts it now; tests start it at a month
// end, a leap day or New Year's Eve, and everything the sandbox shows (the
// sample alerts, the digest, Jira, closes, the report) follows it.
type clock struct {
	start time.Time
	wall  time.Time
}

func newClock(start time.Time) *clock { return &clock{start: start.UTC(), wall: time.Now()} }

// Now is the sandbox's current time, in UTC.
func (c *clock) Now() time.Time { return c.start.Add(time.Since(c.wall)).UTC() }
