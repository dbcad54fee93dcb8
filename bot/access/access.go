// Package access decides who may use mcasbot where, by Slack ID, never by
// display name (names change and can be chosen to look like someone
// else's).
package access

import "strings"

// List allows users in channels; an empty list of either allows all.
type List struct {
	channels map[string]bool
	users    map[string]bool
	// More are channels allowed besides, read at each check (the digest
	// channels a reloaded tenants file routes to); nil: none.
	More func() []string
}

// New allows users in channels.
func New(channels, users []string) List {
	return List{channels: set(channels), users: set(users)}
}

func set(ids []string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		if id = strings.TrimSpace(id); id != "" {
			m[id] = true
		}
	}
	return m
}

// Allowed says whether user may run commands in channel, and if not, why.
func (a List) Allowed(channel, user string) (bool, string) {
	if len(a.channels) > 0 && !a.channels[channel] && !a.isMore(channel) {
		return false, "mcasbot only answers in the SOC channels it is configured for."
	}
	if len(a.users) > 0 && !a.users[user] {
		return false, "You are not on the list of users allowed to run /mcas. Ask the SOC lead to add your Slack user ID."
	}
	return true, ""
}

// AllowedUser reports whether user is on the list (or the list is empty).
func (a List) AllowedUser(user string) bool {
	return len(a.users) == 0 || a.users[user]
}

func (a List) isMore(channel string) bool {
	if a.More == nil {
		return false
	}
	for _, c := range a.More() {
		if c == channel {
			return true
		}
	}
	return false
}
