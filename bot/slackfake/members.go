package slackfake

// Channels the bot is not a member of: Slack refuses its posts and files
// there with not_in_channel.

// NotIn makes the bot a non-member of channel: chat.postMessage,
// chat.update and files.completeUploadExternal answer not_in_channel.
func (s *Server) NotIn(channel string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.outside == nil {
		s.outside = map[string]bool{}
	}
	s.outside[channel] = true
}

// outsideOf reports whether the bot is not in channel; call under s.mu.
func (s *Server) outsideOf(channel string) bool { return s.outside[channel] }
