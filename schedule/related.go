package schedule

import (
	"context"
	"slices"
	"time"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/correlation"
	"github.com/soc/mcasbot/grouping"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// Related alerts across tenants and grouped repeats (issue #11). All of it
// comes from the alerts this run read and what the store remembers of
// earlier runs: no MCAS calls.

// Repeats adds alerts to the issue of a group already filed, as a comment,
// and returns the ids now recorded under that issue (*filing.Service).
type Repeats interface {
	AppendRepeats(ctx context.Context, gi store.GroupIssue, alerts []source.Alert) ([]string, error)
}

// repeatWait bounds one append (a Jira comment) in a run.
const repeatWait = 20 * time.Second

// remember keeps the facts of every alert read for the window, and forgets
// older ones. A failure costs correlation, not the digest.
func (d *Digest) remember(ctx context.Context, found []tenantFind) {
	var read []source.Alert
	for _, f := range found {
		read = append(read, f.read...)
	}
	ctx = context.WithoutCancel(ctx)
	if err := d.Store.RememberFacts(ctx, correlation.Remember(read)); err != nil {
		d.Logger.Warn("could not remember the alerts' addresses and accounts; related alerts in later runs will miss them", "error", err)
	}
	if n, err := d.Store.ForgetFacts(ctx, d.Now().Add(-d.Window)); err != nil {
		d.Logger.Warn("could not forget facts older than the correlation window", "error", err)
	} else if n > 0 {
		d.Logger.Debug("forgot facts older than the correlation window", "rows", n)
	}
}

// index holds what the store remembers of the facts of every new alert in
// the run, and every alert read: one store read shared by the channels.
func (d *Digest) index(ctx context.Context, all []source.Alert, found []tenantFind) *correlation.Index {
	var read []source.Alert
	for _, f := range found {
		read = append(read, f.read...)
	}
	var facts []correlation.Fact
	for _, a := range all {
		facts = append(facts, correlation.Facts(a)...)
	}
	finder := &correlation.Finder{Store: d.Store, Window: d.Window, Now: d.Now}
	x, err := finder.Index(ctx, facts, read)
	if err != nil {
		d.Logger.Warn("related alerts: could not read the store; only this run's alerts count", "error", err)
	}
	return x
}

// relate groups repeats, finds what other tenants share with each entry
// and what the channel's tenants share in this run, and (not in a dry run)
// adds repeats of filed groups to their issues. A scoped channel names
// only its own tenants.
func (d *Digest) relate(ctx context.Context, in *formatting.DigestInput, x *correlation.Index, s *stream, dryRun bool) {
	groups := grouping.Collapse(in.Alerts, d.GroupMin)
	s.rep.Groups = len(groups)
	grouped := map[[2]string]bool{}
	for _, g := range groups {
		dg := formatting.DigestGroup{Tenant: g.Tenant, Policy: g.Policy, By: string(g.By), Value: g.Value, Signature: g.Signature}
		for _, a := range g.Alerts {
			dg.IDs = append(dg.IDs, a.ID)
			grouped[[2]string{a.Tenant, a.ID}] = true
		}
		in.Groups = append(in.Groups, dg)
	}

	in.Related = map[string][]correlation.Match{}
	put := func(lead source.Alert, members []source.Alert) {
		var fs []correlation.Fact
		for _, a := range members {
			fs = append(fs, correlation.Facts(a)...)
		}
		var ms []correlation.Match
		for _, m := range x.Related(lead.Tenant, fs) {
			if s.shows(m.Tenant) {
				ms = append(ms, m)
			}
		}
		if len(ms) > 0 {
			in.Related[formatting.AlertKeyOf(lead.Tenant, lead.ID)] = ms
		}
	}
	for _, g := range groups {
		put(g.Alerts[0], g.Alerts)
	}
	for _, a := range in.Alerts {
		if !grouped[[2]string{a.Tenant, a.ID}] {
			put(a, []source.Alert{a})
		}
	}
	in.CrossTenant = correlation.CrossTenant(in.Alerts)

	if !dryRun && d.Repeats != nil && d.GroupMin > 0 {
		d.appendRepeats(ctx, in, groups, grouped, &s.rep)
	}
}

// appendRepeats finds the new alerts that repeat a group filed within the
// window (a whole new group of them, or single ones) and adds them to its
// issue, so they are posted as filed under it.
func (d *Digest) appendRepeats(ctx context.Context, in *formatting.DigestInput, groups []grouping.Group, grouped map[[2]string]bool, rep *ChannelReport) {
	type unit struct {
		tenant, sig string
		alerts      []source.Alert
	}
	var units []*unit
	bySig := map[[2]string]*unit{}
	add := func(tenant, sig string, as []source.Alert) {
		k := [2]string{tenant, sig}
		if u := bySig[k]; u != nil {
			u.alerts = append(u.alerts, as...)
			return
		}
		u := &unit{tenant: tenant, sig: sig, alerts: as}
		bySig[k] = u
		units = append(units, u)
	}
	sigs := map[string][]string{}
	for _, g := range groups {
		sigs[g.Tenant] = append(sigs[g.Tenant], g.Signature)
	}
	for _, a := range in.Alerts {
		if !grouped[[2]string{a.Tenant, a.ID}] {
			sigs[a.Tenant] = append(sigs[a.Tenant], grouping.Signatures(a)...)
		}
	}
	filed := map[string]map[string]store.GroupIssue{}
	for tenant, ss := range sigs {
		gis, err := d.Store.GroupIssues(ctx, tenant, ss, d.Now().Add(-d.Window))
		if err != nil {
			d.Logger.Warn("could not look up the issues of earlier groups; repeats are posted to be filed", "tenant", tenant, "error", err)
			continue
		}
		filed[tenant] = gis
	}
	for _, g := range groups {
		if _, ok := filed[g.Tenant][g.Signature]; ok {
			add(g.Tenant, g.Signature, g.Alerts)
		}
	}
	for _, a := range in.Alerts {
		if grouped[[2]string{a.Tenant, a.ID}] {
			continue
		}
		for _, sig := range grouping.Signatures(a) {
			if _, ok := filed[a.Tenant][sig]; ok {
				add(a.Tenant, sig, []source.Alert{a})
				break
			}
		}
	}
	if in.States == nil {
		in.States = map[string]formatting.AlertState{}
	}
	for _, u := range units {
		gi := filed[u.tenant][u.sig]
		if gi.Done() {
			// Nobody reads a comment on a done issue: the repeats start a new
			// entry that links it, and their Create Jira files a new issue.
			d.markEarlier(in, groups, grouped, u.tenant, u.alerts, gi)
			rep.AfterDone += len(u.alerts)
			d.Logger.Info("repeats of a done issue are posted to be filed anew", "tenant", u.tenant, "issue", gi.Key, "status", gi.Status, "alerts", len(u.alerts))
			continue
		}
		actx, cancel := context.WithTimeout(ctx, repeatWait)
		ids, err := d.Repeats.AppendRepeats(actx, gi, u.alerts)
		cancel()
		if err != nil {
			d.Logger.Warn("could not add repeats to their group's issue; they are posted to be filed", "tenant", u.tenant, "issue", gi.Key, "error", err)
		}
		for _, id := range ids {
			in.States[formatting.AlertKeyOf(u.tenant, id)] = formatting.AlertState{Filed: &formatting.Filed{Key: gi.Key, URL: gi.URL}}
		}
		rep.Appended += len(ids)
	}
}

// markEarlier links the done issue from the entries that hold as: a new
// group's entry (keyed by its first alert) or each single alert's.
func (d *Digest) markEarlier(in *formatting.DigestInput, groups []grouping.Group, grouped map[[2]string]bool, tenant string, as []source.Alert, gi store.GroupIssue) {
	if in.Earlier == nil {
		in.Earlier = map[string]formatting.Earlier{}
	}
	e := formatting.Earlier{Key: gi.Key, URL: gi.URL, Status: gi.Status, Resolution: gi.Resolution}
	for _, a := range as {
		if !grouped[[2]string{tenant, a.ID}] {
			in.Earlier[formatting.AlertKeyOf(tenant, a.ID)] = e
		}
	}
	for _, g := range groups {
		if g.Tenant == tenant && slices.ContainsFunc(as, func(a source.Alert) bool { return a.ID == g.Alerts[0].ID }) {
			in.Earlier[formatting.AlertKeyOf(tenant, g.Alerts[0].ID)] = e
		}
	}
}
