package demo

import (
	"fmt"
	"io"
	"time"

	"github.com/soc/mcasbot/bot/commands"
)

// A hung tenant (issue #16): `hang fabrikam` makes every lookup to it hang;
// the next question waits for it up to demoTimeout, then fabrikam is
// marked as not answering and questions skip it for demoCooldown.
// `back fabrikam` ends the hang and waits out the cooldown, so that the
// next question is the one that checks it and finds it back.

const (
	demoTimeout  = 5 * time.Second // stands in for COMMAND_TIMEOUT (25 s)
	demoCooldown = 3 * time.Second // stands in for TENANT_COOLDOWN (30 s)
)

func (sb *sandbox) hang(stdout io.Writer, name string) {
	if !sb.setLatency(stdout, name, time.Hour) {
		return
	}
	fmt.Fprintf(stdout, "%s stops answering: the next lookup waits for it up to %s (COMMAND_TIMEOUT), then lookups skip it for %s (TENANT_COOLDOWN).\n",
		name, demoTimeout, demoCooldown)
}

func (sb *sandbox) back(stdout io.Writer, name string) {
	if !sb.setLatency(stdout, name, 0) {
		return
	}
	if sb.runner.TenantState(name) != commands.TenantNotAnswering {
		fmt.Fprintf(stdout, "%s answers again.\n", name)
		return
	}
	fmt.Fprintf(stdout, "%s answers again, but mcasbot skips it until its cooldown is over; waiting…\n", name)
	for limit := time.Now().Add(demoCooldown + time.Second); sb.runner.TenantState(name) == commands.TenantNotAnswering && time.Now().Before(limit); {
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(stdout, "%s's cooldown is over: the next lookup checks whether it is back.\n", name)
}

// setLatency makes a sandbox tenant's API answer after d (false, said on
// stdout, when there is no such tenant).
func (sb *sandbox) setLatency(stdout io.Writer, name string, d time.Duration) bool {
	switch {
	case sb.mcas[name] != nil:
		sb.mcas[name].SetLatency(d)
	case name == demoEntraTenant:
		sb.entra.graph.SetLatency(d)
	default:
		fmt.Fprintf(stdout, "no sandbox tenant %q (contoso, fabrikam)\n", name)
		return false
	}
	return true
}
