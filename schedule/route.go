package schedule

import (
	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/tenants"
)

// ChannelOf is where a tenant's digest goes: its route's channel (from the
// tenants file), else def (DIGEST_CHANNEL); "" when neither is set.
func ChannelOf(dir *tenants.Directory, tenant, def string) string {
	if c := dir.Route(tenant).DigestChannel; c != "" {
		return c
	}
	return def
}

// Channels are every channel the digest posts to, in tenant order: what
// the Create Jira and Close… buttons must be allowed in, and what bot check
// checks the bot is a member of.
func Channels(dir *tenants.Directory, def string) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range dir.Tenants() {
		if c := ChannelOf(dir, t.Name(), def); c != "" && !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// Unrouted are the tenants whose alerts the digest cannot post: no
// digest_channel for them or a group of theirs, and no DIGEST_CHANNEL.
func Unrouted(dir *tenants.Directory, def string) []string {
	var out []string
	for _, t := range dir.Tenants() {
		if ChannelOf(dir, t.Name(), def) == "" {
			out = append(out, t.Name())
		}
	}
	return out
}

// minSeverity is a tenant's threshold: its route's, else the digest's.
func (d *Digest) minSeverity(tenant string) source.Severity {
	if s, ok := source.ParseSeverity(d.Tenants.Route(tenant).MinSeverity); ok {
		return s
	}
	return d.MinSeverity
}

// stream is one channel's share of a run: the tenants routed to it, what
// was read from them, and the messages posted there.
type stream struct {
	channel string
	tenants []string // in directory order
	mine    map[string]bool
	found   []tenantFind
	// scoped: some configured tenant's alerts go elsewhere, so this
	// channel names only its own tenants (a customer's channel must not
	// show another customer's tenants or what they saw).
	scoped bool
	rep    ChannelReport
	dry    []*slack.WebhookMessage
}

// plan splits the tenants by channel: the streams in tenant order, the
// tenants to read, and those with no channel.
func (d *Digest) plan() (streams []*stream, read []source.Tenant, unrouted []string) {
	byChannel := map[string]*stream{}
	all := d.Tenants.Tenants()
	for _, t := range all {
		c := ChannelOf(d.Tenants, t.Name(), d.Channel)
		if c == "" {
			unrouted = append(unrouted, t.Name())
			continue
		}
		s := byChannel[c]
		if s == nil {
			s = &stream{channel: c, mine: map[string]bool{}, rep: ChannelReport{Channel: c}}
			byChannel[c] = s
			streams = append(streams, s)
		}
		s.tenants = append(s.tenants, t.Name())
		s.mine[t.Name()] = true
		read = append(read, t)
	}
	for _, s := range streams {
		s.scoped = len(s.tenants) < len(all)
		s.rep.Tenants = s.tenants
	}
	return streams, read, unrouted
}

// shows says whether a channel may name tenant (in its related alerts).
func (s *stream) shows(tenant string) bool {
	return !s.scoped || s.mine[tenant]
}
