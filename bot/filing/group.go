package filing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/grouping"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// Grouped repeats (issue #11): one issue for a group of alerts, recorded
// for every alert in it and for the group's signature, and later repeats
// added to that issue as a comment. Exactly once still holds per alert:
// every alert is claimed before Jira is called.

// RepeatGroup is a group of repeats to file: a tenant's alerts of one policy for
// one account or IP (formatting.DigestGroup with its alerts).
type RepeatGroup struct {
	Tenant, Policy string
	By, Value      string // "account" or "ip", and the shared value
	Signature      string
	Alerts         []source.Alert // as the digest read them; the first leads
}

// RepeatFiler is the claim holder of repeats the digest adds to an issue.
const RepeatFiler = "mcasbot"

// maxCommentRows bounds the table of one comment (Jira takes 32,767
// characters); further ids follow as a list.
const maxCommentRows = 100

// FileGroup files one issue for the alerts of a group that have none,
// however often and by whomever it is clicked. If some are filed already
// (an earlier group's issue, or one filed on its own), the rest are added
// to that issue instead.
func (s *Service) FileGroup(ctx context.Context, g RepeatGroup, by Filer) (Result, error) {
	log := httpx.LoggerFrom(ctx, s.logger()).With("tenant", g.Tenant, "group", g.Signature, "alerts", len(g.Alerts))
	reader, ok := s.Tenants.Tenant(g.Tenant)
	if !ok {
		return Result{Outcome: Refused}, fmt.Errorf("tenant %q is not configured here", g.Tenant)
	}
	if len(g.Alerts) == 0 {
		return Result{Outcome: Refused}, errors.New("the group has no alerts")
	}
	// Claims in id order: the first alert is where two clicks on one group
	// meet, so neither takes half of it.
	members := slices.Clone(g.Alerts)
	slices.SortFunc(members, func(a, b source.Alert) int { return strings.Compare(a.ID, b.ID) })
	var won []source.Alert
	var filed []store.IssueRecord
	release := func(reason string) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for _, a := range won {
			if err := s.Store.FailIssue(rctx, g.Tenant, a.ID, reason); err != nil {
				log.Error("could not release a claim; it frees itself after the stale period", "alert", a.ID, "error", err)
			}
		}
	}
	for _, a := range members {
		claim, err := s.Store.ClaimIssue(ctx, g.Tenant, a.ID, by.ID)
		if err != nil {
			release("the state store failed during the claim")
			log.Error("claim failed: store unreachable", "error", err)
			return Result{Outcome: Refused}, ErrStoreDown
		}
		switch {
		case claim.Won:
			won = append(won, a)
		case claim.Record.State == store.IssueCreated:
			filed = append(filed, claim.Record)
		default:
			release("another filing holds part of this group")
			res := Result{Outcome: InProgress, By: claim.Record.By}
			if claim.Record.Error != "" {
				res.Held, res.HeldUntil = claim.Record.Error, claim.Record.ClaimedAt.Add(store.StaleClaim)
			}
			return res, nil
		}
	}
	if len(won) == 0 {
		f := filed[0]
		return Result{Outcome: AlreadyFiled, Key: f.Key, URL: f.URL, By: f.By}, nil
	}
	// Back in the digest's order: the first alert fills the fields.
	mine := map[string]bool{}
	for _, a := range won {
		mine[a.ID] = true
	}
	won = slices.DeleteFunc(slices.Clone(g.Alerts), func(a source.Alert) bool { return !mine[a.ID] })
	res, err := s.fileGroupClaimed(ctx, log, reader, g, won, filed, by)
	var amb ambiguous
	switch {
	case errors.As(err, &amb):
		nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for _, a := range won {
			if nerr := s.Store.NoteIssue(nctx, g.Tenant, a.ID, amb.Error()); nerr != nil {
				log.Error("could not note the held claim", "alert", a.ID, "error", nerr)
			}
		}
		return Result{Outcome: Failed}, fmt.Errorf("%w; to avoid a duplicate these alerts are held until %s UTC, then a click searches Jira before filing",
			err, s.now().Add(store.StaleClaim).Format("15:04"))
	case err != nil:
		release(err.Error())
		return Result{Outcome: Failed}, err
	}
	return res, nil
}

func (s *Service) fileGroupClaimed(ctx context.Context, log *slog.Logger, reader source.Tenant, g RepeatGroup, won []source.Alert, filed []store.IssueRecord, by Filer) (Result, error) {
	// An issue the group has already: one of its alerts filed, or an
	// earlier group of the same repeats within the window.
	target := store.GroupIssue{Tenant: g.Tenant, Signature: g.Signature}
	var earlier *store.GroupIssue
	if len(filed) > 0 {
		target.Key, target.URL = filed[0].Key, filed[0].URL
	} else if gi, ok := s.groupIssue(ctx, log, g.Tenant, []string{g.Signature}); ok && gi.Done() {
		// Nobody reads a comment on a done issue: a new one names it.
		earlier = &gi
	} else if ok {
		target = gi
	}
	if target.Key == "" {
		// The label search is the fallback guard, as for one alert: an
		// earlier attempt whose answer was lost may have filed it.
		found, err := s.Jira.FindByLabel(ctx, s.mapping(g.Tenant).Project, Label(won[0].ID))
		found = s.ofTenant(found, g.Tenant)
		if err != nil {
			log.Warn("jira label search failed; relying on the store records alone", "error", err)
		} else if len(found) > 0 {
			s.recordAll(ctx, log, g, won, found[0].Key, found[0].URL)
			return Result{Outcome: AlreadyFiled, Key: found[0].Key, URL: found[0].URL, Found: true}, nil
		}
	}
	if target.Key != "" {
		if err := s.comment(ctx, target.Key, won, by); err != nil {
			return Result{}, err
		}
		s.recordAll(ctx, log, g, won, target.Key, target.URL)
		log.Info("audit: jira repeats appended", "issue", target.Key, "appended", len(won), "user", by.ID, "outcome", "appended")
		return Result{Outcome: AlreadyFiled, Key: target.Key, URL: target.URL, Appended: len(won)}, nil
	}
	// The first alert's full copy from MCAS fills the fields; the others
	// are listed from the digest's copy.
	first, err := reader.Alert(ctx, won[0].ID)
	if err != nil {
		return Result{}, fmt.Errorf("could not read the alert from MCAS: %w", err)
	}
	if first.Tenant == "" {
		first.Tenant = g.Tenant
	}
	ips := IPs(first)
	var d Decision
	var wg sync.WaitGroup
	wg.Go(func() { d = s.decide(ctx, log, first) })
	reps := s.reputations(ctx, ips)
	wg.Wait()
	issue := s.mapping(g.Tenant).BuildGroup(g, first, won, ips, reps, d, by, s.now())
	if earlier != nil {
		issue.Description = earlierNote(*earlier, len(won)) + issue.Description
	}
	created, err := s.Jira.Create(ctx, issue)
	if err != nil {
		return Result{}, describeCreateError(err)
	}
	s.recordAll(ctx, log, g, won, created.Key, created.URL)
	if earlier != nil {
	}
	return Result{Outcome: Filed, Key: created.Key, URL: created.URL, By: by.ID, Earlier: earlierKey(earlier)}, nil
}

// recordAll records the issue for every alert and for the group; the issue
// exists, so a failure here is logged (the label search finds it later).
func (s *Service) recordAll(ctx context.Context, log *slog.Logger, g RepeatGroup, as []source.Alert, key, url string) {
	last := time.Time{}
	for _, a := range as {
		if err := s.record(ctx, g.Tenant, a.ID, key, url); err != nil {
			log.Error("issue exists but is not recorded for an alert", "alert", a.ID, "key", key, "error", err)
		}
		if a.Time.After(last) {
			last = a.Time
		}
	}
	for _, a := range g.Alerts {
		if a.Time.After(last) {
			last = a.Time
		}
	}
	if g.Signature == "" {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.Store.SaveGroupIssue(rctx, store.GroupIssue{Tenant: g.Tenant, Signature: g.Signature, Key: key, URL: url, Last: last}); err != nil {
		log.Error("could not record the group's issue; later repeats will be filed on their own", "key", key, "error", err)
	}
}

// groupIssue is the issue filed for any of sigs within the window.
func (s *Service) groupIssue(ctx context.Context, log *slog.Logger, tenant string, sigs []string) (store.GroupIssue, bool) {
	gis, err := s.Store.GroupIssues(ctx, tenant, sigs, s.now().Add(-s.window()))
	if err != nil {
		log.Warn("could not read the issues of earlier groups", "error", err)
		return store.GroupIssue{}, false
	}
	for _, sig := range sigs {
		if gi, ok := gis[sig]; ok {
			return gi, true
		}
	}
	return store.GroupIssue{}, false
}

func (s *Service) window() time.Duration {
	if s.RepeatWindow > 0 {
		return s.RepeatWindow
	}
	return 7 * 24 * time.Hour
}

// AppendRepeats adds alerts that repeat a filed group to its issue as one
// comment, each at most once, and returns the ids of those now recorded
// under it (added now or before). The digest calls it; RepeatFiler holds
// the claims.
func (s *Service) AppendRepeats(ctx context.Context, gi store.GroupIssue, alerts []source.Alert) ([]string, error) {
	log := httpx.LoggerFrom(ctx, s.logger()).With("tenant", gi.Tenant, "issue", gi.Key)
	var won []source.Alert
	var recorded []string
	for _, a := range alerts {
		claim, err := s.Store.ClaimIssue(ctx, gi.Tenant, a.ID, RepeatFiler)
		if err != nil {
			s.releaseAll(ctx, log, gi.Tenant, won, "the state store failed during the claim")
			return recorded, ErrStoreDown
		}
		switch {
		case claim.Won:
			won = append(won, a)
		case claim.Record.State == store.IssueCreated && claim.Record.Key == gi.Key:
			recorded = append(recorded, a.ID)
		}
	}
	if len(won) == 0 {
		return recorded, nil
	}
	err := s.comment(ctx, gi.Key, won, Filer{ID: RepeatFiler, Name: "the digest"})
	var amb ambiguous
	switch {
	case errors.As(err, &amb):
		nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for _, a := range won {
			_ = s.Store.NoteIssue(nctx, gi.Tenant, a.ID, amb.Error())
		}
		log.Error("audit: jira repeats not confirmed", "alerts", len(won), "error", err, "outcome", "failed")
		return recorded, err
	case err != nil:
		s.releaseAll(ctx, log, gi.Tenant, won, err.Error())
		log.Error("audit: jira repeats not appended", "alerts", len(won), "error", err, "outcome", "failed")
		return recorded, err
	}
	s.recordAll(ctx, log, RepeatGroup{Tenant: gi.Tenant, Signature: gi.Signature}, won, gi.Key, gi.URL)
	log.Info("audit: jira repeats appended", "appended", len(won), "user", RepeatFiler, "outcome", "appended")
	for _, a := range won {
		recorded = append(recorded, a.ID)
	}
	return recorded, nil
}

func (s *Service) releaseAll(ctx context.Context, log *slog.Logger, tenant string, as []source.Alert, reason string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, a := range as {
		if err := s.Store.FailIssue(rctx, tenant, a.ID, reason); err != nil {
			log.Error("could not release a claim; it frees itself after the stale period", "alert", a.ID, "error", err)
		}
	}
}

// comment adds alerts to an issue. Like a create, a comment whose answer
// was lost may exist: such a failure is ambiguous.
func (s *Service) comment(ctx context.Context, key string, as []source.Alert, by Filer) error {
	if _, err := s.Jira.Comment(ctx, key, repeatComment(as, by, s.now())); err != nil {
		var e *httpx.Error
		if errors.As(err, &e) && (e.Status >= 500 || e.Kind == httpx.KindTimeout || e.Kind == httpx.KindUnavailable) {
			return ambiguous{fmt.Errorf("Jira did not confirm the comment on %s (%s), so it may or may not exist", key, httpx.Describe(e))}
		}
		if errors.As(err, &e) && e.Status == 404 {
			return fmt.Errorf("Jira has no issue %s any more (deleted or moved), so the repeats could not be added to it", key)
		}
		return fmt.Errorf("Jira did not take the comment on %s: %w", key, err)
	}
	return nil
}

// repeatComment is the comment that adds alerts to a group's issue: a row
// per alert (wiki markup; upstream text escaped).
func repeatComment(as []source.Alert, by Filer, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "h4. %d more %s of this group\n", len(as), plural(len(as), "alert", "alerts"))
	alertTable(&b, as)
	name := formatting.Clean(by.Name)
	if name == "" {
		name = by.ID
	}
	fmt.Fprintf(&b, "\n_Added by %s with mcasbot on %s UTC._\n", jira.Escape(name), now.UTC().Format("2006-01-02 15:04"))
	return formatting.Cut(b.String(), jira.MaxCommentChars)
}

// alertTable lists alerts as wiki-markup rows, at most maxCommentRows; the
// ids of the rest follow.
func alertTable(b *strings.Builder, as []source.Alert) {
	b.WriteString("||Alert ID||Time (UTC)||Severity||User||IP addresses||Portal||\n")
	for i, a := range as {
		if i == maxCommentRows {
			var rest []string
			for _, r := range as[i:] {
				rest = append(rest, jira.Escape(r.ID))
			}
			fmt.Fprintf(b, "\n%d more: %s\n", len(as)-i, strings.Join(rest, ", "))
			break
		}
		portal := " "
		if u := formatting.SafeURL(a.URL); u != "" {
			portal = jira.Link("Open", u)
		}
		fmt.Fprintf(b, "|%s|%s|%s|%s|%s|%s|\n", cell(a.ID), a.Time.UTC().Format("2006-01-02 15:04:05"), a.Severity,
			cell(AffectedUser(a)), cell(strings.Join(a.IPs(), ", ")), portal)
	}
}

// cell is an escaped table cell; Jira needs a space in an empty one.
func cell(s string) string {
	if s = jira.Escape(formatting.Cut(formatting.Clean(s), 200)); s == "" {
		return " "
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// BuildGroup makes the one issue of a group: the summary with the count,
// a label per alert, a table of every alert, and the first alert's fields
// (custom fields, description; d is the first alert's priority decision).
func (m Mapping) BuildGroup(g RepeatGroup, first source.Alert, as []source.Alert, ips []netip.Addr, reps Reports, d Decision, by Filer, now time.Time) jira.Issue {
	is := m.Build(first, ips, reps, d, by, now)
	title := formatting.Clean(first.Title)
	if title == "" {
		title = "(untitled alert)"
	}
	is.Summary = formatting.Cut(fmt.Sprintf("[MCAS][%s] ×%d %s — %s", formatting.Clean(g.Tenant), len(as), title, formatting.Clean(g.Value)), maxSingleLine)
	is.Labels = []string{"mcas"}
	for _, a := range as {
		if l := Label(a.ID); !slices.Contains(is.Labels, l) {
			is.Labels = append(is.Labels, l)
		}
	}
	if t := strings.ToLower(labelSafe(g.Tenant)); t != "" && t != "mcas" {
		is.Labels = append(is.Labels, formatting.Cut(t, 255))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "h3. Defender for Cloud Apps: %d repeats of one policy\n", len(as))
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "||%s|%s|\n", k, jira.Escape(formatting.Clean(v)))
		}
	}
	row("Policy", g.Policy)
	if g.By == string(grouping.ByIP) {
		row("IP address", g.Value)
	} else {
		row("Account", g.Value)
	}
	row("Tenant", g.Tenant)
	first0, last := formatting.GroupSpan(as)
	fmt.Fprintf(&b, "||Alerts|%d|\n||First (UTC)|%s|\n||Last (UTC)|%s|\n\n", len(as), first0.UTC().Format("2006-01-02 15:04:05"), last.UTC().Format("2006-01-02 15:04:05"))
	alertTable(&b, as)
	b.WriteString("\nLater repeats within the correlation window are added to this issue as comments.\n\n")
	b.WriteString(strings.Replace(is.Description, "h3. Defender for Cloud Apps alert", "h3. The first alert", 1))
	is.Description = formatting.Cut(b.String(), maxParagraph)
	return is
}

// earlierNote opens the description of an issue that follows a done one:
// the repeats came back after it was done.
func earlierNote(gi store.GroupIssue, n int) string {
	status := gi.Status
	if status == "" {
		status = "Done"
	}
	if gi.Resolution != "" && !strings.EqualFold(gi.Resolution, status) {
		status += ": " + gi.Resolution
	}
	what := "This alert repeats"
	if n > 1 {
		what = "These alerts repeat"
	}
	ref := jira.Escape(gi.Key)
	if gi.URL != "" {
		ref = jira.Link(gi.Key, gi.URL)
	}
	return fmt.Sprintf("*Earlier issue:* %s (%s). %s its alerts, which came back after it was done.\n\n", ref, jira.Escape(status), what)
}

func earlierKey(gi *store.GroupIssue) string {
	if gi == nil {
		return ""
	}
	return gi.Key
}
