package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/store"
)

const reportPeriod = "2026-11-16T00:00:00Z/2026-11-23T00:00:00Z"

// One period's scheduled report: one attempt at a time across replicas, a
// retry sees the message an earlier attempt posted, and once sent or given
// up nobody claims it again.
func testReportSends(t *testing.T, open Opener) {
	s, reopen := open(t)
	other := reopen()
	t.Cleanup(func() { _ = other.Close() })
	if _, ok, err := s.ReportSend(ctx, reportPeriod); ok || err != nil {
		t.Fatalf("fresh period: %v %v", ok, err)
	}
	rec, ok, err := s.ClaimReport(ctx, reportPeriod, "replica-a", time.Minute)
	if err != nil || !ok || rec.Attempts != 1 || rec.State != store.ReportSending || rec.TS != "" {
		t.Fatalf("first claim %+v %v %v", rec, ok, err)
	}
	if rec, ok, _ := other.ClaimReport(ctx, reportPeriod, "replica-b", time.Minute); ok || rec.Owner != "replica-a" {
		t.Fatalf("two replicas hold one attempt: %+v", rec)
	}
	// The same owner does not take its own live attempt twice either
	// (a resumed send and a firing in one process).
	if _, ok, _ := s.ClaimReport(ctx, reportPeriod, "replica-a", time.Minute); ok {
		t.Fatal("an attempt was claimed twice by its owner")
	}
	if ok, err := other.ReportPosted(ctx, reportPeriod, "replica-b", "C0REPORT", "9.9"); ok || err != nil {
		t.Fatalf("a non-holder recorded a message: %v %v", ok, err)
	}
	if ok, err := s.ReportPosted(ctx, reportPeriod, "replica-a", "C0REPORT", "1700000000.000100"); !ok || err != nil {
		t.Fatalf("ReportPosted %v %v", ok, err)
	}
	if ok, err := s.FinishReport(ctx, reportPeriod, "replica-a", store.ReportSending, "chart: upload failed"); !ok || err != nil {
		t.Fatalf("release %v %v", ok, err)
	}
	// The next attempt, on another replica, finds the message.
	rec, ok, err = other.ClaimReport(ctx, reportPeriod, "replica-b", time.Minute)
	if err != nil || !ok || rec.Attempts != 2 || rec.Channel != "C0REPORT" || rec.TS != "1700000000.000100" || rec.Error != "chart: upload failed" {
		t.Fatalf("second claim %+v %v %v", rec, ok, err)
	}
	if ok, _ := s.FinishReport(ctx, reportPeriod, "replica-a", store.ReportSent, ""); ok {
		t.Fatal("a replica that lost the attempt finished it")
	}
	before := time.Now().Add(-time.Second)
	if ok, err := other.FinishReport(ctx, reportPeriod, "replica-b", store.ReportSent, ""); !ok || err != nil {
		t.Fatalf("sent %v %v", ok, err)
	}
	for _, h := range []store.Store{s, other} {
		if rec, ok, _ := h.ClaimReport(ctx, reportPeriod, "replica-c", time.Minute); ok || rec.State != store.ReportSent || rec.EndedAt.Before(before) {
			t.Fatalf("a sent report was claimed again: %+v", rec)
		}
	}

	// A replica that died mid-attempt leaves it to be taken over once its
	// lease ends; giving up is final too.
	const p2 = "2026-11-23T00:00:00Z/2026-11-30T00:00:00Z"
	if _, ok, _ := s.ClaimReport(ctx, p2, "replica-a", time.Millisecond); !ok {
		t.Fatal("claim p2")
	}
	time.Sleep(20 * time.Millisecond)
	if rec, ok, _ := other.ClaimReport(ctx, p2, "replica-b", time.Minute); !ok || rec.Attempts != 2 || rec.Owner != "replica-b" {
		t.Fatalf("expired attempt not taken over: %+v", rec)
	}
	if ok, _ := other.FinishReport(ctx, p2, "replica-b", store.ReportFailed, "posting: channel_not_found"); !ok {
		t.Fatal("give up")
	}
	if rec, ok, _ := s.ClaimReport(ctx, p2, "replica-a", time.Minute); ok || rec.State != store.ReportFailed || rec.Error != "posting: channel_not_found" {
		t.Fatalf("a given-up report was claimed: %+v", rec)
	}
}

// Many replicas racing for a new period's first attempt: one wins.
func testReportClaimConcurrent(t *testing.T, open Opener) {
	s, reopen := open(t)
	other := reopen()
	t.Cleanup(func() { _ = other.Close() })
	var mu sync.Mutex
	won := 0
	var wg sync.WaitGroup
	for i := range 16 {
		h := []store.Store{s, other}[i%2]
		wg.Go(func() {
			_, ok, err := h.ClaimReport(ctx, reportPeriod, string(rune('a'+i)), time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d replicas won one attempt", won)
	}
}
