package tenants_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soc/mcasbot/tenants"
)

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// configMap lays out a directory the way a Kubernetes ConfigMap volume
// does: the file is a symlink through ..data to a timestamped directory,
// and an update swaps ..data at once.
type configMap struct {
	t   *testing.T
	dir string
	n   int
}

func (c *configMap) publish(content string) {
	c.n++
	ts := filepath.Join(c.dir, "..v"+string(rune('0'+c.n)))
	if err := os.Mkdir(ts, 0o700); err != nil {
		c.t.Fatal(err)
	}
	write(c.t, filepath.Join(ts, "tenants.yaml"), content)
	// Keep the file's mtime: only the contents tell.
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	_ = os.Chtimes(filepath.Join(ts, "tenants.yaml"), old, old)
	tmp := filepath.Join(c.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		c.t.Fatal(err)
	}
	if c.n == 1 {
		if err := os.Symlink("..data/tenants.yaml", filepath.Join(c.dir, "tenants.yaml")); err != nil {
			c.t.Fatal(err)
		}
	}
}

func TestChangesAreSeenByContents(t *testing.T) {
	cm := &configMap{t: t, dir: t.TempDir()}
	cm.publish("tenants: [a]\n")
	path := filepath.Join(cm.dir, "tenants.yaml")
	secret := filepath.Join(t.TempDir(), "token")
	write(t, secret, "one")
	reads := 0
	w := &tenants.Watcher{Path: path, Reload: func(string, []byte, error) ([]string, error) { reads++; return []string{secret}, nil }}
	if err := w.ReloadNow(tenants.TriggerSignal); err != nil || reads != 1 {
		t.Fatal(err, reads)
	}
	if w.Changed() {
		t.Fatal("changed without a change")
	}
	cm.publish("tenants: [b]\n") // same size, same mtime, a swapped symlink
	if !w.Changed() {
		t.Fatal("a ConfigMap update was not seen")
	}
	_ = w.ReloadNow(tenants.TriggerChanged)
	write(t, secret, "two") // a rotated secret counts too
	if !w.Changed() {
		t.Fatal("a secret file's change was not seen")
	}
	_ = w.ReloadNow(tenants.TriggerChanged)
	if err := os.Remove(secret); err != nil {
		t.Fatal(err)
	}
	if !w.Changed() {
		t.Fatal("a secret file's removal was not seen")
	}
}

func TestWatcherReloadsOnSignalAndOnChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tenants.yaml")
	write(t, path, "v1")
	var clock atomic.Int64
	now := func() time.Time { return time.Unix(1_000_000+clock.Add(60), 0) }
	type call struct {
		trigger string
		data    string
	}
	calls := make(chan call, 10)
	refuse := errors.Join(errors.New(`tenants.yaml:3: unknown key "sourse" (did you mean source?)`), errors.New("tenants.yaml:9: token_file: cannot read /x: no such file"))
	w := &tenants.Watcher{Path: path, Every: 5 * time.Millisecond, Now: now,
		Reload: func(trigger string, data []byte, err error) ([]string, error) {
			calls <- call{trigger, string(data)}
			if string(data) == "broken" {
				return nil, refuse
			}
			return nil, nil
		}}
	w.Loaded(tenants.Version{Sum: tenants.Sum([]byte("v1"), nil)})
	started := w.Status().LoadedAt
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hup := make(chan os.Signal, 1)
	done := make(chan struct{})
	go func() { w.Run(ctx, hup); close(done) }()
	next := func() call {
		t.Helper()
		select {
		case c := <-calls:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("no reload")
		}
		return call{}
	}

	// recorded waits until a reload after the one at prev is recorded.
	recorded := func(prev *tenants.Outcome) *tenants.Outcome {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if o := w.Status().LastReload; o != nil && (prev == nil || o.At.After(prev.At)) {
				return o
			}
		}
		t.Fatal("no reload recorded")
		return nil
	}

	hup <- os.Interrupt // any signal value on the channel
	if c := next(); c.trigger != tenants.TriggerSignal || c.data != "v1" {
		t.Fatalf("SIGHUP: %+v", c)
	}
	first := recorded(nil)
	loaded := w.Status().LoadedAt
	if !first.OK || !loaded.After(started) {
		t.Fatalf("after SIGHUP: %+v", w.Status())
	}
	write(t, path, "broken")
	if c := next(); c.trigger != tenants.TriggerChanged || c.data != "broken" {
		t.Fatalf("change: %+v", c)
	}
	// The refused version is not tried again until the file changes, and
	// the set loaded before is still the one served.
	o := recorded(first)
	if w.Changed() || o.OK || !w.Status().LoadedAt.Equal(loaded) || o.Trigger != tenants.TriggerChanged ||
		!slices.Equal(o.Problems, []string{`tenants.yaml:3: unknown key "sourse" (did you mean source?)`, "tenants.yaml:9: token_file: cannot read /x: no such file"}) {
		t.Fatalf("after a refused reload: changed %v, status %+v, %+v", w.Changed(), w.Status(), o)
	}
	write(t, path, "v2")
	if c := next(); c.data != "v2" {
		t.Fatalf("fixed: %+v", c)
	}
	cancel()
	<-done
	if st := w.Status(); !st.LastReload.OK || len(st.LastReload.Problems) != 0 || !st.LoadedAt.After(loaded) {
		t.Fatalf("after a good reload: %+v", st)
	}
}
