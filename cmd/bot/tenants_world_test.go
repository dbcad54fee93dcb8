package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
)

// fleetWorld is tenants on one mcasfake Fleet (and, for a bot started as
// another process, Entra ID tenants on entrafake), a tenants file naming
// them, and Slack.
type fleetWorld struct {
	t         *testing.T
	dir, file string
	fleet     *mcasfake.Fleet
	authority *entrafake.Server // nil unless withEntra
	slack     *slackfake.Server
	env       []string
}

func newFleetWorld(t *testing.T, withEntra bool) *fleetWorld {
	t.Helper()
	w := &fleetWorld{t: t, dir: t.TempDir()}
	w.file = filepath.Join(w.dir, "tenants.yaml")
	w.fleet = mcasfake.NewFleet()
	t.Cleanup(w.fleet.Close)
	w.slack = slackfake.New()
	t.Cleanup(w.slack.Close)
	w.env = []string{"TENANTS_FILE=" + w.file, "TENANTS_FILE_POLL=100ms", "MCAS_ATTEMPTS=1",
		"SLACK_BOT_TOKEN=xoxb-fleet-secret", "SLACK_APP_TOKEN=xapp-fleet-secret", "SLACK_API_URL=" + w.slack.APIURL(),
		"SLACK_ALLOWED_CHANNELS=C0SOC", "SLACK_ALLOWED_USERS=U0A", "HTTP_ADDR=off", "LOG_FORMAT=json",
		"DATABASE_URL=sqlite:" + filepath.Join(w.dir, "s.db")}
	if withEntra {
		w.authority = entrafake.New()
		t.Cleanup(w.authority.Close)
		ca := filepath.Join(w.dir, "entra-ca.pem")
		if err := w.authority.WriteCA(ca); err != nil {
			t.Fatal(err)
		}
		w.authority.AddApp(entrafake.App{ClientID: multiApp, Secret: appSecret, Tenants: []string{dirContoso, dirFabrikam}, Roles: []string{"Investigation.Read"}})
		w.authority.AddApp(entrafake.App{ClientID: ownApp, Secret: ownSecret, Tenants: []string{dirFabrikam}, Roles: []string{"Investigation.Read", "Investigation.manage"}})
		w.env = append(w.env, "SSL_CERT_FILE="+ca, "AZURE_AUTHORITY_HOST="+w.authority.Authority(), "AZURE_CLIENT_ID="+multiApp, "AZURE_CLIENT_SECRET="+appSecret)
	}
	return w
}

// tenant serves a tenant with n alerts; token "" for one on Entra ID
// (in directory dir).
func (w *fleetWorld) tenant(name, token, dir string, n int) *mcasfake.Server {
	srv := w.fleet.Add(name, token)
	srv.AddAlerts(mcasfake.Generate(name, n, time.Now().UTC(), time.Hour, uint64(len(name)))...)
	if dir != "" {
		srv.TrustEntra(dir, w.authority)
	}
	return srv
}

// secret writes a secret file and returns its path.
func (w *fleetWorld) secret(name, value string) string {
	p := filepath.Join(w.dir, name)
	if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// url is a fleet tenant's portal URL.
func (w *fleetWorld) url(name string) string {
	srv, ok := w.fleet.Tenant(name)
	if !ok {
		w.t.Fatalf("no tenant %s", name)
	}
	return srv.URL
}

// write replaces the tenants file at once (as a ConfigMap update does).
func (w *fleetWorld) write(content string) {
	w.t.Helper()
	tmp := w.file + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		w.t.Fatal(err)
	}
	if err := os.Rename(tmp, w.file); err != nil {
		w.t.Fatal(err)
	}
}

// tokenEntry is a tenants file entry on a legacy token.
func (w *fleetWorld) tokenEntry(name, tokenFile string, extra ...string) string {
	e := fmt.Sprintf("  - name: %s\n    url: %s\n    token_file: %s\n", name, w.url(name), tokenFile)
	for _, x := range extra {
		e += "    " + x + "\n"
	}
	return e
}

// eventually waits for cond, failing with what after a generous bound.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

// botProcess is the bot running as another process (this test binary).
type botProcess struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{} // closed when it has ended
	once   sync.Once
}

func startProcess(t *testing.T, env []string, args ...string) *botProcess {
	t.Helper()
	p := &botProcess{stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(env, "MCASBOT_TEST_RUN_MAIN=1", "PATH="+os.Getenv("PATH"))
	p.cmd.Stdout, p.cmd.Stderr = io.Discard, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop ends the bot with SIGINT, as an operator would.
func (p *botProcess) stop(t *testing.T) {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			t.Error("the bot did not stop on SIGINT")
		}
	})
}

// ended reports whether the bot has ended by itself.
func (p *botProcess) ended() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

var httpAddrRE = regexp.MustCompile(`"msg":"serving /healthz, /readyz and /metrics","addr":"([^"]+)"`)

// opsURL waits for the bot's health address in its JSON logs.
func opsURL(t *testing.T, logs func() string) string {
	t.Helper()
	var base string
	eventually(t, "the HTTP address in the logs", func() bool {
		if m := httpAddrRE.FindStringSubmatch(logs()); m != nil {
			base = "http://" + m[1]
		}
		return base != ""
	})
	return base
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// command sends /mcas text and returns its answer (text and blocks).
func command(t *testing.T, s *slackfake.Server, text string) string {
	t.Helper()
	id, err := s.SlashCommand("U0A", "C0SOC", text)
	if err != nil {
		t.Fatal(err)
	}
	posts, err := s.Responses(id, 1, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, p := range posts {
		fmt.Fprintf(&out, "%s %s %s\n", p.Text, p.Blocks, p.Attach)
	}
	return out.String()
}

// refused sends /mcas text that is refused at once and returns the reply
// (the acknowledgement's payload).
func refused(t *testing.T, s *slackfake.Server, text string) string {
	t.Helper()
	id, err := s.SlashCommand("U0A", "C0SOC", text)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := s.WaitAck(id, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return string(ack.Payload)
}

// runInProcess runs the bot in this process until the test ends.
func runInProcess(t *testing.T, env []string) *lockedBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"run"}, nil, &bytes.Buffer{}, &stderr, env) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("the bot did not stop")
		}
	})
	return &stderr
}
