package formatting

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/slack-go/slack"
)

// The whole answer (issue #18): when Slack's limits cut a reply's rows,
// the bot posts one short message in the channel the command came from and
// the whole answer as a CSV file in its thread; the ephemeral reply says
// where it is, or why there is none.

// Full is what became of the whole answer of a reply that could not show
// every row.
type Full struct {
	Channel string // the CSV is in the thread of mcasbot's message in this channel
	Problem string // why there is no CSV (plain text, from us or Slack)
	Summary string // what the CSV holds: "432 alerts from 100 tenants"
}

var (
	channelIDRE = regexp.MustCompile(`^[CDG][A-Z0-9]{2,20}$`)
	userIDRE    = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)
)

// leftOutText is the note under a table whose rows were cut.
func leftOutText(left int, noun, reason string, full *Full) string {
	cut := fmt.Sprintf("… %d more %s not shown (Slack's %s limit).", left, noun, reason)
	switch {
	case full == nil:
		return cut + " Narrow the filters to see them."
	case full.Channel != "" && channelIDRE.MatchString(full.Channel):
		return cut + fmt.Sprintf(" :paperclip: The full answer (%s) is a CSV in the thread of mcasbot's message in <#%s>.", CutEscaped(full.Summary, 100), full.Channel)
	}
	return cut + fmt.Sprintf(" :warning: The full answer (%s) could not be posted as a CSV: %s", CutEscaped(full.Summary, 100), CutEscaped(Clean(full.Problem), 300))
}

// FullAnswerPost is the short message in the channel whose thread gets the
// CSV: ":paperclip: Full answer to @carol's `/mcas alerts …`: 432 alerts
// from 100 tenants". user is the asker's Slack id; text what they typed.
func FullAnswerPost(user, text, summary string) (string, []slack.Block) {
	who := "a"
	if userIDRE.MatchString(user) {
		who = "<@" + user + ">'s"
	}
	cmd := strings.ReplaceAll(Clean("/mcas "+text), "`", "'")
	line := fmt.Sprintf(":paperclip: Full answer to %s `%s`: %s", who, CutEscaped(cmd, 120), CutEscaped(summary, 200))
	fallback := fmt.Sprintf("Full answer to /mcas %s: %s", Cut(Clean(text), 120), Cut(summary, 200))
	return Escape(fallback), []slack.Block{section("full-answer", line)}
}

// FullAnswerFailed replaces the channel message when its CSV could not be
// attached.
func FullAnswerFailed(user, text, summary, problem string) (string, []slack.Block) {
	fallback, blocks := FullAnswerPost(user, text, summary)
	line := blocks[0].(*slack.SectionBlock).Text.Text + "\n:warning: The CSV could not be attached: " + CutEscaped(Clean(problem), 300)
	return fallback, []slack.Block{section("full-answer", line)}
}
