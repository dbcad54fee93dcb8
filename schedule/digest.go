// Package schedule runs the alert digest: on a cron schedule, it posts
// every open alert that is new since the previous run, per tenant, exactly
// once, to the tenant's digest channel, and records where each alert was
// posted.
package schedule

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/bot/messages"
	"github.com/soc/mcasbot/correlation"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/tenants"
)

// Slack posts messages (*slack.Client).
type Slack interface {
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
}

// Reputation checks addresses (*abuseipdb.Client); may be nil.
type Reputation interface {
	Check(ctx context.Context, addr netip.Addr) (abuseipdb.Report, error)
}

// Config tunes the digest.
type Config struct {
	// Channel (DIGEST_CHANNEL) takes the alerts of every tenant whose route
	// names no channel of its own; "" leaves those tenants out (logged).
	Channel string
	// MinSeverity is the threshold of tenants whose route sets none.
	MinSeverity source.Severity
	// Lookback is how far the very first run looks (default 24h).
	Lookback time.Duration
	// Overlap re-reads this much before the cursor, since alerts reach the
	// API late; posted alerts are skipped by id (default 2h).
	Overlap time.Duration
	// SourceOverlap replaces Overlap for the tenants read through an API
	// (by Tenant.Source()) that is later still (default DefaultOverlaps).
	SourceOverlap map[string]time.Duration
	// MaxPerTenant caps the alerts one run posts per tenant (default 500);
	// the rest follow in the next run, oldest first.
	MaxPerTenant int
	// QuietText is posted when nothing is new; empty posts nothing.
	QuietText string
	// PostInterval paces posts to each channel (Slack allows about one
	// message per second per channel; default 1s).
	PostInterval time.Duration
	// NoJira leaves out the Create Jira buttons.
	NoJira bool
	// GroupMin collapses a tenant's alerts of one policy for one account or
	// IP into one entry when there are at least this many (0: off).
	GroupMin int
	// Window is how far back correlation looks, and how long after its
	// newest alert a filed group takes repeats (default 7 days).
	Window time.Duration
	// Concurrency bounds the tenants read at once (FANOUT_CONCURRENCY,
	// default 128), as for a question.
	Concurrency int
}

// Digest runs digests.
type Digest struct {
	Config
	Store      store.Store
	Tenants    *tenants.Directory
	Slack      Slack
	Reputation Reputation
	Logger     *slog.Logger
	Now        func() time.Time
	// Owner names this process in leases (host name and pid).
	Owner string
	// OnPosted, when set, counts alerts posted (called from each
	// channel's goroutine).
	OnPosted func(n int)
	// Repeats, when set (and grouping is on), adds new repeats of a group
	// already filed to its issue instead of leaving them to be filed.
	Repeats Repeats

	mu       sync.Mutex
	lastPost map[string]time.Time // by channel
}

// Report is what one run did, in every channel.
type Report struct {
	New, Posted, Messages int
	MCASCalls             int
	Failures              []formatting.TenantProblem
	// Groups is how many entries collapse repeats, Appended how many alerts
	// were added to a filed group's issue.
	Groups, Appended int
	// AfterDone is how many repeats of a group whose issue is done were
	// posted to be filed anew instead of added to it.
	AfterDone int
	Skipped   string // why the run did nothing (another run holds the lock)
	// DryRun holds the messages a dry run would post, in order, channel
	// by channel (each names its channel when the digest is routed).
	DryRun []*slack.WebhookMessage
	// Channels is what the run did in each channel, in tenant order.
	Channels []ChannelReport
	// Unrouted are the tenants not read for want of a channel.
	Unrouted []string
}

// ChannelReport is what one run did in one channel.
type ChannelReport struct {
	Channel                     string
	Tenants                     []string // routed here
	New, Posted, Messages       int
	Groups, Appended, AfterDone int
	// Err stopped the posting here; the rest comes in the next run.
	Err error
}

const lockName = "digest"

// DefaultOverlaps are the overlaps of APIs later than MCAS: alerts reach
// Microsoft Graph with a delay of their own on top of Defender's.
var DefaultOverlaps = map[string]time.Duration{source.Graph: 6 * time.Hour}

// lockTTL is renewed while a run goes on; a dead runner's lock expires.
const lockTTL = 2 * time.Minute

// Run posts one digest now: each tenant's new alerts go to its channel
// (its route's, else Channel), one message stream per channel, the
// channels in parallel. A channel whose posting fails does not hold up the
// others; its tenants' cursors stay, so its alerts come in the next run,
// and the run returns the error. A dry run reads everything, posts and
// records nothing, and returns the messages it would post.
func (d *Digest) Run(ctx context.Context, dryRun bool) (Report, error) {
	d.defaults()
	var rep Report
	if !dryRun {
		ok, err := d.Store.Lock(ctx, lockName, d.Owner, lockTTL)
		if err != nil {
			return rep, fmt.Errorf("digest lock: %w", err)
		}
		if !ok {
			rep.Skipped = "another digest is running"
			d.Logger.Info("digest skipped: another digest is running")
			return rep, nil
		}
		stop := d.keepLock(ctx)
		defer stop()
	}
	streams, routed, unrouted := d.plan()
	if len(unrouted) > 0 {
		rep.Unrouted = unrouted
		d.Logger.Warn("digest: tenants without a digest channel are not read and their alerts are not posted; set digest_channel for them or a group of theirs in the tenants file, or DIGEST_CHANNEL",
			"tenants", len(unrouted), "names", clipNames(unrouted, 20))
	}
	found := d.fetch(ctx, &rep, routed, dryRun)
	if !dryRun {
		d.recordRun(ctx, found)
		// Posting does not wait for it; the run does.
		done := make(chan struct{})
		go func() { defer close(done); d.remember(ctx, found) }()
		defer func() { <-done }()
	}
	streamOf := map[string]*stream{}
	for _, s := range streams {
		for _, t := range s.tenants {
			streamOf[t] = s
		}
	}
	var all []source.Alert
	for _, f := range found {
		all = append(all, f.fresh...)
		streamOf[f.tenant].found = append(streamOf[f.tenant].found, f)
	}
	rep.New = len(all)

	// Shared by every channel: the reputation of the run's addresses and
	// what the store remembers of their facts.
	var reputation map[string]abuseipdb.Report
	looked := make(chan struct{})
	go func() { defer close(looked); reputation = d.reputations(ctx, all) }()
	var x *correlation.Index
	if len(all) > 0 {
		x = d.index(ctx, all, found)
	}
	rerouted := len(streams) > 1 || len(streams) == 1 && streams[0].channel != d.Channel
	var wg sync.WaitGroup
	for _, s := range streams {
		wg.Go(func() {
			s.rep.Err = d.runStream(ctx, s, x, func() map[string]abuseipdb.Report { <-looked; return reputation }, dryRun, rerouted)
		})
	}
	wg.Wait()
	<-looked
	var errs []error
	for _, s := range streams {
		rep.Channels = append(rep.Channels, s.rep)
		rep.Posted += s.rep.Posted
		rep.Messages += s.rep.Messages
		rep.Groups += s.rep.Groups
		rep.Appended += s.rep.Appended
		rep.AfterDone += s.rep.AfterDone
		rep.DryRun = append(rep.DryRun, s.dry...)
		if s.rep.Err != nil {
			errs = append(errs, s.rep.Err)
		}
	}
	return rep, errors.Join(errs...)
}

// runStream posts one channel's digest and then moves its tenants'
// cursors; on an error, posted messages are recorded and the rest come in
// the next run.
func (d *Digest) runStream(ctx context.Context, s *stream, x *correlation.Index, reputation func() map[string]abuseipdb.Report, dryRun, rerouted bool) error {
	var alerts []source.Alert
	var failures []formatting.TenantProblem
	for _, f := range s.found {
		alerts = append(alerts, f.fresh...)
		if f.failed {
			failures = append(failures, f.problem)
		}
	}
	s.rep.New = len(alerts)
	if len(alerts) == 0 {
		if d.QuietText != "" && len(failures) == 0 {
			if err := d.publish(ctx, s, dryRun, rerouted, formatting.QuietDigest(d.QuietText), "", nil); err != nil {
				return err
			}
		} else if len(failures) > 0 {
			msg := formatting.Digest(formatting.DigestInput{Failures: failures})[0].Msg
			if err := d.publish(ctx, s, dryRun, rerouted, msg, "", nil); err != nil {
				return err
			}
		}
		return d.advance(ctx, s.found, dryRun)
	}
	formatting.SortForDigest(alerts)
	in := formatting.DigestInput{Alerts: alerts, Failures: failures, Truncated: map[string]int{}, NoJira: d.NoJira}
	for _, f := range s.found {
		if f.more {
			in.Truncated[f.tenant] = f.total - len(f.fresh)
		}
	}
	d.relate(ctx, &in, x, s, dryRun)
	in.Reputation = reputation()
	chunks := formatting.Digest(in)
	parentTS := ""
	for i, c := range chunks {
		var ts string
		if err := d.publishChunk(ctx, s, dryRun, rerouted, c, parentTS, &ts); err != nil {
			// Posted chunks are recorded; the rest come next run.
			return err
		}
		if i == 0 {
			parentTS = ts
		}
	}
	return d.advance(ctx, s.found, dryRun)
}

func (d *Digest) publishChunk(ctx context.Context, s *stream, dryRun, rerouted bool, c formatting.DigestChunk, thread string, ts *string) error {
	return d.publish(ctx, s, dryRun, rerouted, c.Msg, thread, func(posted string) error {
		*ts = posted
		ps := make([]store.Posting, len(c.Alerts))
		for i, a := range c.Alerts {
			ps[i] = store.Posting{Tenant: a.Tenant, AlertID: a.ID, Channel: s.channel, TS: posted, PostedAt: d.Now(),
				Severity: a.Severity.String(), Title: a.Title, Policy: a.Policy(), User: a.User(), IPs: a.IPs(), AlertTime: a.Time}
		}
		// Recorded only after Slack accepted the message.
		if err := d.Store.MarkPosted(context.WithoutCancel(ctx), ps); err != nil {
			return fmt.Errorf("recording posted alerts: %w", err)
		}
		// Without its view the message cannot be redrawn from state; clicks
		// still update it from their own copy, so this does not stop the run.
		if err := messages.Save(context.WithoutCancel(ctx), d.Store, s.channel, posted, c.View); err != nil {
			d.Logger.Error("could not keep the digest message's view", "channel", s.channel, "ts", posted, "error", err)
		}
		s.rep.Posted += len(ps)
		if d.OnPosted != nil {
			d.OnPosted(len(ps))
		}
		return nil
	})
}

// publish posts (or, dry, collects) one message to s's channel; after is
// called with its ts. A dry run's messages name their channel when the
// digest is routed.
func (d *Digest) publish(ctx context.Context, s *stream, dryRun, rerouted bool, msg *slack.WebhookMessage, thread string, after func(ts string) error) error {
	s.rep.Messages++
	if dryRun {
		msg.ThreadTimestamp = thread
		if thread == "" && s.rep.Messages > 1 {
			msg.ThreadTimestamp = "(parent)"
		}
		if rerouted {
			msg.Channel = s.channel
		}
		s.dry = append(s.dry, msg) // and nothing is recorded
		return nil
	}
	ts, err := d.post(ctx, s.channel, msg, thread)
	if err != nil {
		return err
	}
	if after != nil {
		return after(ts)
	}
	return nil
}

type tenantFind struct {
	tenant string
	source string // the API it was read through
	fresh  []source.Alert
	read   []source.Alert // every alert read, posted before or not
	newest time.Time
	more   bool
	total  int
	failed bool
	// problem says why it failed, for its channel's message.
	problem formatting.TenantProblem
}

// fetch reads ts, each from its cursor and at its own threshold; the
// result is in the order of ts, and so are rep's failures.
func (d *Digest) fetch(ctx context.Context, rep *Report, ts []source.Tenant, dryRun bool) []tenantFind {
	out := make([]tenantFind, len(ts))
	var wg sync.WaitGroup
	var mu sync.Mutex
	slots := make(chan struct{}, cmp.Or(d.Concurrency, 128))
	for i, t := range ts {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			f, calls, err := d.fetchTenant(ctx, t, severitiesFrom(d.minSeverity(t.Name())), dryRun)
			mu.Lock()
			defer mu.Unlock()
			rep.MCASCalls += calls
			if err != nil {
				d.Logger.Warn("digest: tenant failed", "tenant", t.Name(), "error", err)
				out[i] = tenantFind{tenant: t.Name(), failed: true, problem: formatting.TenantProblem{Tenant: t.Name(), Reason: httpx.Describe(err)}}
				return
			}
			out[i] = f
		})
	}
	wg.Wait()
	for _, f := range out {
		if f.failed {
			rep.Failures = append(rep.Failures, f.problem)
		}
	}
	return out
}

// severitiesFrom lists the severities at or above min.
func severitiesFrom(min source.Severity) []source.Severity {
	var out []source.Severity
	for _, s := range []source.Severity{source.SeverityInformational, source.SeverityLow, source.SeverityMedium, source.SeverityHigh} {
		if s.Rank() >= min.Rank() {
			out = append(out, s)
		}
	}
	return out
}

// clipNames lists at most n names, and how many more.
func clipNames(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

func (d *Digest) fetchTenant(ctx context.Context, t source.Tenant, sevs []source.Severity, dryRun bool) (tenantFind, int, error) {
	f := tenantFind{tenant: t.Name(), source: t.Source()}
	since, err := d.since(ctx, t, dryRun)
	if err != nil {
		return f, 0, err
	}
	list, err := t.Alerts(ctx, source.AlertQuery{Limit: d.MaxPerTenant, Severities: sevs, Status: source.StatusOpen, Since: since, Oldest: true})
	if err != nil {
		return f, list.Calls, err
	}
	ids := make([]string, len(list.Alerts))
	for i, a := range list.Alerts {
		ids[i] = a.ID
		if a.Time.After(f.newest) {
			f.newest = a.Time
		}
	}
	posted, err := d.Store.Posted(ctx, t.Name(), ids)
	if err != nil {
		return f, list.Calls, err
	}
	for _, a := range list.Alerts {
		if a.Tenant == "" {
			a.Tenant = t.Name()
		}
		f.read = append(f.read, a)
		// Paging can repeat an alert when new ones arrive between pages;
		// one alert twice in a message would make Slack reject it.
		if !posted[a.ID] {
			posted[a.ID] = true
			f.fresh = append(f.fresh, a)
		}
	}
	f.more, f.total = list.More, len(list.Alerts)
	return f, list.Calls, nil
}

// since is where a tenant's read starts: its cursor less the overlap of
// its API, never below the floor of its last change of API; a tenant
// whose API just changed starts at its cursor, since the other API's ids
// differ and what was posted would be posted again.
func (d *Digest) since(ctx context.Context, t source.Tenant, dryRun bool) (time.Time, error) {
	cur, ok, err := d.Store.DigestCursor(ctx, t.Name())
	if err != nil || !ok {
		return d.Now().Add(-d.Lookback), err
	}
	overlap := d.Overlap
	if o, ok := d.SourceOverlap[t.Source()]; ok {
		overlap = o
	}
	since, floor := cur.Newest.Add(-overlap), cur.Floor
	if cur.Source != t.Source() {
		floor = cur.Newest
		if !dryRun {
			d.Logger.Info("digest: the tenant's API changed: reading from its cursor without the overlap, so alerts posted before are not posted again under their new ids",
				"tenant", t.Name(), "from", cur.Source, "to", t.Source(), "cursor", cur.Newest)
			if err := d.Store.MoveCursor(ctx, t.Name(), t.Source(), time.Time{}); err != nil {
				return since, err
			}
		}
	}
	if !floor.IsZero() && !since.After(floor) {
		// The floor is the newest alert read through the other API: its
		// millisecond was read (MCAS's times have no finer grain).
		since = floor.Add(time.Millisecond)
	}
	return since, nil
}

// recordRun notes which tenants this run could read, for the weekly
// report; failing to note it does not fail the digest.
func (d *Digest) recordRun(ctx context.Context, found []tenantFind) {
	at := d.Now()
	runs := make([]store.TenantRun, 0, len(found))
	for _, f := range found {
		runs = append(runs, store.TenantRun{At: at, Tenant: f.tenant, Failed: f.failed, Reason: f.problem.Reason})
	}
	if err := d.Store.RecordDigestRun(context.WithoutCancel(ctx), runs); err != nil {
		d.Logger.Warn("could not record the digest run for the report", "error", err)
	}
}

// advance moves each healthy tenant's cursor to the newest alert it read.
func (d *Digest) advance(ctx context.Context, found []tenantFind, dryRun bool) error {
	if dryRun {
		return nil
	}
	for _, f := range found {
		if f.failed || f.newest.IsZero() {
			continue
		}
		if err := d.Store.MoveCursor(context.WithoutCancel(ctx), f.tenant, f.source, f.newest); err != nil {
			return fmt.Errorf("advancing cursor of %s: %w", f.tenant, err)
		}
	}
	return nil
}

// reputations looks up each unique public IP once (the client caches).
func (d *Digest) reputations(ctx context.Context, as []source.Alert) map[string]abuseipdb.Report {
	out := map[string]abuseipdb.Report{}
	if d.Reputation == nil {
		return out
	}
	seen := map[netip.Addr]bool{}
	var addrs []netip.Addr
	for _, a := range as {
		for i, s := range a.IPs() {
			if i == 2 {
				break
			}
			addr, err := netip.ParseAddr(s)
			if err != nil || seen[addr.Unmap()] || !abuseipdb.Public(addr) {
				continue
			}
			seen[addr.Unmap()] = true
			addrs = append(addrs, addr.Unmap())
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, addr := range addrs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			rep, err := d.Reputation.Check(ctx, addr)
			if err != nil {
				return // the card just shows no score
			}
			mu.Lock()
			out[addr.String()] = rep
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// keepLock renews the digest lock until the returned stop is called.
func (d *Digest) keepLock(ctx context.Context) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(lockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if ok, err := d.Store.Lock(ctx, lockName, d.Owner, lockTTL); err != nil || !ok {
					d.Logger.Warn("could not renew the digest lock", "error", err, "held", ok)
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
		uctx, c := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer c()
		_ = d.Store.Unlock(uctx, lockName, d.Owner)
	}
}

// post sends one message to channel, paced to that channel's rate; a 429
// is waited out and retried, never dropped, and holds up only its channel.
func (d *Digest) post(ctx context.Context, channel string, msg *slack.WebhookMessage, thread string) (string, error) {
	opts := []slack.MsgOption{slack.MsgOptionText(msg.Text, false), slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionDisableMediaUnfurl()}
	if msg.Blocks != nil {
		opts = append(opts, slack.MsgOptionBlocks(msg.Blocks.BlockSet...))
	}
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	failures := 0
	for {
		if err := d.pace(ctx, channel); err != nil {
			return "", err
		}
		_, ts, err := d.Slack.PostMessageContext(ctx, channel, opts...)
		// Pace from when Slack answered: that is when its window starts.
		d.mu.Lock()
		if d.lastPost == nil {
			d.lastPost = map[string]time.Time{}
		}
		d.lastPost[channel] = time.Now()
		d.mu.Unlock()
		if err == nil {
			return ts, nil
		}
		var rl *slack.RateLimitedError
		if errors.As(err, &rl) {
			wait := max(rl.RetryAfter, time.Second)
			d.Logger.Warn("slack rate limit: waiting before posting the next digest message", "channel", channel, "retry_after", wait)
			if err := httpx.Sleep(ctx, wait); err != nil {
				return "", err
			}
			continue
		}
		var ne net.Error
		var se slack.StatusCodeError
		if (errors.As(err, &ne) || (errors.As(err, &se) && se.Code >= 500)) && failures < 3 {
			failures++
			if err := httpx.Sleep(ctx, time.Duration(failures)*2*time.Second); err != nil {
				return "", err
			}
			continue
		}
		return "", fmt.Errorf("posting the digest to %s: %w", channel, err)
	}
}

func (d *Digest) pace(ctx context.Context, channel string) error {
	d.mu.Lock()
	wait := time.Until(d.lastPost[channel].Add(d.PostInterval))
	d.mu.Unlock()
	return httpx.Sleep(ctx, wait)
}

func (d *Digest) defaults() {
	if d.Lookback <= 0 {
		d.Lookback = 24 * time.Hour
	}
	if d.Overlap <= 0 {
		d.Overlap = 2 * time.Hour
	}
	if d.SourceOverlap == nil {
		d.SourceOverlap = DefaultOverlaps
	}
	if d.MaxPerTenant <= 0 {
		d.MaxPerTenant = 500
	}
	if d.PostInterval <= 0 {
		d.PostInterval = time.Second
	}
	if d.Now == nil {
		d.Now = func() time.Time { return time.Now().UTC() }
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Owner == "" {
		d.Owner = DefaultOwner()
	}
	if d.Window <= 0 {
		d.Window = correlation.DefaultWindow
	}
}
