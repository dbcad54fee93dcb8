package formatting

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/commands"
)

// Interim replies (issue #10): tenants that have not answered by the reply
// deadline, or wait for their request budget, and answers reused from the
// query cache.

// asOf is the context line's note for a reply built from reused answers.
func asOf(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return " · _as of " + t.UTC().Format("15:04:05") + " UTC_"
}

func soFar(pending []commands.Pending) string {
	if len(pending) == 0 {
		return ""
	}
	return " (so far)"
}

// PendingText says why a tenant is missing from an interim reply; bold
// marks the tenant's name (Slack: *name*, escaped).
func PendingText(p commands.Pending, only bool, bold func(string) string) string {
	name := bold(p.Tenant)
	switch {
	case p.Queued > 0:
		budget := ""
		if p.Budget != "" {
			budget = " (" + p.Budget + ")"
		}
		return fmt.Sprintf("%s's API budget%s is in use: queued, about %s — this message will update", name, budget, seconds(p.Queued, math.Ceil))
	case only:
		return fmt.Sprintf("%s has not answered after %s; still trying", name, seconds(p.After, math.Round))
	}
	return name + " has not answered yet — this message will update"
}

// NotAnsweringText says that a tenant was skipped because a call to it
// timed out lately (issue #16); asked alone (only), also when it will be
// asked again. bold marks the tenant's name.
func NotAnsweringText(na *commands.NotAnswering, only bool, bold func(string) string) string {
	ago := "just now"
	if na.Ago >= time.Second {
		ago = seconds(na.Ago, math.Round) + " ago"
	}
	s := fmt.Sprintf("%s is not answering (timed out %s)", bold(na.Tenant), ago)
	switch {
	case !only:
	case na.RetryIn > 0:
		s += fmt.Sprintf("; mcasbot asks it again in %s", seconds(na.RetryIn, math.Ceil))
	default:
		s += "; another question is checking whether it is back: ask again in a moment"
	}
	return s
}

func seconds(d time.Duration, round func(float64) float64) string {
	return fmt.Sprintf("%d s", int(max(1, round(d.Seconds()))))
}

func pendingBlocks(pending []commands.Pending, tenants int) []slack.Block {
	if len(pending) == 0 {
		return nil
	}
	if many(tenants) {
		return []slack.Block{section("pending", ":hourglass_flowing_sand: "+pendingLine(pending, boldName)+" — this message will update")}
	}
	lines := make([]string, len(pending))
	for i, p := range pending {
		lines[i] = ":hourglass_flowing_sand: " + PendingText(p, tenants == 1, boldName)
	}
	return []slack.Block{section("pending", Cut(strings.Join(lines, "\n"), MaxSectionText))}
}

func pendingFallback(pending []commands.Pending) string {
	if len(pending) == 0 {
		return ""
	}
	if many(len(pending)) {
		return fmt.Sprintf(", waiting for %d tenants", len(pending))
	}
	names := make([]string, len(pending))
	for i, p := range pending {
		names[i] = Clean(p.Tenant)
	}
	return ", waiting for " + strings.Join(names, ", ")
}
