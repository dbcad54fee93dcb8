package bot

import (
	"sync/atomic"
	"testing"

	"github.com/slack-go/slack"
)

// Buttons in the digest channels a tenants file routes to work when
// SLACK_ALLOWED_CHANNELS is set, and follow a reload at the next click.
// EnableJira and EnableTriage build their lists with clickAccess.
func TestClicksFollowTheRoutedChannels(t *testing.T) {
	var routed atomic.Value
	routed.Store([]string{"C0CUSTA"})
	live := func() []string { return routed.Load().([]string) }
	b := New(Config{AllowedChannels: []string{"C0SOC"}, AllowedUsers: []string{"U1", "U2"}}, slack.New("xoxb-test"), nil, nil, nil)
	clicks := b.clickAccess([]string{"U1"}, []string{"C0DIGEST"}, live)
	for ch, want := range map[string]bool{"C0SOC": true, "C0DIGEST": true, "C0CUSTA": true, "C0OTHER": false} {
		if ok, _ := clicks.Allowed(ch, "U1"); ok != want {
			t.Errorf("click in %s allowed=%v, want %v", ch, ok, want)
		}
	}
	if ok, _ := clicks.Allowed("C0SOC", "U2"); ok {
		t.Error("a user not on the flow's list may click")
	}
	routed.Store([]string{"C0CUSTB"}) // a reload moved the customer
	if ok, _ := clicks.Allowed("C0CUSTA", "U1"); ok {
		t.Error("a channel the tenants file no longer routes to still takes clicks")
	}
	if ok, _ := clicks.Allowed("C0CUSTB", "U1"); !ok {
		t.Error("the new route's channel refuses clicks")
	}
}

// Without SLACK_ALLOWED_CHANNELS, buttons work in every channel.
func TestClicksWorkAnywhereWithoutAllowedChannels(t *testing.T) {
	b := New(Config{}, slack.New("xoxb-test"), nil, nil, nil)
	clicks := b.clickAccess(nil, []string{"C0DIGEST"}, func() []string { return []string{"C0CUSTA"} })
	if ok, why := clicks.Allowed("C0OTHER", "U9"); !ok {
		t.Errorf("click refused: %s", why)
	}
}
