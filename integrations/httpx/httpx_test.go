package httpx

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func newCaller(srv *httptest.Server) (*Caller, *[]time.Duration) {
	var slept []time.Duration
	c := &Caller{
		Service: "test", Client: srv.Client(), Attempts: 3, Timeout: 200 * time.Millisecond,
		Sleep: func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return nil },
	}
	return c, &slept
}

func get(url string) func(ctx context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	}
}

func TestRetriesThrottleHonouringRetryAfter(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write([]byte(`ok`))
	}))
	defer srv.Close()
	c, slept := newCaller(srv)
	resp, err := c.Do(context.Background(), "get", get(srv.URL))
	if err != nil || string(resp.Body) != "ok" {
		t.Fatalf("Do = %v, %v", resp, err)
	}
	if len(*slept) != 1 || (*slept)[0] != 7*time.Second {
		t.Fatalf("slept %v, want one 7s wait from Retry-After", *slept)
	}
}

func TestGivesUpAfterAttemptsAndSaysWhy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"detail":"backend down"}`, http.StatusBadGateway)
	}))
	defer srv.Close()
	c, slept := newCaller(srv)
	c.Detail = func(b []byte) string { return "backend down" }
	_, err := c.Do(context.Background(), "list alerts", get(srv.URL))
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindUnavailable || e.Status != 502 || !e.Retryable() {
		t.Fatalf("err = %#v", err)
	}
	if len(*slept) != 2 {
		t.Fatalf("slept %d times, want 2 (3 attempts)", len(*slept))
	}
	if got := err.Error(); got != "test: list alerts: unavailable (HTTP 502): backend down" {
		t.Fatalf("message %q", got)
	}
}

func TestAuthFailureIsNotRetried(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	c, _ := newCaller(srv)
	_, err := c.Do(context.Background(), "get", get(srv.URL))
	if KindOf(err) != KindAuth || Retryable(err) || n.Load() != 1 {
		t.Fatalf("err=%v calls=%d", err, n.Load())
	}
}

func TestLongRetryAfterFailsFast(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	c, _ := newCaller(srv)
	_, err := c.Do(context.Background(), "get", get(srv.URL))
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindThrottled || e.RetryAfter != time.Hour || n.Load() != 1 {
		t.Fatalf("err=%v calls=%d", err, n.Load())
	}
}

func TestTimeoutIsReportedAsTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c, _ := newCaller(srv)
	c.Attempts = 1
	c.Timeout = 50 * time.Millisecond
	_, err := c.Do(context.Background(), "get", get(srv.URL))
	if KindOf(err) != KindTimeout {
		t.Fatalf("err = %v", err)
	}
}

func TestRetryAfterDate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}
	if d, ok := RetryAfter(h, now); !ok || d != 90*time.Second {
		t.Fatalf("got %v %v", d, ok)
	}
	if _, ok := RetryAfter(http.Header{"Retry-After": {"soon"}}, now); ok {
		t.Fatal("garbage parsed")
	}
}

func TestWindowAllowsNPerPeriod(t *testing.T) {
	now := time.Unix(0, 0)
	w := NewWindow(3, time.Minute)
	w.now = func() time.Time { return now }
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	for i := 0; i < 3; i++ {
		if err := w.Wait(ctx); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	// The fourth would need a minute; the context cannot wait that long.
	if err := w.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("4th call: %v", err)
	}
	now = now.Add(time.Minute)
	if err := w.Wait(context.Background()); err != nil {
		t.Fatalf("after a minute: %v", err)
	}
}

func TestTruncate(t *testing.T) {
	if got := Truncate("héllo wörld", 6); got != "héllo…" {
		t.Fatalf("got %q", got)
	}
	if got := Truncate("abc", 3); got != "abc" {
		t.Fatalf("got %q", got)
	}
}

// A request that cannot be built for a described reason (no token) fails
// with that reason, and a sign-in refusal is not retried.
func TestRequestBuilderErrorIsKept(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	defer srv.Close()
	c, slept := newCaller(srv)
	refusal := &Error{Service: "entra id", Op: "get a token", Kind: KindAuth, Detail: "tenant not found (AADSTS90002)"}
	_, err := c.Do(context.Background(), "list", func(context.Context) (*http.Request, error) { return nil, refusal })
	if err != refusal || Describe(err) != "authentication failed: tenant not found (AADSTS90002)" || len(*slept) != 0 || n.Load() != 0 {
		t.Fatalf("err %v, slept %v, %d requests", err, *slept, n.Load())
	}
}

// Each queued caller learns its own wait at once: the k-th past the budget
// waits for the slot k places back to leave the window.
func TestWindowQueuesInOrder(t *testing.T) {
	now := time.Unix(0, 0)
	w := NewWindow(2, 10*time.Second)
	w.now = func() time.Time { return now }
	var waits []time.Duration
	for range 5 {
		d, _, _ := w.Reserve(context.Background())
		waits = append(waits, d)
		now = now.Add(time.Second)
	}
	// slots at 0, 1, 10, 11, 20 (reserved at 0, 1, 2, 3, 4)
	want := []time.Duration{0, 0, 8 * time.Second, 8 * time.Second, 16 * time.Second}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}
}

func TestWindowReleaseGivesTheSlotToTheNext(t *testing.T) {
	now := time.Unix(0, 0)
	w := NewWindow(1, time.Minute)
	w.now = func() time.Time { return now }
	_, _, _ = w.Reserve(context.Background())
	d, release, _ := w.Reserve(context.Background())
	if d != time.Minute {
		t.Fatalf("second slot waits %v", d)
	}
	release()
	if d, _, _ := w.Reserve(context.Background()); d != time.Minute {
		t.Fatalf("after a release the next waits %v, want the freed minute", d)
	}
}

type fixedLimiter struct {
	wait     time.Duration
	released int
}

func (f *fixedLimiter) Reserve(context.Context) (time.Duration, func(), error) {
	return f.wait, func() { f.released++ }, nil
}

// A wait for the budget is announced before it starts, and a wait longer
// than the caller has fails at once as throttled, giving the slot back.
func TestCallerWaitsForTheBudgetAndSaysSo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	c, _ := newCaller(srv)
	lim := &fixedLimiter{wait: 30 * time.Millisecond}
	c.Limiter = lim
	var limited time.Duration
	c.OnLimit = func(d time.Duration) { limited = d }
	var noticed time.Duration
	ctx := WithWaitNotice(context.Background(), func(d time.Duration) { noticed = d })
	if _, err := c.Do(ctx, "get", get(srv.URL)); err != nil {
		t.Fatal(err)
	}
	if noticed != 30*time.Millisecond || limited != 30*time.Millisecond {
		t.Fatalf("notice %v, metric %v", noticed, limited)
	}
	lim.wait = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.Do(ctx, "get", get(srv.URL))
	if KindOf(err) != KindThrottled || time.Since(start) > 500*time.Millisecond || lim.released != 1 {
		t.Fatalf("err %v after %v, released %d", err, time.Since(start), lim.released)
	}
	if !strings.Contains(Describe(err), "request budget is spent for the next 1m0s") {
		t.Fatalf("describe %q", Describe(err))
	}
}
