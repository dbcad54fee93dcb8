package access_test

import (
	"sync/atomic"
	"testing"

	"github.com/soc/mcasbot/bot/access"
)

// The digest channels a tenants file routes to are allowed besides the
// configured ones, and a reload is followed at the next check.
func TestMoreFollowsTheRoutedChannels(t *testing.T) {
	var routed atomic.Value
	routed.Store([]string{"C0CUSTA"})
	l := access.New([]string{"C0SOC", "C0DIGEST"}, nil)
	l.More = func() []string { return routed.Load().([]string) }
	for ch, want := range map[string]bool{"C0SOC": true, "C0DIGEST": true, "C0CUSTA": true, "C0OTHER": false} {
		if ok, _ := l.Allowed(ch, "U1"); ok != want {
			t.Errorf("%s allowed=%v, want %v", ch, ok, want)
		}
	}
	routed.Store([]string{"C0CUSTB"}) // a reload moved the customer
	if ok, _ := l.Allowed("C0CUSTA", "U1"); ok {
		t.Error("a channel the tenants file no longer routes to is still allowed")
	}
	if ok, _ := l.Allowed("C0CUSTB", "U1"); !ok {
		t.Error("the new route's channel is refused")
	}
}

func TestAllowedByID(t *testing.T) {
	l := access.New([]string{" C0SOC ", ""}, []string{"U1"})
	for _, c := range []struct {
		channel, user string
		ok            bool
		why           string
	}{
		{"C0SOC", "U1", true, ""},
		{"C0OTHER", "U1", false, "mcasbot only answers in the SOC channels it is configured for."},
		{"C0SOC", "U2", false, "You are not on the list of users allowed to run /mcas. Ask the SOC lead to add your Slack user ID."},
	} {
		if ok, why := l.Allowed(c.channel, c.user); ok != c.ok || why != c.why {
			t.Errorf("Allowed(%s, %s) = %v %q, want %v %q", c.channel, c.user, ok, why, c.ok, c.why)
		}
	}
	if !l.AllowedUser("U1") || l.AllowedUser("U2") {
		t.Error("AllowedUser does not follow the list")
	}
	if ok, _ := access.New(nil, nil).Allowed("C0ANY", "U9"); !ok {
		t.Error("empty lists refuse someone")
	}
}
