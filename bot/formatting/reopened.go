package formatting

import (
	"fmt"
	"strings"
)

// Reopened alerts (issue #16): an alert closed before and reopened in
// Defender since is drawn open, with Close…, and a note of its earlier
// close.

// CloseBatch is how many alerts one close request names at most (a group
// of more is closed with several requests).
const CloseBatch = 100

// ReopenedText notes an earlier close of an alert that is open again:
// "↩ Closed before as benign (…) by @carol on 2026-12-01 10:00 UTC;
// reopened in Defender since."
func ReopenedText(c Closed) string {
	return ":leftwards_arrow_with_hook: " + reopenedWords(c, true)
}

// reopenedWords says how an alert was closed before it was reopened;
// mrkdwn escapes and mentions when slack is set, plain text otherwise.
func reopenedWords(c Closed, slack bool) string {
	if !c.Bot {
		c.Comment = "" // an analyst's comment is on the earlier close; a rule's note says why
	}
	w := closedWords(c, slack)
	first, rest, _ := strings.Cut(w, " ")
	w = first + " before " + rest
	if !c.Elsewhere && !c.At.IsZero() {
		w += " on " + utc(c.At) + " UTC"
	}
	return w + "; reopened in Defender since."
}

// closeCalls says how many requests close n alerts: "one call", "3 calls
// of at most 100".
func closeCalls(n int) string {
	calls := (n + CloseBatch - 1) / CloseBatch
	if calls <= 1 {
		return "one call"
	}
	return fmt.Sprintf("%d calls of at most %d", calls, CloseBatch)
}
