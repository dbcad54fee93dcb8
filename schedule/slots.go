package schedule

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/soc/mcasbot/store"
)

// SlotJob runs a job on a cron schedule once per firing across replicas,
// as the digest does: each firing ("slot") is a run row only one replica
// can take, and a replica that wakes late finds it done.
type SlotJob struct {
	Name  string // "report": runs are named report@<slot>
	Store store.Store
	Owner string
	Lease time.Duration // how long a run is considered alive (default 30m)
	// Run does the job of the slot that fired at slot; an error leaves the
	// slot to be taken over once the lease ends.
	Run func(ctx context.Context, slot time.Time) (outcome string, err error)
	// Resume, when set, runs in the background at Start with the last slot
	// before now, to finish what a stopped replica left (the report's
	// retries); Stop waits for it.
	Resume func(ctx context.Context, slot time.Time)
	Logger *slog.Logger
	// OnRun, when set, is told of every firing's outcome.
	OnRun func(outcome string)

	sched   cron.Schedule
	loc     *time.Location
	cron    *cron.Cron
	resumed sync.WaitGroup
}

// NewSlotJob schedules j on spec in time zone tz (not started yet).
func NewSlotJob(j *SlotJob, spec, tz string) (*SlotJob, error) {
	sched, loc, err := ParseSchedule(spec, tz)
	if err != nil {
		return nil, err
	}
	j.sched, j.loc = sched, loc
	if j.Logger == nil {
		j.Logger = slog.New(slog.DiscardHandler)
	}
	if j.Owner == "" {
		j.Owner = DefaultOwner()
	}
	if j.Lease <= 0 {
		j.Lease = runLease
	}
	j.cron = cron.New(cron.WithLocation(loc), cron.WithChain(cron.SkipIfStillRunning(cronLogger{j.Logger})))
	return j, nil
}

// Start runs the job on its schedule until ctx is done.
func (j *SlotJob) Start(ctx context.Context) {
	j.cron.Schedule(j.sched, cron.FuncJob(func() { j.RunSlot(ctx, time.Now()) }))
	j.cron.Start()
	j.Logger.Info(j.Name+" scheduled", "next", j.cron.Entries()[0].Next.Format(time.RFC3339))
	if j.Resume != nil {
		last := Slot(j.sched, time.Now().In(j.loc))
		j.resumed.Go(func() { j.Resume(ctx, last) })
	}
}

// Stop stops scheduling and waits for a running job.
func (j *SlotJob) Stop() {
	<-j.cron.Stop().Done()
	j.resumed.Wait()
}

// RunSlot runs the slot that fired at now, unless another replica has.
func (j *SlotJob) RunSlot(ctx context.Context, now time.Time) {
	if ctx.Err() != nil {
		return
	}
	slot := Slot(j.sched, now.In(j.loc))
	run := j.Name + "@" + slot.UTC().Format(time.RFC3339)
	log := j.Logger.With("run", run)
	ok, err := j.Store.TryRun(ctx, run, j.Owner, j.Lease)
	switch {
	case err != nil:
		log.Error(j.Name+" not run: state store unreachable", "error", err)
		j.outcome("store_error")
		return
	case !ok:
		log.Info(j.Name + " already run or running elsewhere")
		j.outcome("skipped")
		return
	}
	outcome, err := j.Run(ctx, slot)
	if err != nil {
		log.Error(j.Name+" failed", "error", err)
		j.outcome("failed")
		return
	}
	if err := j.Store.FinishRun(context.WithoutCancel(ctx), run, j.Owner); err != nil {
		log.Warn("could not mark the run done", "error", err)
	}
	j.outcome(outcome)
}

func (j *SlotJob) outcome(o string) {
	if j.OnRun != nil {
		j.OnRun(o)
	}
}
