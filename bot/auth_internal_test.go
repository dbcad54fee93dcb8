package bot

import (
	"sync/atomic"
	"testing"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/access"
)

// Buttons in the digest channels a tenants file routes to work when
// SLACK_ALLOWED_CHANNELS is set, and follow a reload at the next click.
func TestClicksFollowTheRoutedChannels(t *testing.T) {
	var routed atomic.Value
	routed.Store([]string{"C0CUSTA"})
	b := New(Config{AllowedChannels: []string{"C0SOC"}}, slack.New("xoxb-test"), nil, nil, nil)
	b.EnableJira(JiraButtons{Channels: []string{"C0DIGEST"}, LiveChannels: func() []string { return routed.Load().([]string) }})
	b.EnableTriage(Triage{Channels: []string{"C0DIGEST"}, LiveChannels: func() []string { return routed.Load().([]string) }})
	for _, a := range []access.List{b.clickAuth, b.closeAuth, b.viewAuth} {
		for ch, want := range map[string]bool{"C0SOC": true, "C0DIGEST": true, "C0CUSTA": true, "C0OTHER": false} {
			if ok, _ := a.Allowed(ch, "U1"); ok != want {
				t.Errorf("click in %s allowed=%v, want %v", ch, ok, want)
			}
		}
	}
	routed.Store([]string{"C0CUSTB"}) // a reload moved the customer
	if ok, _ := b.clickAuth.Allowed("C0CUSTA", "U1"); ok {
		t.Error("a channel the tenants file no longer routes to still takes clicks")
	}
	if ok, _ := b.closeAuth.Allowed("C0CUSTB", "U1"); !ok {
		t.Error("the new route's channel refuses Close…")
	}
}
