package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"

	"github.com/soc/mcasbot/ops"
	"github.com/soc/mcasbot/tenants"
)

// tenantsReload loads TENANTS_FILE again into the running bot: new and
// changed tenants get new clients, unchanged ones keep theirs (their
// caches, request budgets, breaker state and tokens), and the commands,
// the digest, filing and closing see the new set at their next use. A file
// with a problem changes nothing.
type tenantsReload struct {
	a       *app
	path    string
	secrets *redactor
	metrics *ops.Metrics // nil: not counted
	// build wires one tenant (a.wireTenant; a test makes it fail).
	build func(Tenant) (*wiredTenant, error)

	mu     sync.Mutex
	served *roster
}

func newTenantsReload(a *app, secrets *redactor, m *ops.Metrics) *tenantsReload {
	return &tenantsReload{a: a, path: a.cfg.TenantsFile.Path, secrets: secrets, metrics: m, build: a.wireTenant, served: a.cfg.roster}
}

// reload serves data (the file's contents, or readErr) or keeps the set
// served; it returns the secret files of the set served after.
func (r *tenantsReload) reload(trigger string, data []byte, readErr error) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, log := r.a, r.a.logger.With("trigger", trigger)
	if readErr != nil {
		return r.refuse(log, fmt.Errorf("%s: cannot read it: %v", r.path, errUnwrap(readErr)))
	}
	// Resolve on a copy: the running bot's settings never change under it.
	cfg := *a.cfg
	cfg.Entra.Secrets = nil
	ro, ps, named := loadTenantsFile(&cfg, r.path, data)
	if ro != nil {
		// Hidden before anything is built or logged.
		r.secrets.Add(secretsOf(&cfg, ro.Tenants)...)
	}
	var problems []error
	for _, p := range ps {
		if p.Fatal {
			problems = append(problems, errors.New(p.Msg))
		} else {
			log.Warn("tenants file: " + p.Msg)
		}
	}
	if ro == nil {
		// Watch what it names too: a secret file mounted after the file
		// (Kubernetes updates a ConfigMap and a Secret apart) brings the
		// reload back.
		files, err := r.refuse(log, problems...)
		files = slices.Clone(files)
		for _, f := range named {
			if !slices.Contains(files, f) {
				files = append(files, f)
			}
		}
		return files, err
	}
	old := map[string]*wiredTenant{}
	for _, w := range a.tenants {
		old[w.spec.Name] = w
	}
	var ws []*wiredTenant
	added, changed, removed := []string{}, []string{}, []string{} // [] in the log, not null
	for _, t := range ro.Tenants {
		w := old[t.Name]
		if w != nil && w.sum == t.fingerprint() {
			ws = append(ws, w)
			continue
		}
		nw, err := r.build(t)
		if err != nil {
			problems = append(problems, fmt.Errorf("tenant %s: %v", t.Name, err))
			continue
		}
		ws = append(ws, nw)
		if w == nil {
			added = append(added, t.Name)
		} else {
			changed = append(changed, t.Name)
		}
	}
	if len(problems) > 0 {
		return r.refuse(log, problems...)
	}
	for _, w := range a.tenants {
		if !slices.ContainsFunc(ro.Tenants, func(t Tenant) bool { return t.Name == w.spec.Name }) {
			removed = append(removed, w.spec.Name)
		}
	}
	a.serve(ws, ro)
	r.served = ro
	for _, name := range slices.Concat(changed, removed) {
		// Answers reused from its old settings would be someone else's.
		a.runner.Forget(name)
	}
	r.count("ok")
	log.Info("tenants reloaded", "tenants", len(ws), "added", added, "removed", removed, "changed", changed)
	return ro.Version.Files, nil
}

// refuse keeps the tenants served and says why, every problem on a line.
func (r *tenantsReload) refuse(log *slog.Logger, problems ...error) ([]string, error) {
	for _, p := range problems {
		log.Error("tenants reload refused", "problem", p.Error())
	}
	log.Error("tenants reload failed: still serving the tenants loaded before", "tenants", len(r.a.tenants), "problems", len(problems))
	r.count("failed")
	var files []string
	if r.served != nil {
		files = r.served.Version.Files
	}
	return files, errors.Join(problems...)
}

func (r *tenantsReload) count(outcome string) {
	if r.metrics != nil {
		r.metrics.TenantReloads.WithLabelValues(outcome).Inc()
	}
}

// watchTenants reloads TENANTS_FILE on SIGHUP and when its contents
// change, until ctx ends. Without a tenants file, SIGHUP is logged and
// ignored (it would otherwise end the bot). It returns the readiness check
// that shows the file's state in /readyz's body.
func (a *app) watchTenants(ctx context.Context, secrets *redactor, m *ops.Metrics) ops.Check {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	check := ops.Check{Name: "tenants", OK: func() bool { return a.runner.Tenants.Len() > 0 }}
	if a.cfg.roster == nil {
		go func() {
			defer signal.Stop(hup)
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					a.logger.Warn("SIGHUP ignored: the tenants come from environment variables, read at start only (TENANTS_FILE can be reloaded)")
				}
			}
		}()
		return check
	}
	r := newTenantsReload(a, secrets, m)
	w := &tenants.Watcher{Path: r.path, Every: a.cfg.TenantsFile.Poll, Reload: r.reload}
	w.Loaded(a.cfg.roster.Version)
	go func() {
		defer signal.Stop(hup)
		w.Run(ctx, hup)
	}()
	a.logger.Info("tenants file watched: reloaded on SIGHUP and when its contents change", "file", r.path, "every", a.cfg.TenantsFile.Poll.String())
	check.Detail = func() any {
		s := w.Status()
		if o := s.LastReload; o != nil {
			for i, p := range o.Problems {
				o.Problems[i] = secrets.Redact(p)
			}
		}
		return struct {
			Tenants int `json:"tenants"`
			tenants.Status
		}{a.runner.Tenants.Len(), s}
	}
	return check
}
