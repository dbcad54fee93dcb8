package defender_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/defender"
	"github.com/soc/mcasbot/integrations/defender/defenderfake"
	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/integrations/entra/entrafake"
)

const (
	dirContoso  = "11111111-aaaa-4aaa-8aaa-111111111111"
	dirFabrikam = "22222222-bbbb-4bbb-8bbb-222222222222"
	fullApp     = "0b5c1e7a-3f1d-4c59-9a57-5a1f00000011"
	readApp     = "0b5c1e7a-3f1d-4c59-9a57-5a1f00000012"
	bareApp     = "0b5c1e7a-3f1d-4c59-9a57-5a1f00000013"
	appSecret   = "Sx8Q~defender-SECRET-value-0001"
)

var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// world is a fake Entra ID and a fake Graph serving contoso's directory.
type world struct {
	authority *entrafake.Server
	graph     *defenderfake.Server
	contoso   *defenderfake.Tenant
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{authority: entrafake.New()}
	t.Cleanup(w.authority.Close)
	w.authority.AddApp(entrafake.App{ClientID: fullApp, Secret: appSecret, Tenants: []string{dirContoso, dirFabrikam},
		Roles: []string{defenderfake.RoleReadWrite, defenderfake.RoleHunting}})
	w.authority.AddApp(entrafake.App{ClientID: readApp, Secret: appSecret, Tenants: []string{dirContoso}, Roles: []string{defenderfake.RoleRead}})
	w.authority.AddApp(entrafake.App{ClientID: bareApp, Secret: appSecret, Tenants: []string{dirContoso}})
	w.graph = defenderfake.New(w.authority, nil)
	w.graph.Now = func() time.Time { return now }
	t.Cleanup(w.graph.Close)
	w.contoso = w.graph.Tenant(dirContoso)
	return w
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// client signs in as app in dir; slept records the waits of every caller.
func (w *world) client(t testing.TB, app, dir string, mod func(*defender.Config)) (*defender.Client, *logBuf, *[]time.Duration) {
	t.Helper()
	cred, err := entra.New(entra.Settings{Tenant: "contoso", TenantID: dir, ClientID: app, Method: entra.ClientSecret, Secret: appSecret,
		AuthorityHost: w.authority.Authority()}, w.authority.Client())
	if err != nil {
		t.Fatal(err)
	}
	cfg := defender.Config{Name: "contoso", URL: w.graph.URL, Tokens: cred, Timeout: 2 * time.Second, RequestsPerMinute: -1, HuntingPerMinute: -1,
		Now: func() time.Time { return now }}
	if mod != nil {
		mod(&cfg)
	}
	logs := &logBuf{}
	c, err := defender.New(cfg, w.graph.Client(), slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var slept []time.Duration
	for _, cl := range c.Callers() {
		cl.Sleep = func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			slept = append(slept, d)
			return nil
		}
	}
	return c, logs, &slept
}
