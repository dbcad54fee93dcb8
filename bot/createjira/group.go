package createjira

import (
	"context"
	"errors"

	"github.com/soc/mcasbot/bot/filing"
	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/bot/messages"
)

// groupOf reads the alerts of the group a Create Jira button stands for
// from the stored view of its message (issue #11): the button carries only
// the group's first alert.
func (f *Flow) groupOf(ctx context.Context, v formatting.ButtonValue) (filing.RepeatGroup, error) {
	if f.cfg.Messages == nil {
		return filing.RepeatGroup{}, errors.New("this mcasbot keeps no digest messages to read groups from")
	}
	g, alerts, err := messages.Group(ctx, f.cfg.Messages.Store, v.Tenant, v.AlertID)
	if err != nil {
		return filing.RepeatGroup{}, err
	}
	return filing.RepeatGroup{Tenant: g.Tenant, Policy: g.Policy, By: g.By, Value: g.Value, Signature: g.Signature, Alerts: alerts}, nil
}
