package commands

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// AlertRequest is `/mcas alert <id> [tenant=…]`.
type AlertRequest struct {
	ID     string
	Tenant string // a selection (a name, names, groups); "" asks every tenant
}

func (AlertRequest) command() string { return "alert" }

// Records is what the bot itself knows about an alert (store.Store).
type Records interface {
	Issue(ctx context.Context, tenant, alertID string) (store.IssueRecord, bool, error)
	AlertClose(ctx context.Context, tenant, alertID string) (store.CloseRecord, bool, error)
}

// AlertResult answers alert: the alert as found in each tenant that has
// it (ids are per tenant and can repeat), and for a single match the
// AbuseIPDB verdict of each IP and the bot's own records.
type AlertResult struct {
	ID        string
	Selection string   // the tenant selection as asked ("" every tenant)
	Tenants   []string // asked
	Found     []source.Alert
	Failures  []Failure
	Pending   []Pending // tenants that have not answered yet (an interim reply)
	// Set when exactly one tenant has the alert.
	Reputation map[string]abuseipdb.Report
	RepNotes   map[string]string // why an IP has no verdict
	Issue      *store.IssueRecord
	Close      *store.CloseRecord
}

func (AlertResult) result() {}

// maxCardIPs bounds the reputation lookups of one card.
const maxCardIPs = 10

var (
	portalAlertRE = regexp.MustCompile(`^<?https://([A-Za-z0-9-]+)\.[^/\s]*portal\.cloudappsecurity\.com/#/alerts/([A-Za-z0-9_-]{1,64})/?(?:\|[^>]*)?>?$`)
)

func parseAlertCmd(p Parser, def *Definition, a args) (Request, error) {
	var req AlertRequest
	for _, w := range a.positional {
		switch {
		case req.ID == "":
			id, tenant, err := alertID(w)
			if err != nil {
				return nil, usageErr(err)
			}
			req.ID = id
			if tenant != "" && p.isTenant(tenant) {
				if err := a.set(def, "tenant", tenant); err != nil {
					return nil, err
				}
			}
		case p.isTenant(w):
			if err := a.set(def, "tenant", w); err != nil {
				return nil, err
			}
		default:
			if err := p.misselected(w); err != nil {
				return nil, err
			}
			return nil, &UsageError{Problem: fmt.Sprintf("did not understand %q", clip(w))}
		}
	}
	if req.ID == "" {
		return nil, &UsageError{Problem: "missing the alert id"}
	}
	tenant, err := p.tenantArg(a)
	if err != nil {
		return nil, err
	}
	req.Tenant = tenant
	return req, nil
}

// alertID reads an alert id, or the id (and tenant) of a portal link.
func alertID(s string) (id, tenant string, err error) {
	if m := portalAlertRE.FindStringSubmatch(s); m != nil {
		return m[2], m[1], nil
	}
	if !source.ValidID(s) {
		return "", "", fmt.Errorf("%q is not an alert id (1 to 64 letters, digits, _ or -)", clip(s))
	}
	return s, "", nil
}

// askAlert asks every tenant (or one) for the alert at once; each fills
// in its part of the answer. With exactly one match, the card's extras
// (reputation, the bot's records) follow. Single alerts are always read
// fresh: a card redrawn after a close must show the new status.
func (a *Answer) askAlert(r *Runner, ctx context.Context, wg *sync.WaitGroup, req AlertRequest) {
	a.repDone = false
	tenants := a.track(r.pick(req.Tenant))
	wg.Go(func() {
		var each sync.WaitGroup
		for i, t := range tenants {
			each.Go(func() {
				var found []source.Alert
				var al source.Alert
				err := r.skip(t.Name())
				var release func()
				if err == nil {
					release, err = r.fanOutSlot(ctx, a.gate)
				}
				if err == nil {
					defer release()
					var queued atomic.Bool
					actx, cancel := context.WithTimeout(ctx, r.timeout())
					defer cancel()
					actx = httpx.WithWaitNotice(actx, func(time.Duration) { queued.Store(true) })
					err = r.guarded(actx, t.Name(), func() (bool, error) {
						var err error
						al, err = t.Alert(actx, req.ID)
						return queued.Load(), err
					})
				}
				if httpx.KindOf(err) == httpx.KindNotFound {
					err = nil
				} else if err == nil {
					if al.Tenant == "" {
						al.Tenant = t.Name()
					}
					found = []source.Alert{al}
				}
				a.update(func() {
					a.parts[i].alerts = page[source.Alert]{Items: found}
					a.settle(i, time.Time{}, r.failure(ctx, t, "get alert", err))
				})
			})
		}
		each.Wait()
		res, _ := a.Result().(AlertResult)
		if len(res.Found) == 1 {
			r.enrich(ctx, &res)
		}
		a.update(func() {
			base := a.base.(AlertResult)
			base.Reputation, base.RepNotes, base.Issue, base.Close = res.Reputation, res.RepNotes, res.Issue, res.Close
			a.base, a.repDone = base, true
		})
	})
}

// enrich adds what the card shows beside the alert: each IP's AbuseIPDB
// verdict (bounded, never failing the card) and the bot's records.
func (r *Runner) enrich(ctx context.Context, res *AlertResult) {
	a := res.Found[0]
	res.Reputation, res.RepNotes = map[string]abuseipdb.Report{}, map[string]string{}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, s := range a.IPs() {
		if i == maxCardIPs {
			break
		}
		addr, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || addr.Zone() != "" {
			continue
		}
		wg.Go(func() {
			rep, note := r.reputation(ctx, addr.Unmap())
			mu.Lock()
			defer mu.Unlock()
			if rep != nil {
				res.Reputation[s] = *rep
			} else {
				res.RepNotes[s] = note
			}
		})
	}
	if r.Records != nil {
		wg.Go(func() {
			if is, ok, err := r.Records.Issue(ctx, a.Tenant, a.ID); err == nil && ok && is.State == store.IssueCreated {
				res.Issue = &is
			}
			if c, ok, err := r.Records.AlertClose(ctx, a.Tenant, a.ID); err == nil && ok && (c.State == store.CloseDone || c.State == store.CloseReopened) {
				res.Close = &c
			}
		})
	}
	wg.Wait()
}
