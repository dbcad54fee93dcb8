package schedule

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/robfig/cron/v3"
)

// DefaultOwner names this process: host name and pid.
func DefaultOwner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d", host, os.Getpid())
}

// ParseSchedule reads a cron spec ("0 8 * * *", "@daily", "@every 1h") in
// a time zone.
func ParseSchedule(spec, tz string) (cron.Schedule, *time.Location, error) {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, nil, fmt.Errorf("time zone %q: %w", tz, err)
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("schedule %q: %w", spec, err)
	}
	return sched, loc, nil
}

// Scheduler runs the digest on its schedule.
type Scheduler struct {
	cron   *cron.Cron
	sched  cron.Schedule
	loc    *time.Location
	digest *Digest
	log    *slog.Logger
	// OnRun, when set, is told of every run's outcome.
	OnRun func(outcome string)
}

// runLease bounds how long a scheduled run is considered alive.
const runLease = 30 * time.Minute

// NewScheduler prepares (but does not start) a scheduler.
func NewScheduler(spec, tz string, d *Digest, logger *slog.Logger) (*Scheduler, error) {
	sched, loc, err := ParseSchedule(spec, tz)
	if err != nil {
		return nil, err
	}
	d.defaults()
	s := &Scheduler{sched: sched, loc: loc, digest: d, log: logger}
	// A run still going when the next is due is skipped, not doubled.
	s.cron = cron.New(cron.WithLocation(loc), cron.WithChain(cron.SkipIfStillRunning(cronLogger{logger})))
	return s, nil
}

// Start runs digests until ctx is done; Stop waits for a running one.
func (s *Scheduler) Start(ctx context.Context) {
	s.cron.Schedule(s.sched, cron.FuncJob(func() { s.RunSlot(ctx, time.Now()) }))
	s.cron.Start()
	s.log.Info("digest scheduled", "next", s.cron.Entries()[0].Next.Format(time.RFC3339), "channel", s.digest.Channel)
}

// Stop stops scheduling and waits for a running digest.
func (s *Scheduler) Stop() {
	<-s.cron.Stop().Done()
}

// RunSlot runs the digest of the slot that fired at now, once across
// replicas: the slot's run row is taken by one, and a replica waking late
// finds it done.
func (s *Scheduler) RunSlot(ctx context.Context, now time.Time) {
	if ctx.Err() != nil {
		return
	}
	slot := Slot(s.sched, now.In(s.loc))
	run := "digest@" + slot.UTC().Format(time.RFC3339)
	log := s.log.With("run", run)
	d := s.digest
	ok, err := d.Store.TryRun(ctx, run, d.Owner, runLease)
	if err != nil {
		log.Error("digest not run: state store unreachable", "error", err)
		s.outcome("store_error")
		return
	}
	if !ok {
		log.Info("digest already run or running elsewhere")
		s.outcome("skipped")
		return
	}
	rep, err := d.Run(ctx, false)
	if err != nil {
		// The run row's lease expires; the cursor was not advanced, so the
		// next run posts what this one could not.
		log.Error("digest failed", "error", err, "posted", rep.Posted, "new", rep.New, "channels", len(rep.Channels), "failed_channels", failedChannels(rep))
		s.outcome("failed")
		return
	}
	if err := d.Store.FinishRun(context.WithoutCancel(ctx), run, d.Owner); err != nil {
		log.Warn("could not mark the digest run done", "error", err)
	}
	log.Info("digest done", "new", rep.New, "posted", rep.Posted, "messages", rep.Messages, "channels", len(rep.Channels),
		"failed_tenants", len(rep.Failures), "tenants_without_channel", len(rep.Unrouted), "skipped", rep.Skipped)
	s.outcome("ok")
}

// failedChannels counts the channels whose posting stopped.
func failedChannels(rep Report) int {
	n := 0
	for _, c := range rep.Channels {
		if c.Err != nil {
			n++
		}
	}
	return n
}

func (s *Scheduler) outcome(o string) {
	if s.OnRun != nil {
		s.OnRun(o)
	}
}

// Slot is the latest scheduled time at or before now: every replica that
// wakes for one firing computes the same slot.
func Slot(sched cron.Schedule, now time.Time) time.Time {
	if cd, ok := sched.(cron.ConstantDelaySchedule); ok {
		return now.Truncate(cd.Delay)
	}
	// Walk forward from two days back to the last firing not after now;
	// a weekly or monthly schedule looks further back.
	back := 49 * time.Hour
	t := sched.Next(now.Add(-back))
	for t.After(now) && back < 800*24*time.Hour {
		back *= 4
		t = sched.Next(now.Add(-back))
	}
	slot := t
	for !t.After(now) {
		slot = t
		t = sched.Next(t)
	}
	return slot
}

type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Info("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "error", err)...)
}
