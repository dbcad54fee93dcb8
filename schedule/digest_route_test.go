package schedule_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/mcas"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/tenants"
)

// fleetWorld is many tenants on one fake MCAS, each routed to one of a
// few digest channels.
type fleetWorld struct {
	fleet  *mcasfake.Fleet
	slack  *slackfake.Server
	names  []string
	chanOf map[string]string // tenant → its channel
	routes map[string]tenants.Route
	alerts map[string][]mcasfake.Alert
	dbPath string
	now    time.Time
}

// newFleetWorld serves n tenants with perTenant new alerts each; tenant i
// goes to channel i%channels. Channel 0's tenants have no route of their
// own: they take the digest's default channel.
func newFleetWorld(t testing.TB, n, channels, perTenant int) *fleetWorld {
	t.Helper()
	w := &fleetWorld{fleet: mcasfake.NewFleet(), slack: slackfake.New(), chanOf: map[string]string{}, routes: map[string]tenants.Route{},
		alerts: map[string][]mcasfake.Alert{}, dbPath: filepath.Join(t.TempDir(), "state.db"), now: time.Now().UTC().Truncate(time.Second)}
	t.Cleanup(w.fleet.Close)
	t.Cleanup(w.slack.Close)
	for i := range n {
		name := fmt.Sprintf("cust%03d", i)
		w.names = append(w.names, name)
		w.chanOf[name] = channelName(i % channels)
		if i%channels != 0 {
			w.routes[name] = tenants.Route{DigestChannel: channelName(i % channels)}
		}
		w.alerts[name] = mcasfake.Generate(name, perTenant, w.now.Add(-time.Minute), 20*time.Hour, uint64(i+1))
		w.fleet.Add(name, "tok-"+name).AddAlerts(w.alerts[name]...)
	}
	return w
}

func channelName(i int) string { return fmt.Sprintf("C0CH%02d", i) }

// digest builds a digest as a fresh process would (new store handle).
func (w *fleetWorld) digest(t testing.TB, logs *syncBuffer) *schedule.Digest {
	t.Helper()
	st, err := store.Open(context.Background(), w.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var ts []source.Tenant
	for _, name := range w.names {
		srv, _ := w.fleet.Tenant(name)
		c, err := mcas.New(mcas.Config{Name: name, URL: srv.URL, Token: "tok-" + name, RequestsPerMinute: -1, Attempts: 1}, w.fleet.Client(), nil)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, c)
	}
	d := &schedule.Digest{
		Config: schedule.Config{Channel: channelName(0), MinSeverity: source.SeverityInformational, Lookback: 24 * time.Hour, PostInterval: time.Millisecond},
		Store:  st, Slack: slack.New("xoxb-test", slack.OptionAPIURL(w.slack.APIURL())),
		Now: func() time.Time { return w.now }, Tenants: tenants.NewDirectory(ts, nil, w.routes),
	}
	if logs != nil {
		d.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	return d
}

// open counts a tenant's open alerts at or above min.
func (w *fleetWorld) open(tenant string, min source.Severity) int {
	n := 0
	for _, a := range w.alerts[tenant] {
		if source.Severity(a.SeverityValue).Rank() >= min.Rank() && a.ResolutionStatusValue == 0 {
			n++
		}
	}
	return n
}

// byChannel groups the messages posted, in order.
func byChannel(posts []slackfake.Post) map[string][]slackfake.Post {
	out := map[string][]slackfake.Post{}
	for _, p := range posts {
		if p.Method == "chat.postMessage" {
			out[p.Channel] = append(out[p.Channel], p)
		}
	}
	return out
}

// Twelve tenants in three channels, Slack holding each channel to one
// message a second: each channel gets its own tenants' alerts, once, in a
// stream of its own (a parent, then chunks in its thread) that names no
// other channel's tenant; the channels post side by side, each at Slack's
// pace, and nothing is posted again by the next run.
func TestRoutedDigestGivesEachChannelItsOwnTenantsOnce(t *testing.T) {
	w := newFleetWorld(t, 12, 3, 10)
	strict := w.names[4] // channel 1's; its route raises its threshold
	w.routes[strict] = tenants.Route{DigestChannel: w.chanOf[strict], MinSeverity: "high"}
	w.slack.EnforceRateLimit(true)
	var logs syncBuffer
	d := w.digest(t, &logs)
	d.PostInterval = time.Second
	rep, err := d.Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}

	want := map[string]int{} // per channel
	total := 0
	for _, name := range w.names {
		min := source.SeverityInformational
		if name == strict {
			min = source.SeverityHigh
		}
		want[w.chanOf[name]] += w.open(name, min)
		total += w.open(name, min)
	}
	ids := postedIDs(t, w.slack.Posts())
	if rep.Posted != total || len(ids) != total || len(dupes(ids)) > 0 {
		t.Fatalf("posted %d (%d buttons, dupes %v), want %d", rep.Posted, len(ids), dupes(ids), total)
	}
	if len(rep.Channels) != 3 {
		t.Fatalf("%d channel reports: %+v", len(rep.Channels), rep.Channels)
	}
	streams := byChannel(w.slack.Posts())
	for ch, posts := range streams {
		// Routing: every alert in the channel is one of its tenants'.
		for _, id := range postedIDs(t, posts) {
			tenant, _, _ := strings.Cut(id, "/")
			if w.chanOf[tenant] != ch {
				t.Fatalf("%s's alert posted in %s, routed to %s", tenant, ch, w.chanOf[tenant])
			}
			if tenant == strict {
				for _, a := range w.alerts[strict] {
					if strict+"/"+a.ID == id && source.Severity(a.SeverityValue) != source.SeverityHigh {
						t.Fatalf("%s's %s alert posted under its route's min_severity high", strict, source.Severity(a.SeverityValue))
					}
				}
			}
		}
		// One stream: the parent with the channel's own totals, the rest
		// in its thread.
		if posts[0].Thread != "" || !strings.Contains(posts[0].Text, fmt.Sprintf("MCAS digest: %d new alerts", want[ch])) {
			t.Fatalf("%s: parent %q, want %d new alerts", ch, posts[0].Text, want[ch])
		}
		if len(posts) < 3 {
			t.Fatalf("%s: %d messages; the test needs a thread of at least two", ch, len(posts))
		}
		for _, p := range posts[1:] {
			if p.Thread != posts[0].TS {
				t.Fatalf("%s: a chunk outside the channel's thread: %+v", ch, p)
			}
		}
		// No other channel's tenant is named, nor what it saw.
		for _, p := range posts {
			for _, name := range w.names {
				if w.chanOf[name] != ch && regexp.MustCompile(`\b`+name+`\b`).Match(append([]byte(p.Text), p.Blocks...)) {
					t.Fatalf("%s names %s, a tenant of %s:\n%s", ch, name, w.chanOf[name], p.Blocks)
				}
			}
		}
		// Slack's pace, per channel: a second between messages.
		for i := 1; i < len(posts); i++ {
			if gap := posts[i].At.Sub(posts[i-1].At); gap < time.Second {
				t.Fatalf("%s: %v between messages", ch, gap)
			}
		}
	}
	// The tenants of each channel share addresses with each other, so the
	// check above had something to find.
	if !strings.Contains(string(streams[channelName(1)][0].Blocks), "Cross-tenant") {
		t.Fatalf("no cross-tenant section in %s's parent", channelName(1))
	}
	// Side by side: every channel starts before any other is done.
	for a, pa := range streams {
		for b, pb := range streams {
			if a != b && !pa[0].At.Before(pb[len(pb)-1].At) {
				t.Fatalf("%s started after %s was done: channels posted one after another", a, b)
			}
		}
	}
	if strings.Contains(logs.String(), "slack rate limit") {
		t.Fatalf("the digest outpaced Slack:\n%s", logs.String())
	}

	// A restarted process finds nothing new anywhere.
	before := len(w.slack.Posts())
	rep, err = w.digest(t, nil).Run(context.Background(), false)
	if err != nil || rep.New != 0 || len(w.slack.Posts()) != before {
		t.Fatalf("second run: %+v %v", rep, err)
	}
}

// failIn fails every post to one channel after the first allowed ones.
type failIn struct {
	schedule.Slack
	channel string
	mu      sync.Mutex
	allowed int
}

func (f *failIn) PostMessageContext(ctx context.Context, ch string, opts ...slack.MsgOption) (string, string, error) {
	if ch == f.channel {
		f.mu.Lock()
		ok := f.allowed > 0
		f.allowed--
		f.mu.Unlock()
		if !ok {
			return "", "", fmt.Errorf("connection reset by peer (simulated)")
		}
	}
	return f.Slack.PostMessageContext(ctx, ch, opts...)
}

// A channel whose posting fails mid-stream holds up neither the other
// channels nor its own posted alerts; what it could not post comes in the
// next run, once.
func TestAChannelThatFailsHoldsUpOnlyItself(t *testing.T) {
	w := newFleetWorld(t, 12, 3, 10)
	d := w.digest(t, nil)
	bad := channelName(2)
	d.Slack = &failIn{Slack: d.Slack, channel: bad, allowed: 1} // its parent only
	rep, err := d.Run(context.Background(), false)
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("run error %v, want one naming %s", err, bad)
	}
	wantIn := map[string]int{}
	for _, name := range w.names {
		wantIn[w.chanOf[name]] += w.open(name, source.SeverityInformational)
	}
	for _, c := range rep.Channels {
		switch {
		case c.Channel == bad && (c.Err == nil || c.Posted == 0 || c.Posted >= wantIn[bad]):
			t.Fatalf("%s: %+v, want its parent posted and an error", bad, c)
		case c.Channel != bad && (c.Err != nil || c.Posted != wantIn[c.Channel]):
			t.Fatalf("%s: %+v, want all %d posted", c.Channel, c, wantIn[c.Channel])
		}
	}
	first := byChannel(w.slack.Posts())

	// The next run (a restarted process) posts the rest of that channel's
	// alerts, and nothing anywhere else.
	rep, err = w.digest(t, nil).Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	all := postedIDs(t, w.slack.Posts())
	total := 0
	for _, n := range wantIn {
		total += n
	}
	if len(all) != total || len(dupes(all)) > 0 {
		t.Fatalf("after the next run %d posted (dupes %v), want %d", len(all), dupes(all), total)
	}
	second := byChannel(w.slack.Posts())
	for ch := range wantIn {
		if ch != bad && len(second[ch]) != len(first[ch]) {
			t.Fatalf("%s posted again in the next run", ch)
		}
	}
	if rep.Posted != wantIn[bad]-postedCount(t, first[bad]) {
		t.Fatalf("next run posted %d", rep.Posted)
	}
}

func postedCount(t *testing.T, posts []slackfake.Post) int { return len(postedIDs(t, posts)) }

// A tenant with no channel (no route, no DIGEST_CHANNEL) is not read, and
// the run says so by name; the others post as usual.
func TestTenantWithoutChannelIsNamedNotDropped(t *testing.T) {
	w := newFleetWorld(t, 6, 3, 4)
	var logs syncBuffer
	d := w.digest(t, &logs)
	d.Channel = "" // channel 0's tenants have nowhere to go
	lost := []string{w.names[0], w.names[3]}
	if got := schedule.Unrouted(d.Tenants, ""); !slices.Equal(got, lost) {
		t.Fatalf("Unrouted %v, want %v", got, lost)
	}
	if got := schedule.Channels(d.Tenants, ""); !slices.Equal(got, []string{channelName(1), channelName(2)}) {
		t.Fatalf("Channels %v", got)
	}
	rep, err := d.Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Unrouted, lost) {
		t.Fatalf("unrouted %v, want %v", rep.Unrouted, lost)
	}
	if !strings.Contains(logs.String(), "tenants without a digest channel are not read") || !strings.Contains(logs.String(), "tenants=2") ||
		!strings.Contains(logs.String(), lost[0]+", "+lost[1]) {
		t.Fatalf("log does not name the tenants left out:\n%s", logs.String())
	}
	for _, name := range lost {
		if srv, _ := w.fleet.Tenant(name); len(srv.Requests()) != 0 {
			t.Fatalf("%s was read", name)
		}
	}
	want := 0
	for _, name := range w.names[1:] {
		if name != lost[1] {
			want += w.open(name, source.SeverityInformational)
		}
	}
	if rep.Posted != want || len(byChannel(w.slack.Posts())) != 2 {
		t.Fatalf("posted %d in %d channels, want %d in 2", rep.Posted, len(byChannel(w.slack.Posts())), want)
	}
}

// A dry run of a routed digest says which channel each message is for.
func TestRoutedDryRunNamesChannels(t *testing.T) {
	w := newFleetWorld(t, 6, 3, 4)
	rep, err := w.digest(t, nil).Run(context.Background(), true)
	if err != nil || len(w.slack.Posts()) != 0 {
		t.Fatalf("%v, %d posts", err, len(w.slack.Posts()))
	}
	var order []string
	for _, m := range rep.DryRun {
		if m.Channel == "" {
			t.Fatalf("a dry-run message without its channel: %q", m.Text)
		}
		if len(order) == 0 || order[len(order)-1] != m.Channel {
			order = append(order, m.Channel)
		}
	}
	if !slices.Equal(order, []string{channelName(0), channelName(1), channelName(2)}) {
		t.Fatalf("dry-run channels in order %v", order)
	}
}

// A digest over many tenants reads at most Concurrency of them at once
// (FANOUT_CONCURRENCY), and still reads and posts every one.
func TestDigestReadsAtMostConcurrencyTenantsAtOnce(t *testing.T) {
	w := newFleetWorld(t, 24, 2, 2)
	w.fleet.SetLatency(50 * time.Millisecond)
	d := w.digest(t, nil)
	d.Concurrency = 4
	rep, err := d.Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := w.fleet.MostAtOnce(); got > 4 || got < 2 {
		t.Errorf("the fleet served %d requests at once; want at most 4 (and some in parallel)", got)
	}
	want := 0
	for _, name := range w.names {
		want += w.open(name, source.SeverityInformational)
	}
	if rep.Posted != want || len(rep.Failures) != 0 || w.fleet.Requests() < len(w.names) {
		t.Errorf("posted %d of %d alerts, failures %v, %d requests for %d tenants", rep.Posted, want, rep.Failures, w.fleet.Requests(), len(w.names))
	}
}
