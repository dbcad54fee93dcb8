package filing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/soc/mcasbot/grouping"
	"github.com/soc/mcasbot/integrations/abuseipdb"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/tenants"
)

// Jira is what filing needs from *jira.Client.
type Jira interface {
	Create(ctx context.Context, is jira.Issue) (jira.Created, error)
	FindByLabel(ctx context.Context, project string, labels ...string) ([]jira.Found, error)
	Comment(ctx context.Context, key, body string) (string, error)
}

// Reputation checks addresses (*abuseipdb.Client); may be nil.
type Reputation interface {
	Check(ctx context.Context, addr netip.Addr) (abuseipdb.Report, error)
}

// Groups reads a user's group display names in a tenant's directory
// (graph.Directory); may be nil when no rule tests a group.
type Groups interface {
	Groups(ctx context.Context, tenant, user string) ([]string, error)
}

// Service files issues.
type Service struct {
	Mapping    Mapping
	Store      store.Store
	Jira       Jira
	Tenants    *tenants.Directory
	Reputation Reputation
	Logger     *slog.Logger
	Now        func() time.Time
	// ReputationWait bounds the AbuseIPDB lookups of one issue (default 4s):
	// reputation never blocks the issue.
	ReputationWait time.Duration
	// Groups answers group=NAME rules; GroupWait bounds a lookup (default
	// 4s): membership never blocks the issue.
	Groups    Groups
	GroupWait time.Duration
	// RepeatWindow, when set (grouping is on), makes an alert that repeats a
	// group filed within it go to the group's issue as a comment instead of
	// a new issue (issue #11).
	RepeatWindow time.Duration
}

// Outcome says what happened to a request to file.
type Outcome string

const (
	Filed        Outcome = "filed"         // this call created the issue
	AlreadyFiled Outcome = "already_filed" // an issue existed (store or Jira)
	InProgress   Outcome = "in_progress"   // another click is filing it now
	Refused      Outcome = "refused"       // not allowed, or the store is down
	Failed       Outcome = "failed"        // Jira or MCAS said no
)

// Result of File.
type Result struct {
	Outcome  Outcome
	Key, URL string
	By       string // who filed or is filing (Slack user ID)
	// Found is set when the issue was found in Jira rather than the store.
	Found bool
	// Held is set (with InProgress) when an earlier attempt got no answer
	// from Jira: the alert is held until HeldUntil so the issue, if it was
	// created, shows up in Jira's search before anyone files again.
	Held      string
	HeldUntil time.Time
	// Appended is how many alerts this call added to an existing issue as
	// a comment (repeats of a filed group).
	Appended int
	// Earlier is the done issue a new one follows (repeats that came back
	// after their group's issue was done).
	Earlier string
}

// ErrStoreDown is returned when claims cannot be checked: filing without
// the store could create duplicates, so it is refused.
var ErrStoreDown = errors.New("the state store is unreachable, so issues cannot be filed safely right now; try again in a minute")

// File files the issue for an alert at most once, whoever clicks and
// however often.
func (s *Service) File(ctx context.Context, tenant, alertID string, by Filer) (Result, error) {
	log := httpx.LoggerFrom(ctx, s.logger()).With("tenant", tenant, "alert", alertID)
	reader, ok := s.Tenants.Tenant(tenant)
	if !ok {
		return Result{Outcome: Refused}, fmt.Errorf("tenant %q is not configured here", tenant)
	}
	claim, err := s.Store.ClaimIssue(ctx, tenant, alertID, by.ID)
	if err != nil {
		log.Error("claim failed: store unreachable", "error", err)
		return Result{Outcome: Refused}, ErrStoreDown
	}
	if !claim.Won {
		rec := claim.Record
		if rec.State == store.IssueCreated {
			return Result{Outcome: AlreadyFiled, Key: rec.Key, URL: rec.URL, By: rec.By}, nil
		}
		res := Result{Outcome: InProgress, By: rec.By}
		if rec.Error != "" {
			res.Held, res.HeldUntil = rec.Error, rec.ClaimedAt.Add(store.StaleClaim)
		}
		return res, nil
	}
	res, err := s.fileClaimed(ctx, log, reader, tenant, alertID, by)
	var amb ambiguous
	if errors.As(err, &amb) {
		// Jira may have created the issue: keep the claim (it frees itself
		// after the stale period), so no click files a twin before Jira's
		// search can find it.
		nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if nerr := s.Store.NoteIssue(nctx, tenant, alertID, amb.Error()); nerr != nil {
			log.Error("could not note the held claim", "error", nerr)
		}
		return Result{Outcome: Failed}, fmt.Errorf("%w; to avoid a duplicate this alert is held until %s UTC, then a click searches Jira before filing",
			err, s.now().Add(store.StaleClaim).Format("15:04"))
	}
	if err != nil {
		// Release the claim so the next click can try again. A fresh
		// context: the caller's may be what ran out.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if ferr := s.Store.FailIssue(fctx, tenant, alertID, err.Error()); ferr != nil {
			log.Error("could not release the claim; it frees itself after the stale period", "error", ferr, "stale_after", store.StaleClaim)
		}
		return Result{Outcome: Failed}, err
	}
	return res, nil
}

func (s *Service) fileClaimed(ctx context.Context, log *slog.Logger, reader source.Tenant, tenant, alertID string, by Filer) (Result, error) {
	// The label search is the fallback guard: an issue filed before the
	// store knew (a lost record, a crash between create and record, a
	// human) must not get a twin. Cloud search lags, so the store comes first.
	found, err := s.Jira.FindByLabel(ctx, s.mapping(tenant).Project, Label(alertID))
	found = s.ofTenant(found, tenant)
	if err != nil {
		log.Warn("jira label search failed; relying on the store record alone", "error", err)
	} else if len(found) > 0 {
		f := found[0]
		if err := s.record(ctx, tenant, alertID, f.Key, f.URL); err != nil {
			log.Error("found existing issue but could not record it", "key", f.Key, "error", err)
		}
		return Result{Outcome: AlreadyFiled, Key: f.Key, URL: f.URL, Found: true}, nil
	}
	alert, err := reader.Alert(ctx, alertID)
	if err != nil {
		return Result{}, fmt.Errorf("could not read the alert from MCAS: %w", err)
	}
	if alert.Tenant == "" {
		alert.Tenant = tenant
	}
	var earlier *store.GroupIssue
	if s.RepeatWindow > 0 {
		// A repeat of a group filed within the window joins its issue,
		// unless that issue is done: then it gets a new one that names it.
		if gi, ok := s.groupIssue(ctx, log, tenant, grouping.Signatures(alert)); ok && gi.Done() {
			earlier = &gi
		} else if ok {
			if err := s.comment(ctx, gi.Key, []source.Alert{alert}, by); err != nil {
				return Result{}, err
			}
			s.recordAll(ctx, log, RepeatGroup{Tenant: tenant, Signature: gi.Signature}, []source.Alert{alert}, gi.Key, gi.URL)
			log.Info("audit: jira repeats appended", "issue", gi.Key, "appended", 1, "user", by.ID, "outcome", "appended")
			return Result{Outcome: AlreadyFiled, Key: gi.Key, URL: gi.URL, Appended: 1}, nil
		}
	}
	ips := IPs(alert)
	var d Decision
	var wg sync.WaitGroup
	wg.Go(func() { d = s.decide(ctx, log, alert) })
	reps := s.reputations(ctx, ips)
	wg.Wait()
	issue := s.mapping(tenant).Build(alert, ips, reps, d, by, s.now())
	if earlier != nil {
		issue.Description = earlierNote(*earlier, 1) + issue.Description
	}
	created, err := s.Jira.Create(ctx, issue)
	if err != nil {
		return Result{}, describeCreateError(err)
	}
	if earlier != nil {
		// Later repeats join the new issue.
		s.recordAll(ctx, log, RepeatGroup{Tenant: tenant, Signature: earlier.Signature}, []source.Alert{alert}, created.Key, created.URL)
	} else if err := s.record(ctx, tenant, alertID, created.Key, created.URL); err != nil {
		// The issue exists; the label search will find it on the next click.
		log.Error("issue created but not recorded in the store", "key", created.Key, "error", err)
	}
	return Result{Outcome: Filed, Key: created.Key, URL: created.URL, By: by.ID, Earlier: earlierKey(earlier)}, nil
}

// mapping is how a tenant's alerts become issues: the bot's mapping, in
// the tenant's own project when its route names one (a managed SOC's
// per-customer project).
func (s *Service) mapping(tenant string) Mapping {
	m := s.Mapping
	if s.Tenants != nil {
		if p := s.Tenants.Route(tenant).JiraProject; p != "" {
			m.Project = p
		}
	}
	return m
}

// ofTenant keeps the issues found by an alert's label that can be this
// tenant's: alert ids are per tenant, so an issue labelled for another
// configured tenant (and not this one) is another alert's. An issue with
// no tenant label at all (filed by hand) still counts.
func (s *Service) ofTenant(found []jira.Found, tenant string) []jira.Found {
	mine := tenantLabel(tenant)
	var out []jira.Found
	for _, f := range found {
		other := false
		for _, l := range f.Labels {
			if l == mine {
				other = false
				break
			}
			for _, t := range s.Tenants.Set().Names {
				if tl := tenantLabel(t); tl != "" && l == tl {
					other = true
				}
			}
		}
		if !other {
			out = append(out, f)
		}
	}
	return out
}

func (s *Service) record(ctx context.Context, tenant, alertID, key, url string) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return s.Store.CompleteIssue(rctx, tenant, alertID, key, url)
}

// describeCreateError keeps Jira's own words and says what to do.
func describeCreateError(err error) error {
	var e *httpx.Error
	if !errors.As(err, &e) {
		return fmt.Errorf("Jira did not create the issue: %w", err)
	}
	switch {
	case e.Kind == httpx.KindBadRequest:
		return fmt.Errorf("Jira rejected the issue: %s (check the JIRA_FIELD_* and JIRA_* settings)", e.Detail)
	case e.Kind == httpx.KindAuth || e.Kind == httpx.KindForbidden:
		return fmt.Errorf("Jira refused mcasbot's credentials (HTTP %d): %s", e.Status, e.Detail)
	case e.Status >= 500 || e.Kind == httpx.KindTimeout || e.Kind == httpx.KindUnavailable:
		return ambiguous{fmt.Errorf("Jira did not confirm the issue (%s), so it may or may not exist", httpx.Describe(e))}
	}
	return fmt.Errorf("Jira did not create the issue: %s", e.Error())
}

// ambiguous is a create whose outcome is unknown.
type ambiguous struct{ error }

// reputations checks every public address concurrently within ReputationWait.
func (s *Service) reputations(ctx context.Context, ips []netip.Addr) Reports {
	r := Reports{ByIP: map[netip.Addr]abuseipdb.Report{}, Notes: map[netip.Addr]string{}}
	wait := s.ReputationWait
	if wait <= 0 {
		wait = 4 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	note := func(ip netip.Addr, text string) {
		mu.Lock()
		defer mu.Unlock()
		r.Notes[ip] = text
	}
	for _, ip := range ips {
		if !abuseipdb.Public(ip) {
			note(ip, "private or reserved address, not sent to AbuseIPDB")
			continue
		}
		if s.Reputation == nil {
			note(ip, "AbuseIPDB not configured")
			continue
		}
		wg.Go(func() {
			rep, err := s.Reputation.Check(ctx, ip)
			if err != nil {
				note(ip, "reputation unavailable ("+string(kindOr(err))+")")
				return
			}
			mu.Lock()
			defer mu.Unlock()
			r.ByIP[ip] = rep
		})
	}
	wg.Wait()
	return r
}

func kindOr(err error) httpx.Kind {
	if k := httpx.KindOf(err); k != "" {
		return k
	}
	return "error"
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now().UTC()
}
