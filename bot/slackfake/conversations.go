package slackfake

import (
	"net/http"
	"slices"
	"strings"

	"github.com/slack-go/slack/slacktest"
)

// channel is what conversations.info says of a channel.
type channel struct {
	name            string
	member, private bool
}

func (s *Server) addConversations(c slacktest.Customize) {
	s.channels = map[string]channel{}
	c.Handle("/conversations.info", s.conversationInfo)
}

// SetChannel makes conversations.info know a channel: its name, whether
// the bot is a member, and whether it is private. Unknown channels are
// channel_not_found.
func (s *Server) SetChannel(id, name string, member, private bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[id] = channel{name: name, member: member, private: private}
}

// conversationInfo answers like Slack: a public channel needs
// channels:read, a private one groups:read, and a private channel the bot
// is not in is not found.
func (s *Server) conversationInfo(w http.ResponseWriter, r *http.Request) {
	body, err := formOrJSON(r)
	if err != nil {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	id, _ := body["channel"].(string)
	s.mu.Lock()
	ch, known := s.channels[id]
	scopes := slices.Clone(s.scopes)
	s.mu.Unlock()
	need := "channels:read"
	if known && ch.private {
		need = "groups:read"
	}
	if !slices.Contains(scopes, need) {
		writeJSON(w, map[string]any{"ok": false, "error": "missing_scope", "needed": need, "provided": strings.Join(scopes, ",")})
		return
	}
	if !known || (ch.private && !ch.member) {
		writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	writeJSON(w, map[string]any{"ok": true, "channel": map[string]any{
		"id": id, "name": ch.name, "is_channel": !ch.private, "is_group": ch.private, "is_private": ch.private, "is_member": ch.member,
	}})
}
