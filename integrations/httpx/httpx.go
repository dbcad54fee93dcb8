// Package httpx holds what every upstream client shares: one error type that
// says what failed and whether a retry makes sense, a retrying caller that
// honours Retry-After, and a sliding-window rate limiter.
package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind classifies an upstream failure the way an analyst needs to read it.
type Kind string

const (
	KindAuth        Kind = "authentication failed"
	KindForbidden   Kind = "permission denied"
	KindThrottled   Kind = "throttled"
	KindTimeout     Kind = "timed out"
	KindUnavailable Kind = "unavailable"
	KindBadRequest  Kind = "rejected the request"
	KindNotFound    Kind = "not found"
	KindBadResponse Kind = "sent a malformed response"
)

// Error is what every client returns for a failed upstream call.
type Error struct {
	Service    string // "mcas", "abuseipdb", "jira"
	Op         string // what the client was doing, e.g. "list alerts"
	Kind       Kind
	Status     int           // HTTP status, 0 when none was received
	Detail     string        // the upstream's own message, cleaned and cut
	RetryAfter time.Duration // what the upstream asked for, if anything
	Err        error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Service)
	b.WriteString(": ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	b.WriteString(string(e.Kind))
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, ", retry after %s", e.RetryAfter.Round(time.Second))
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether trying the same call later may succeed.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindThrottled, KindTimeout, KindUnavailable:
		return true
	}
	return false
}

// KindOf returns the Kind of err, or "" when err is not an *Error.
func KindOf(err error) Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return ""
}

// Describe says in a few words why a call failed, for a person: the kind,
// the HTTP status and the upstream's own message, without the service and
// operation (the reader knows which tenant or tool it was).
func Describe(err error) string {
	var e *Error
	if errors.As(err, &e) {
		s := string(e.Kind)
		if e.Status != 0 {
			s += fmt.Sprintf(" (HTTP %d)", e.Status)
		}
		if e.Detail != "" {
			s += ": " + e.Detail
		}
		return s
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return string(KindTimeout)
	}
	return err.Error()
}

// Retryable reports whether err is an *Error worth retrying.
func Retryable(err error) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Retryable()
}

// KindForStatus maps an HTTP status to a Kind.
func KindForStatus(status int) Kind {
	switch {
	case status == http.StatusUnauthorized:
		return KindAuth
	case status == http.StatusForbidden:
		return KindForbidden
	case status == http.StatusNotFound || status == http.StatusGone:
		return KindNotFound
	case status == http.StatusTooManyRequests:
		return KindThrottled
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		return KindTimeout
	case status >= 500:
		return KindUnavailable
	default:
		return KindBadRequest
	}
}

// RetryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// Caller sends requests to one upstream, retrying what is worth retrying.
type Caller struct {
	Service  string
	Client   *http.Client
	Timeout  time.Duration // per attempt
	Attempts int           // total tries, at least 1
	// BaseDelay and MaxDelay bound the exponential backoff used when the
	// upstream gives no Retry-After.
	BaseDelay, MaxDelay time.Duration
	// MaxRetryAfter is the longest Retry-After worth waiting for; longer
	// asks fail at once as throttled.
	MaxRetryAfter time.Duration
	// Limiter hands out a slot before every attempt (the upstream's
	// request budget); nil means no limit.
	Limiter Limiter
	// OnLimit, when set, is told of every wait for the Limiter.
	OnLimit func(wait time.Duration)
	// Retry says whether a response status is worth another attempt.
	// Nil means 429 and 5xx.
	Retry func(status int) bool
	// NoTransportRetry stops retries after timeouts and dropped
	// connections: for a request that must not run twice (creating an
	// issue), those may have been processed.
	NoTransportRetry bool
	// Detail extracts the upstream's own error message from a body.
	Detail func(body []byte) string
	// Observe, when set, sees every attempt (for metrics).
	Observe func(op string, status int, d time.Duration)
	// OnRetry, when set, is told of every retry and its wait.
	OnRetry func(op string, wait time.Duration)
	Logger  *slog.Logger
	// Sleep is replaceable in tests.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Response is a successful upstream answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// MaxBody caps how much of a response is read.
const MaxBody = 16 << 20

// Do sends the request built by newReq until it succeeds, fails for good or
// runs out of attempts. Non-2xx answers come back as *Error.
func (c *Caller) Do(ctx context.Context, op string, newReq func(ctx context.Context) (*http.Request, error)) (*Response, error) {
	attempts := max(c.Attempts, 1)
	var last *Error
	for attempt := 0; attempt < attempts; attempt++ {
		if attempt > 0 {
			wait := c.backoff(attempt, last)
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
				return nil, last // waiting would outlive the caller
			}
			if l := LoggerFrom(ctx, c.Logger); l != nil {
				l.Warn("retrying upstream call", "service", c.Service, "op", op, "attempt", attempt+1, "wait", wait, "error", last.Error())
			}
			if c.OnRetry != nil {
				c.OnRetry(op, wait)
			}
			if err := c.sleep(ctx, wait); err != nil {
				return nil, c.fail(op, KindTimeout, 0, "", err)
			}
		}
		resp, err := c.once(ctx, op, newReq)
		if err == nil {
			return resp, nil
		}
		last = err
		if !c.shouldRetry(err) {
			return nil, err
		}
		if err.RetryAfter > c.maxRetryAfter() {
			return nil, err
		}
	}
	return nil, last
}

func (c *Caller) shouldRetry(err *Error) bool {
	if err.Status == 0 {
		return !c.NoTransportRetry && (err.Kind == KindTimeout || err.Kind == KindUnavailable)
	}
	if c.Retry != nil {
		return c.Retry(err.Status)
	}
	return err.Status == http.StatusTooManyRequests || err.Status >= 500
}

func (c *Caller) maxRetryAfter() time.Duration {
	if c.MaxRetryAfter > 0 {
		return c.MaxRetryAfter
	}
	return 30 * time.Second
}

func (c *Caller) backoff(attempt int, last *Error) time.Duration {
	if last != nil && last.RetryAfter > 0 {
		return last.RetryAfter
	}
	base, ceiling := c.BaseDelay, c.MaxDelay
	if base <= 0 {
		base = 500 * time.Millisecond
	}
	if ceiling <= 0 {
		ceiling = 10 * time.Second
	}
	d := base << (attempt - 1)
	if d > ceiling || d <= 0 {
		d = ceiling
	}
	// Full jitter around the upper half keeps replicas from retrying in step.
	return d/2 + rand.N(d/2+1)
}

func (c *Caller) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	return Sleep(ctx, d)
}

// Sleep waits d or until ctx is done.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Caller) once(ctx context.Context, op string, newReq func(ctx context.Context) (*http.Request, error)) (*Response, *Error) {
	if err := c.takeSlot(ctx, op); err != nil {
		return nil, err
	}
	actx := ctx
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	req, err := newReq(actx)
	if e, ok := errors.AsType[*Error](err); ok {
		return nil, e // already says what failed (e.g. no token for the request)
	}
	if err != nil {
		return nil, c.fail(op, KindBadRequest, 0, "", err)
	}
	start := time.Now()
	resp, err := c.Client.Do(req)
	if err != nil {
		c.observe(op, 0, time.Since(start))
		return nil, c.transportError(op, err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	_ = resp.Body.Close()
	c.observe(op, resp.StatusCode, time.Since(start))
	if err != nil {
		return nil, c.transportError(op, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
	}
	e := c.fail(op, KindForStatus(resp.StatusCode), resp.StatusCode, c.detail(body), nil)
	if d, ok := RetryAfter(resp.Header, time.Now()); ok {
		e.RetryAfter = d
	}
	return nil, e
}

// takeSlot waits for the Limiter's next slot. A wait longer than ctx
// allows fails at once as throttled: the budget is spent until then.
func (c *Caller) takeSlot(ctx context.Context, op string) *Error {
	if c.Limiter == nil {
		return nil
	}
	wait, release, err := c.Limiter.Reserve(ctx)
	if err != nil {
		return c.fail(op, KindUnavailable, 0, "request budget unavailable", err)
	}
	if wait <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		release()
		e := c.fail(op, KindThrottled, 0, fmt.Sprintf("the request budget is spent for the next %s", wait.Round(time.Second)), nil)
		e.RetryAfter = wait
		return e
	}
	noteWait(ctx, wait)
	if c.OnLimit != nil {
		c.OnLimit(wait)
	}
	if err := Sleep(ctx, wait); err != nil {
		release()
		return c.fail(op, KindTimeout, 0, "waiting for the request budget", err)
	}
	return nil
}

func (c *Caller) observe(op string, status int, d time.Duration) {
	if c.Observe != nil {
		c.Observe(op, status, d)
	}
}

func (c *Caller) detail(body []byte) string {
	var s string
	if c.Detail != nil {
		s = c.Detail(body)
	}
	if s == "" {
		// Never echo an HTML error page; a short plain body is useful.
		trimmed := bytes.TrimSpace(body)
		if len(trimmed) > 0 && trimmed[0] != '<' && utf8.Valid(trimmed) {
			s = string(trimmed)
		}
	}
	return Truncate(strings.Join(strings.Fields(s), " "), 300)
}

func (c *Caller) transportError(op string, err error) *Error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return c.fail(op, KindTimeout, 0, "", err)
	}
	if errors.Is(err, context.Canceled) {
		return c.fail(op, KindTimeout, 0, "cancelled", err)
	}
	return c.fail(op, KindUnavailable, 0, "", err)
}

func (c *Caller) fail(op string, kind Kind, status int, detail string, err error) *Error {
	return &Error{Service: c.Service, Op: op, Kind: kind, Status: status, Detail: detail, Err: err}
}

// Malformed builds the error for a 2xx body that could not be decoded.
func (c *Caller) Malformed(op string, err error) *Error {
	return c.fail(op, KindBadResponse, 0, Truncate(err.Error(), 200), err)
}

// Truncate cuts s to at most n runes, ending with "…" when it cut.
func Truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
