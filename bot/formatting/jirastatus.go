package formatting

import "strings"

// JiraStatus is where an alert's issue stands in Jira.
type JiraStatus struct {
	Status     string // "In Progress"
	Category   string // new, indeterminate, done
	Resolution string // "Fixed"; "" while unresolved
	// The assignee: a Slack user ID when one was found by e-mail, else the
	// Jira display name; both empty when unassigned.
	AssigneeSlack, AssigneeName string
	Gone                        bool // deleted in Jira, or no longer visible
}

// issueText is the line in place of a filed alert's buttons:
// "✅ SEC-1 filed by @carol" until the Jira sync has seen the issue, then
// "🟡 SEC-1 · In Progress · @dave · filed by @carol", or
// "SEC-1 no longer exists" once Jira has lost it.
func issueText(f Filed, j *JiraStatus) string {
	if j == nil {
		return filedText(f)
	}
	key := Escape(Cut(Clean(f.Key), 40))
	by := ""
	if slackUserID.MatchString(f.By) {
		by = " · filed by <@" + f.By + ">"
	}
	if j.Gone {
		return ":wastebasket: *" + key + " no longer exists* in Jira" + by
	}
	if u := SafeURL(f.URL); u != "" {
		key = "<" + u + "|" + key + ">"
	}
	status := CutEscaped(Clean(j.Status), 60)
	if status == "" {
		status = "unknown status"
	}
	if r := CutEscaped(Clean(j.Resolution), 60); r != "" && !strings.EqualFold(r, status) {
		status += " (" + r + ")"
	}
	who := "unassigned"
	switch {
	case slackUserID.MatchString(j.AssigneeSlack):
		who = "<@" + j.AssigneeSlack + ">"
	case strings.TrimSpace(j.AssigneeName) != "":
		who = CutEscaped(Clean(j.AssigneeName), 60)
	}
	return categoryEmoji(j.Category) + " " + key + " · " + status + " · " + who + by
}

func categoryEmoji(category string) string {
	switch category {
	case "done":
		return ":white_check_mark:"
	case "indeterminate":
		return ":large_yellow_circle:"
	}
	return ":white_circle:"
}
