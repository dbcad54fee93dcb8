package tenants

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"slices"
	"sync"
	"time"
)

// Version is a tenants file as served: the fingerprint of its contents
// and of the secret files it names, and those files.
type Version struct {
	Sum   [32]byte
	Files []string
}

// Sum fingerprints a tenants file's contents and the files it names (read
// now). A file that cannot be read counts by its error, so its coming
// back is a change too.
func Sum(data []byte, files []string) [32]byte {
	h := sha256.New()
	h.Write(data)
	for _, f := range files {
		h.Write([]byte("\x00" + f + "\x00"))
		b, err := os.ReadFile(f)
		if err != nil {
			h.Write([]byte("unreadable: " + err.Error()))
			continue
		}
		h.Write(b)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Watcher reloads a tenants file on a signal (SIGHUP) and when its
// contents change. It compares contents, not modification times: a
// Kubernetes ConfigMap volume swaps a symlink to a new directory, which
// the file's own mtime does not show, and a copy may keep its mtime.
type Watcher struct {
	// Path is the tenants file.
	Path string
	// Every is how often its contents are compared (0: only on a signal).
	Every time.Duration
	// Reload serves the file's contents (data, or readErr when it could
	// not be read), or keeps the tenants served and says why (errors.Join
	// of every problem). Either way it returns the secret files the
	// tenants served now name.
	Reload func(trigger string, data []byte, readErr error) (files []string, err error)
	Now    func() time.Time

	mu      sync.Mutex
	served  Version
	status  Status
	reloads sync.Mutex // one reload at a time
}

// Status is what /readyz shows of the tenants file.
type Status struct {
	File string `json:"file"`
	// LoadedAt is when the tenants served now were loaded.
	LoadedAt time.Time `json:"loaded_at"`
	// LastReload is the latest reload; nil before the first.
	LastReload *Outcome `json:"last_reload,omitempty"`
}

// Outcome is one reload.
type Outcome struct {
	At      time.Time `json:"at"`
	Trigger string    `json:"trigger"`
	OK      bool      `json:"ok"`
	// Problems say why it was refused; the tenants loaded at LoadedAt are
	// still served.
	Problems []string `json:"problems,omitempty"`
}

// Triggers of a reload.
const (
	TriggerSignal  = "SIGHUP"
	TriggerChanged = "file changed"
)

// Loaded records the version loaded at start-up.
func (w *Watcher) Loaded(v Version) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.served = v
	w.status = Status{File: w.Path, LoadedAt: w.now()}
}

// Run reloads on every value of hup and on every change of contents,
// until ctx ends.
func (w *Watcher) Run(ctx context.Context, hup <-chan os.Signal) {
	var tick <-chan time.Time
	if w.Every > 0 {
		t := time.NewTicker(w.Every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			w.ReloadNow(TriggerSignal)
		case <-tick:
			if w.Changed() {
				w.ReloadNow(TriggerChanged)
			}
		}
	}
}

// Changed reports whether the file's contents (or those of the secret
// files it names) differ from the version last read.
func (w *Watcher) Changed() bool {
	w.mu.Lock()
	v := w.served
	w.mu.Unlock()
	data, err := os.ReadFile(w.Path)
	return Sum(contents(data, err), v.Files) != v.Sum
}

// contents is what a file's sum is taken of: its bytes, or why there are
// none.
func contents(data []byte, err error) []byte {
	if err != nil {
		return []byte("unreadable: " + err.Error())
	}
	return data
}

// ReloadNow reloads the file and returns why it was refused, if it was.
func (w *Watcher) ReloadNow(trigger string) error {
	w.reloads.Lock()
	defer w.reloads.Unlock()
	data, readErr := os.ReadFile(w.Path)
	files, err := w.Reload(trigger, data, readErr)
	// The files are read again for the sum: a secret rotated in the
	// instant between is seen at the next change, or SIGHUP.
	sum := Sum(contents(data, readErr), files)
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	// A refused version is remembered too: it is not tried again until
	// the file changes.
	w.served = Version{Sum: sum, Files: files}
	o := &Outcome{At: now, Trigger: trigger, OK: err == nil}
	if err != nil {
		o.Problems = problemsOf(err)
	} else {
		w.status.LoadedAt = now
	}
	w.status.LastReload = o
	return err
}

// Status is the tenants file's state now.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.status
	if s.LastReload != nil {
		o := *s.LastReload
		o.Problems = slices.Clone(o.Problems)
		s.LastReload = &o
	}
	return s
}

func (w *Watcher) now() time.Time {
	if w.Now != nil {
		return w.Now().UTC()
	}
	return time.Now().UTC()
}

// problemsOf lists a joined error's parts, one a line.
func problemsOf(err error) []string {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		var out []string
		for _, e := range joined.Unwrap() {
			out = append(out, problemsOf(e)...)
		}
		return out
	}
	return []string{err.Error()}
}
