package commands

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/patrickmn/go-cache"
	"golang.org/x/sync/singleflight"

	"github.com/soc/mcasbot/integrations/httpx"
)

// Identical questions share one answer (issue #10): per tenant, queries
// that are the same after parsing make one call while it is in flight and
// reuse its answer for CacheTTL. Sharing happens per tenant, so a fan-out
// over every tenant reuses what single-tenant queries fetched.

// page is one tenant's answer to a list query.
type page[T any] struct {
	Items []T
	More  bool
}

// cut keeps at most limit items.
func (p page[T]) cut(limit int) page[T] {
	if len(p.Items) > limit {
		return page[T]{Items: p.Items[:limit], More: true}
	}
	return p
}

// tenantQuery is one question to one tenant.
type tenantQuery struct {
	tenant string
	key    string // tenant, command and normalized filters, without the limit
	limit  int    // what the command shows
	fetch  int    // what is asked upstream (at least the default, for reuse)
	// gate, when set, waits for one of the question's fan-out slots; the
	// returned func gives it back.
	gate func(context.Context) (func(), error)
}

// cached is a reusable answer.
type cached struct {
	page  any // page[T]
	fetch int
	at    time.Time
}

// sharing holds the calls in flight and the answers kept for reuse.
type sharing struct {
	group singleflight.Group
	cache *cache.Cache // nil: answers are not reused

	mu     sync.Mutex
	boards map[string]*board
}

// board is what a call in flight tells the commands waiting for it: that
// it waits for the tenant's request budget, and until when.
type board struct {
	refs    int
	queued  time.Time
	changed chan struct{}
}

func newSharing(ttl time.Duration) *sharing {
	s := &sharing{boards: map[string]*board{}}
	if ttl > 0 {
		s.cache = cache.New(ttl, 2*ttl)
	}
	return s
}

// acquire returns the board of a flight key; everyone interested in the key
// at the same time shares one board.
func (s *sharing) acquire(key string) *board {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.boards[key]
	if b == nil {
		b = &board{changed: make(chan struct{})}
		s.boards[key] = b
	}
	b.refs++
	return b
}

func (s *sharing) release(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.boards[key]; b != nil {
		if b.refs--; b.refs <= 0 {
			delete(s.boards, key)
		}
	}
}

func (s *sharing) setQueued(b *board, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b.queued = until
	close(b.changed)
	b.changed = make(chan struct{})
}

func (s *sharing) watch(b *board) (time.Time, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return b.queued, b.changed
}

// keep stores an answer unless a fresh one fetched with a larger limit is there.
func (s *sharing) keep(key string, c cached) {
	if s.cache == nil {
		return
	}
	if old, ok := s.cache.Get(key); ok && old.(cached).fetch > c.fetch {
		return
	}
	s.cache.SetDefault(key, c)
}

func (r *Runner) sharing() *sharing {
	r.shareOnce.Do(func() { r.share = newSharing(r.CacheTTL) })
	return r.share
}

// ask answers q from the cache, by joining the identical call in flight,
// or by calling fetch. queued is told when the call waits for the tenant's
// request budget. asOf is when a reused answer was fetched (zero: fresh).
// The call runs on its own context (bounded by Timeout), so a command that
// gives up does not fail the others waiting for it.
func ask[T any](r *Runner, ctx context.Context, q tenantQuery, fetch func(context.Context, int) (page[T], error), queued func(until time.Time)) (page[T], time.Time, error) {
	s := r.sharing()
	if s.cache != nil {
		if v, ok := s.cache.Get(q.key); ok {
			c := v.(cached)
			// A page fetched with a larger limit, or holding everything
			// that matched, answers a smaller one.
			if p := c.page.(page[T]); c.fetch >= q.limit || !p.More {
				r.hook(r.OnCache, true)
				return p.cut(q.limit), c.at, nil
			}
		}
	}
	// A reused answer is served while the tenant is not answering (above);
	// a new call is not made, and a hung one is not joined.
	if err := r.skip(q.tenant); err != nil {
		return page[T]{}, time.Time{}, err
	}
	if s.cache != nil {
		r.hook(r.OnCache, false)
	}
	// A reused answer takes no fan-out slot; a call, or joining one, does.
	if q.gate != nil {
		release, err := q.gate(ctx)
		if err != nil {
			return page[T]{}, time.Time{}, err
		}
		defer release()
	}
	fkey := q.key + "\x00" + strconv.Itoa(q.fetch)
	b := s.acquire(fkey)
	defer s.release(fkey)
	led := false
	ch := s.group.DoChan(fkey, func() (any, error) {
		led = true
		fb := s.acquire(fkey)
		defer s.release(fkey)
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout())
		defer cancel()
		var queued atomic.Bool
		fctx = httpx.WithWaitNotice(fctx, func(d time.Duration) {
			queued.Store(true)
			s.setQueued(fb, time.Now().Add(d))
		})
		var p page[T]
		err := r.guarded(fctx, q.tenant, func() (bool, error) {
			var err error
			p, err = fetch(fctx, q.fetch)
			return queued.Load(), err
		})
		if err == nil {
			s.keep(q.key, cached{page: p, fetch: q.fetch, at: r.now()})
		}
		return p, err
	})
	var seen time.Time
	for {
		until, changed := s.watch(b)
		if !until.Equal(seen) {
			seen = until
			queued(until)
		}
		select {
		case res := <-ch:
			if !led && r.OnCoalesced != nil {
				r.OnCoalesced()
			}
			if res.Err != nil {
				return page[T]{}, time.Time{}, res.Err
			}
			return res.Val.(page[T]).cut(q.limit), time.Time{}, nil
		case <-changed:
		case <-ctx.Done():
			return page[T]{}, time.Time{}, ctx.Err()
		}
	}
}

// outOfTime is a shared call that used up its time (Timeout).
type outOfTime struct{ err error }

func (e *outOfTime) Error() string { return e.err.Error() }
func (e *outOfTime) Unwrap() error { return e.err }

func (r *Runner) hook(f func(bool), v bool) {
	if f != nil {
		f(v)
	}
}

// Query keys: the command and its filters, normalized so that what means
// the same asks once.

func alertsKey(req AlertsRequest) string {
	sev := make([]int, len(req.Severities))
	for i, s := range req.Severities {
		sev[i] = int(s)
	}
	slices.Sort(sev)
	return fmt.Sprintf("alerts|sev=%v|status=%d|since=%s", sev, req.Status, sinceKey(req))
}

// sinceKey is a relative since as its duration (7d = 1w = 168h), an
// absolute one as its time.
func sinceKey(req AlertsRequest) string {
	if m := durationRE.FindStringSubmatch(strings.ToLower(req.SinceText)); m != nil {
		n, _ := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
		return "last " + (time.Duration(n) * unit).String()
	}
	return "from " + strconv.FormatInt(req.Since.UnixMilli(), 10)
}

func userKey(req UserRequest) string { return "user|" + strings.ToLower(req.User) }

func ipKey(req IPRequest) string { return "ip|" + req.Addr.String() }

// ForgetAlerts drops the tenant's reusable alert lists, so the next question
// reads MCAS again: after a close, an answer "as of" a minute ago would
// still show the alert open. Activities are left alone; closing changes none.
// The cache is per replica, so this is for the analyst who just closed.
func (r *Runner) ForgetAlerts(tenant string) { r.forget(tenant, false) }

// Forget drops every reusable answer of the tenant, activities too: after
// a reload changed its URL or sign-in, or removed it, answers read with the
// old settings are another tenant's.
func (r *Runner) Forget(tenant string) { r.forget(tenant, true) }

func (r *Runner) forget(tenant string, activities bool) {
	s := r.sharing()
	if s.cache == nil {
		return
	}
	for key := range s.cache.Items() {
		if strings.HasPrefix(key, tenant+"|") && (activities || !strings.HasPrefix(key, tenant+"|ip|")) {
			s.cache.Delete(key)
		}
	}
}
