// Package slackfake is a fake Slack for end-to-end tests and `bot demo`:
// slack-go's slacktest server with its RTM /ws replaced by a Socket Mode
// speaker (hello, envelopes, acks, disconnect, WebSocket pings), plus
// response_url endpoints and the chat methods the bot calls, recorded for
// assertions.
package slackfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

// Ack is one envelope acknowledgement the bot sent.
type Ack struct {
	EnvelopeID string
	Payload    json.RawMessage
	Latency    time.Duration // from the envelope's send to the ack's arrival
}

// Post is one message the bot sent through the Web API or a response_url.
type Post struct {
	Method  string // chat.postMessage, chat.update, chat.postEphemeral, response_url
	Channel string
	TS      string // the message's ts (assigned for postMessage)
	Thread  string
	Text    string
	Blocks  json.RawMessage
	Attach  json.RawMessage
	User    string // postEphemeral
	Target  string // response_url id
	Raw     map[string]any
	At      time.Time
}

// Server is a fake Slack.
type Server struct {
	*slacktest.Server
	// PingEvery is how often each connection is pinged.
	PingEvery time.Duration

	mu        sync.Mutex
	cond      *sync.Cond
	conns     []*conn
	accepted  int // connections ever greeted: only grows
	next      int
	sent      map[string]time.Time
	acks      map[string]Ack
	posts     []Post
	openErr   string
	opens     int
	seq       int
	rateLimit map[string]time.Time // channel -> earliest next post (when enforcing)
	enforce   bool
	postFail  []string
	updates   int
	respIDs   map[string]string // envelope id -> response_url id
	x         extras            // files.go: uploads, users.lookupByEmail
	scopes    []string          // auth.test's X-OAuth-Scopes
	noScopes  bool              // leave X-OAuth-Scopes out
	outside   map[string]bool   // channels the bot is not in (members.go)

	// conversations.info (conversations.go).
	channels map[string]channel

	// Modals and interactions (views.go).
	triggers    map[string]*trigger
	views       map[string]*view
	viewCalls   []ViewCall
	submissions map[string]string // envelope id -> view id
	respChannel map[string]string // response_url id -> channel of its message
}

type conn struct {
	ws     *websocket.Conn
	wmu    sync.Mutex
	closed chan struct{}
}

// New starts a fake Slack.
func New() *Server {
	s := &Server{PingEvery: 200 * time.Millisecond, sent: map[string]time.Time{}, acks: map[string]Ack{}, rateLimit: map[string]time.Time{}, respIDs: map[string]string{},
		submissions: map[string]string{}, respChannel: map[string]string{}, scopes: slices.Clone(DefaultScopes)}
	s.cond = sync.NewCond(&s.mu)
	s.Server = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/ws", s.socket)
		c.Handle("/apps.connections.open", s.open)
		c.Handle("/auth.test", s.authTest)
		c.Handle("/chat.postMessage", s.chat("chat.postMessage"))
		c.Handle("/chat.update", s.chat("chat.update"))
		c.Handle("/chat.postEphemeral", s.chat("chat.postEphemeral"))
		c.Handle("/response/", s.response)
		s.addExtras(c)
		s.addConversations(c)
		c.Handle("/views.open", s.viewsOpen)
		c.Handle("/views.update", s.viewsUpdate)
	})
	s.Start()
	return s
}

// APIURL is the Web API base to give the bot (SLACK_API_URL).
func (s *Server) APIURL() string { return s.GetAPIURL() }

// Close stops the server and drops every connection.
func (s *Server) Close() {
	s.DropConnections()
	s.Stop()
}

// FailOpen makes apps.connections.open answer with this error ("" to heal).
func (s *Server) FailOpen(slackErr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.openErr = slackErr
}

// Opens is how many times apps.connections.open was called.
func (s *Server) Opens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens
}

// EnforceRateLimit makes chat.postMessage answer 429 (Retry-After: 1) when
// a channel gets more than one message per second.
func (s *Server) EnforceRateLimit(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enforce = on
}

// FailPosts makes the next chat.postMessage/chat.update calls fail with
// these Slack errors (e.g. "channel_not_found").
func (s *Server) FailPosts(errs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.postFail = append(s.postFail, errs...)
}

func (s *Server) open(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.opens++
	e := s.openErr
	s.mu.Unlock()
	if e != "" {
		writeJSON(w, map[string]any{"ok": false, "error": e})
		return
	}
	writeJSON(w, map[string]any{"ok": true, "url": s.GetWSURL()})
}

// DefaultScopes are the bot token scopes auth.test reports until
// SetScopes: those slack-app-manifest.yaml grants.
var DefaultScopes = []string{"commands", "chat:write", "files:write", "users:read", "users:read.email"}

// SetScopes sets the bot token scopes auth.test reports in its
// X-OAuth-Scopes header, as Slack does for the installed app.
func (s *Server) SetScopes(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scopes = slices.Clone(scopes)
}

// OmitScopesHeader makes auth.test answer without X-OAuth-Scopes, as
// behind a proxy that drops it.
func (s *Server) OmitScopesHeader(omit bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noScopes = omit
}

// authTest answers invalid_auth for the token "xoxb-invalid".
func (s *Server) authTest(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	if r.Header.Get("Authorization") == "Bearer xoxb-invalid" || r.PostForm.Get("token") == "xoxb-invalid" {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	s.mu.Lock()
	if !s.noScopes {
		w.Header().Set("X-OAuth-Scopes", strings.Join(s.scopes, ","))
	}
	s.mu.Unlock()
	writeJSON(w, map[string]any{"ok": true, "url": "https://soc.slack.com/", "team": "SOC", "user": "mcasbot", "team_id": "T0SOC", "user_id": "U0BOT", "bot_id": "B0BOT"})
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (s *Server) socket(w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &conn{ws: ws, closed: make(chan struct{})}
	if err := c.write(map[string]any{"type": "hello", "num_connections": 1, "connection_info": map[string]string{"app_id": "A0MCAS"},
		"debug_info": map[string]any{"host": "fake", "approximate_connection_time": 3600}}); err != nil {
		return
	}
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.accepted++
	s.cond.Broadcast()
	s.mu.Unlock()
	go s.ping(c)
	defer s.drop(c)
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(data, &ack) != nil || ack.EnvelopeID == "" {
			continue
		}
		s.mu.Lock()
		s.acks[ack.EnvelopeID] = Ack{EnvelopeID: ack.EnvelopeID, Payload: ack.Payload, Latency: time.Since(s.sent[ack.EnvelopeID])}
		s.submitted(ack.EnvelopeID, ack.Payload)
		s.cond.Broadcast()
		s.mu.Unlock()
	}
}

func (s *Server) ping(c *conn) {
	t := time.NewTicker(s.PingEvery)
	defer t.Stop()
	for {
		select {
		case <-c.closed:
			return
		case <-t.C:
			c.wmu.Lock()
			err := c.ws.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second))
			c.wmu.Unlock()
			if err != nil {
				return
			}
		}
	}
}

func (c *conn) write(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(2 * time.Second))
	return c.ws.WriteJSON(v)
}

func (s *Server) drop(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.conns, c); i >= 0 {
		s.conns = slices.Delete(s.conns, i, i+1)
		close(c.closed)
		_ = c.ws.Close()
	}
	s.cond.Broadcast()
}

// Connections is how many Socket Mode connections are open.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// WaitConnections waits until at least n connections are open.
func (s *Server) WaitConnections(n int, timeout time.Duration) error {
	return s.wait(timeout, func() bool { return len(s.conns) >= n }, fmt.Sprintf("%d socket mode connections", n))
}

// Accepted is how many Socket Mode connections were ever greeted. Unlike
// Connections it never goes down, so "a new connection arrived" can be
// waited for while an old one is still being torn down.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// WaitAccepted waits until at least n connections were ever greeted.
func (s *Server) WaitAccepted(n int, timeout time.Duration) error {
	return s.wait(timeout, func() bool { return s.accepted >= n }, fmt.Sprintf("socket mode connection number %d", n))
}

// Disconnect sends Slack's disconnect message (e.g. "refresh_requested")
// on every connection and closes them, as Slack does.
func (s *Server) Disconnect(reason string) {
	s.mu.Lock()
	conns := slices.Clone(s.conns)
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.write(map[string]any{"type": "disconnect", "reason": reason, "debug_info": map[string]string{"host": "fake"}})
		s.drop(c)
	}
}

// DropConnections closes every connection without a word.
func (s *Server) DropConnections() {
	s.mu.Lock()
	conns := slices.Clone(s.conns)
	s.mu.Unlock()
	for _, c := range conns {
		s.drop(c)
	}
}

// ResponseURL is the response_url the fake hands out for an id.
func (s *Server) ResponseURL(id string) string { return s.GetAPIURL() + "response/" + id }

// Send delivers an envelope of typ on one connection (round robin) and
// returns its envelope id.
func (s *Server) Send(typ string, payload any) (string, error) {
	s.mu.Lock()
	if len(s.conns) == 0 {
		s.mu.Unlock()
		return "", fmt.Errorf("no socket mode connection")
	}
	s.seq++
	id := fmt.Sprintf("env-%04d", s.seq)
	c := s.conns[s.next%len(s.conns)]
	s.next++
	s.sent[id] = time.Now()
	s.mu.Unlock()
	env := map[string]any{"envelope_id": id, "type": typ, "payload": payload, "accepts_response_payload": typ != "events_api", "retry_attempt": 0, "retry_reason": ""}
	return id, c.write(env)
}

// SlashCommand sends a slash command; empty fields get defaults and the
// response_url points at this fake (id = envelope id).
func (s *Server) SlashCommand(user, channel, text string) (string, error) {
	s.mu.Lock()
	n := s.seq + 1
	s.mu.Unlock()
	respID := fmt.Sprintf("cmd-%04d-%d", n, time.Now().UnixNano())
	payload := map[string]string{
		"token": "legacy-verification-token", "team_id": "T0SOC", "team_domain": "soc", "channel_id": channel, "channel_name": "soc",
		"user_id": user, "user_name": "analyst", "command": "/mcas", "text": text, "api_app_id": "A0MCAS",
		"response_url": s.ResponseURL(respID), "trigger_id": s.newTrigger(user, respID),
	}
	s.mu.Lock()
	s.respChannel[respID] = channel
	s.mu.Unlock()
	return s.sendReplyable("slash_commands", payload, respID)
}

// sendReplyable sends an envelope whose payload carries the response_url
// of respID, and remembers which envelope it belongs to.
func (s *Server) sendReplyable(typ string, payload any, respID string) (string, error) {
	id, err := s.Send(typ, payload)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.respIDs[id] = respID
	s.mu.Unlock()
	return id, nil
}

// ResponseID is the response_url id of a slash command's envelope.
func (s *Server) ResponseID(envID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.respIDs[envID]
}

// WaitAck waits for the bot's ack of an envelope.
func (s *Server) WaitAck(envID string, timeout time.Duration) (Ack, error) {
	var a Ack
	err := s.wait(timeout, func() bool {
		var ok bool
		a, ok = s.acks[envID]
		return ok
	}, "ack of "+envID)
	return a, err
}

// Acked reports whether an envelope was acked.
func (s *Server) Acked(envID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.acks[envID]
	return ok
}

// Posts returns every recorded post, in order.
func (s *Server) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.posts)
}

// WaitPosts waits until match holds for at least n posts and returns them.
// match runs under the fake's lock: it must not call the fake.
func (s *Server) WaitPosts(n int, timeout time.Duration, match func(Post) bool) ([]Post, error) {
	var got []Post
	err := s.wait(timeout, func() bool {
		got = got[:0]
		for _, p := range s.posts {
			if match == nil || match(p) {
				got = append(got, p)
			}
		}
		return len(got) >= n
	}, fmt.Sprintf("%d posts", n))
	return slices.Clone(got), err
}

// Responses waits for n posts to the response_url of a slash command or
// click envelope.
func (s *Server) Responses(envID string, n int, timeout time.Duration) ([]Post, error) {
	target := s.ResponseID(envID)
	return s.WaitPosts(n, timeout, func(p Post) bool { return p.Method == "response_url" && p.Target == target })
}

func (s *Server) wait(timeout time.Duration, cond func() bool, what string) error {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
		}
		s.cond.Wait()
	}
	return nil
}

func (s *Server) response(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	p := postFrom("response_url", body)
	p.Target = strings.TrimPrefix(r.URL.Path, "/response/")
	s.record(p)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

func (s *Server) chat(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := formOrJSON(r)
		if err != nil {
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_form_data"})
			return
		}
		p := postFrom(method, body)
		s.mu.Lock()
		if len(s.postFail) > 0 && method != "chat.postEphemeral" {
			e := s.postFail[0]
			s.postFail = s.postFail[1:]
			s.mu.Unlock()
			writeJSON(w, map[string]any{"ok": false, "error": e})
			return
		}
		if method == "chat.postMessage" && s.enforce {
			if next, ok := s.rateLimit[p.Channel]; ok && time.Now().Before(next) {
				s.mu.Unlock()
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				writeJSON(w, map[string]any{"ok": false, "error": "ratelimited"})
				return
			}
			s.rateLimit[p.Channel] = time.Now().Add(time.Second)
		}
		if p.Channel == "" {
			s.mu.Unlock()
			writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
			return
		}
		if method != "chat.postEphemeral" && s.outsideOf(p.Channel) {
			s.mu.Unlock()
			writeJSON(w, map[string]any{"ok": false, "error": "not_in_channel"})
			return
		}
		if method == "chat.postMessage" {
			s.seq++
			p.TS = fmt.Sprintf("%d.%06d", time.Now().Unix(), s.seq)
		}
		if method == "chat.update" {
			s.updates++
		}
		s.mu.Unlock()
		s.record(p)
		writeJSON(w, map[string]any{"ok": true, "channel": p.Channel, "ts": p.TS, "message_ts": p.TS})
	}
}

func (s *Server) record(p Post) {
	p.At = time.Now()
	s.mu.Lock()
	s.posts = append(s.posts, p)
	s.cond.Broadcast()
	s.mu.Unlock()
}

func formOrJSON(r *http.Request) (map[string]any, error) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		err := json.NewDecoder(r.Body).Decode(&m)
		return m, err
	}
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	m := map[string]any{}
	for k, v := range r.PostForm {
		m[k] = v[0]
	}
	return m, nil
}

func postFrom(method string, body map[string]any) Post {
	str := func(k string) string {
		switch v := body[k].(type) {
		case string:
			return v
		case nil:
			return ""
		default:
			b, _ := json.Marshal(v)
			return string(b)
		}
	}
	raw := func(k string) json.RawMessage {
		switch v := body[k].(type) {
		case string:
			return json.RawMessage(v)
		case nil:
			return nil
		default:
			b, _ := json.Marshal(v)
			return b
		}
	}
	return Post{Method: method, Channel: str("channel"), TS: str("ts"), Thread: str("thread_ts"), Text: str("text"),
		Blocks: raw("blocks"), Attach: raw("attachments"), User: str("user"), Raw: body}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Interaction sends a block_actions payload and returns its envelope id.
func (s *Server) Interaction(cb slack.InteractionCallback) (string, error) {
	return s.Send("interactive", cb)
}

// Current is a posted message as it is now: its latest chat.update, if any.
func (s *Server) Current(msg Post) Post {
	for _, p := range s.Posts() {
		if p.Method == "chat.update" && p.Channel == msg.Channel && p.TS == msg.TS {
			msg.Blocks, msg.Text = p.Blocks, p.Text
		}
	}
	return msg
}

// Click presses the button with actionID in msg as the user saw it (pass
// Current(msg) for the latest version; an older one is a stale view, as
// after a double click), and returns the envelope id. The payload is
// block_actions as Slack sends it, with a response_url served by this fake
// and a trigger_id that can open one modal within TriggerTTL.
func (s *Server) Click(user string, msg Post, actionID string) (string, error) {
	return s.act(user, msg, actionID, "")
}
