package slackfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// TriggerTTL is how long a trigger_id can open a view, as in Slack.
const TriggerTTL = 3 * time.Second

// ViewCall is one views.open or views.update the bot made.
type ViewCall struct {
	Method string // views.open, views.update
	ViewID string
	User   string          // who the view is open for
	View   json.RawMessage // the view as sent
	Error  string          // Slack's error, when refused
}

// view is a modal as the fake holds it: the latest view, its hash and
// what the user has entered so far.
type view struct {
	id, hash, user string
	body           map[string]any
	state          map[string]map[string]any
	closed         bool
}

type trigger struct {
	user string
	at   time.Time
	used bool
}

// newTrigger hands out a trigger_id for an interaction by user.
func (s *Server) newTrigger(user, id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.triggers == nil {
		s.triggers = map[string]*trigger{}
	}
	tid := "trig-" + id
	s.triggers[tid] = &trigger{user: user, at: time.Now()}
	return tid
}

// Views returns every views.open and views.update call, in order.
func (s *Server) Views() []ViewCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.viewCalls)
}

// WaitViews waits until match holds for at least n view calls.
func (s *Server) WaitViews(n int, timeout time.Duration, match func(ViewCall) bool) ([]ViewCall, error) {
	var got []ViewCall
	err := s.wait(timeout, func() bool {
		got = got[:0]
		for _, c := range s.viewCalls {
			if match == nil || match(c) {
				got = append(got, c)
			}
		}
		return len(got) >= n
	}, fmt.Sprintf("%d views calls", n))
	return slices.Clone(got), err
}

// OpenView waits for the bot to open a modal for user and returns its id.
func (s *Server) OpenView(user string, timeout time.Duration) (string, error) {
	calls, err := s.WaitViews(1, timeout, func(c ViewCall) bool { return c.Method == "views.open" && c.User == user && c.Error == "" })
	if err != nil {
		return "", err
	}
	return calls[len(calls)-1].ViewID, nil
}

// ViewBody is the current view of a modal, as JSON.
func (s *Server) ViewBody(viewID string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[viewID]
	if !ok {
		return nil
	}
	b, _ := json.Marshal(v.body)
	return b
}

// ViewClosed reports whether a modal was closed (submitted and not kept open).
func (s *Server) ViewClosed(viewID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[viewID]
	return ok && v.closed
}

func (s *Server) viewsOpen(w http.ResponseWriter, r *http.Request) {
	var body struct {
		TriggerID string         `json:"trigger_id"`
		View      map[string]any `json:"view"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_json"})
		return
	}
	raw, _ := json.Marshal(body.View)
	s.mu.Lock()
	defer s.mu.Unlock()
	call := ViewCall{Method: "views.open", View: raw}
	t, ok := s.triggers[body.TriggerID]
	switch {
	case !ok || t.used:
		call.Error = "invalid_trigger_id"
	case time.Since(t.at) > TriggerTTL:
		call.Error = "expired_trigger_id"
	}
	if call.Error == "" {
		call.User = t.user
		t.used = true
		if msg := checkView(body.View); msg != "" {
			call.Error = "invalid_arguments"
			s.viewCalls = append(s.viewCalls, call)
			s.cond.Broadcast()
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_arguments", "response_metadata": map[string]any{"messages": []string{msg}}})
			return
		}
	}
	if call.Error != "" {
		s.viewCalls = append(s.viewCalls, call)
		s.cond.Broadcast()
		writeJSON(w, map[string]any{"ok": false, "error": call.Error})
		return
	}
	if s.views == nil {
		s.views = map[string]*view{}
	}
	s.seq++
	v := &view{id: fmt.Sprintf("V%04d", s.seq), user: t.user, body: body.View, state: map[string]map[string]any{}}
	v.hash = fmt.Sprintf("%d.h%d", time.Now().Unix(), s.seq)
	s.views[v.id] = v
	call.ViewID = v.id
	s.viewCalls = append(s.viewCalls, call)
	s.cond.Broadcast()
	writeJSON(w, map[string]any{"ok": true, "view": v.wire()})
}

func (s *Server) viewsUpdate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ViewID     string         `json:"view_id"`
		ExternalID string         `json:"external_id"`
		Hash       string         `json:"hash"`
		View       map[string]any `json:"view"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_json"})
		return
	}
	raw, _ := json.Marshal(body.View)
	s.mu.Lock()
	defer s.mu.Unlock()
	call := ViewCall{Method: "views.update", ViewID: body.ViewID, View: raw}
	v, ok := s.views[body.ViewID]
	switch {
	case !ok || v.closed:
		call.Error = "not_found"
	case body.Hash != "" && body.Hash != v.hash:
		call.Error = "hash_conflict"
	case checkView(body.View) != "":
		call.Error = "invalid_arguments"
	}
	s.viewCalls = append(s.viewCalls, call)
	s.cond.Broadcast()
	if call.Error != "" {
		writeJSON(w, map[string]any{"ok": false, "error": call.Error})
		return
	}
	call.User = v.user
	s.viewCalls[len(s.viewCalls)-1] = call
	v.body = body.View
	s.seq++
	v.hash = fmt.Sprintf("%d.h%d", time.Now().Unix(), s.seq)
	// Inputs whose block and action ids survive keep what the user entered.
	kept := map[string]map[string]any{}
	for _, b := range asList(v.body["blocks"]) {
		id, _ := b["block_id"].(string)
		if st, ok := v.state[id]; ok {
			kept[id] = st
		}
	}
	v.state = kept
	writeJSON(w, map[string]any{"ok": true, "view": v.wire()})
}

// checkView applies Slack's limits on a modal; "" when it passes.
func checkView(v map[string]any) string {
	text := func(k string) string {
		m, _ := v[k].(map[string]any)
		s, _ := m["text"].(string)
		return s
	}
	blocks := asList(v["blocks"])
	md, _ := v["private_metadata"].(string)
	cb, _ := v["callback_id"].(string)
	switch {
	case v["type"] != "modal":
		return "[ERROR] must be modal [json-pointer:/view/type]"
	case text("title") == "" || utf8.RuneCountInString(text("title")) > 24:
		return "[ERROR] must be 1-24 characters [json-pointer:/view/title/text]"
	case utf8.RuneCountInString(text("submit")) > 24 || utf8.RuneCountInString(text("close")) > 24:
		return "[ERROR] must be less than 25 characters [json-pointer:/view/submit/text]"
	case len(blocks) == 0 || len(blocks) > 100:
		return "[ERROR] must have 1-100 blocks [json-pointer:/view/blocks]"
	case utf8.RuneCountInString(md) > 3000:
		return "[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]"
	case len(cb) > 255:
		return "[ERROR] must be less than 256 characters [json-pointer:/view/callback_id]"
	}
	ids := map[string]bool{}
	for i, b := range blocks {
		id, _ := b["block_id"].(string)
		if id != "" && ids[id] {
			return fmt.Sprintf("[ERROR] block_id %q repeated [json-pointer:/view/blocks/%d]", id, i)
		}
		ids[id] = true
		if b["type"] == "input" {
			label, _ := b["label"].(map[string]any)
			if label["type"] != "plain_text" || label["text"] == "" || b["element"] == nil {
				return fmt.Sprintf("[ERROR] input needs a plain_text label and an element [json-pointer:/view/blocks/%d]", i)
			}
		}
	}
	return ""
}

func (v *view) wire() map[string]any {
	out := map[string]any{}
	for k, x := range v.body {
		out[k] = x
	}
	out["id"], out["hash"], out["team_id"], out["app_id"] = v.id, v.hash, "T0SOC", "A0MCAS"
	out["state"] = map[string]any{"values": v.state}
	return out
}

// element finds an interactive element by action id in a message's blocks,
// attachments and section accessories.
func element(blocks []map[string]any, actionID string) (map[string]any, string) {
	for _, b := range blocks {
		id, _ := b["block_id"].(string)
		els := asList(b["elements"])
		if acc, ok := b["accessory"].(map[string]any); ok {
			els = append(els, acc)
		}
		if el, ok := b["element"].(map[string]any); ok {
			els = append(els, el)
		}
		for _, el := range els {
			if el["action_id"] == actionID {
				return el, id
			}
		}
	}
	return nil, ""
}

func messageBlocks(msg Post) ([]map[string]any, error) {
	var blocks []map[string]any
	if len(msg.Blocks) > 0 {
		if err := json.Unmarshal(msg.Blocks, &blocks); err != nil {
			return nil, fmt.Errorf("message blocks: %w", err)
		}
	}
	if len(msg.Attach) > 0 {
		var atts []struct {
			Blocks []map[string]any `json:"blocks"`
		}
		if err := json.Unmarshal(msg.Attach, &atts); err != nil {
			return nil, fmt.Errorf("message attachments: %w", err)
		}
		for _, a := range atts {
			blocks = append(blocks, a.Blocks...)
		}
	}
	return blocks, nil
}

// act delivers block_actions for the element with actionID in msg as the
// user saw it: a button (value ""), or a static_select or overflow choice
// of value. Ephemeral messages (posted through a response_url) arrive as
// Slack sends them: is_ephemeral, and without the message itself.
func (s *Server) act(user string, msg Post, actionID, value string) (string, error) {
	blocks, err := messageBlocks(msg)
	if err != nil {
		return "", err
	}
	el, blockID := element(blocks, actionID)
	if el == nil {
		return "", fmt.Errorf("no element %q in the message", actionID)
	}
	action := map[string]any{"type": el["type"], "action_id": actionID, "block_id": blockID, "action_ts": fmt.Sprint(time.Now().Unix())}
	switch el["type"] {
	case "button":
		action["value"], action["text"] = el["value"], el["text"]
	case "static_select", "overflow":
		opts := asList(el["options"])
		for _, g := range asList(el["option_groups"]) {
			opts = append(opts, asList(g["options"])...)
		}
		i := slices.IndexFunc(opts, func(o map[string]any) bool { return o["value"] == value })
		if i < 0 {
			return "", fmt.Errorf("%s %q has no option %q", el["type"], actionID, value)
		}
		action["selected_option"] = opts[i]
	default:
		return "", fmt.Errorf("element %q is a %v", actionID, el["type"])
	}
	s.mu.Lock()
	s.seq++
	respID := fmt.Sprintf("click-%04d", s.seq)
	s.mu.Unlock()
	payload := map[string]any{
		"type": "block_actions", "api_app_id": "A0MCAS", "token": "legacy-verification-token", "trigger_id": s.newTrigger(user, respID),
		"team":         map[string]string{"id": "T0SOC", "domain": "soc"},
		"user":         map[string]string{"id": user, "username": strings.ToLower(user), "name": strings.ToLower(user), "team_id": "T0SOC"},
		"actions":      []map[string]any{action},
		"response_url": s.ResponseURL(respID),
	}
	channel := msg.Channel
	if msg.Method == "response_url" {
		s.mu.Lock()
		channel = s.respChannel[msg.Target]
		s.mu.Unlock()
		payload["container"] = map[string]any{"type": "message", "message_ts": "eph." + msg.Target, "channel_id": channel, "is_ephemeral": true}
	} else {
		payload["container"] = map[string]any{"type": "message", "message_ts": msg.TS, "channel_id": channel, "is_ephemeral": false}
		payload["message"] = map[string]any{"type": "message", "ts": msg.TS, "text": msg.Text, "blocks": blocks, "user": "U0BOT", "bot_id": "B0BOT"}
	}
	payload["channel"] = map[string]string{"id": channel, "name": "soc"}
	s.mu.Lock()
	s.respChannel[respID] = channel
	s.mu.Unlock()
	return s.sendReplyable("interactive", payload, respID)
}

// Select picks value in the static_select or overflow menu actionID of msg.
func (s *Server) Select(user string, msg Post, actionID, value string) (string, error) {
	return s.act(user, msg, actionID, value)
}

// ViewAction changes an input of an open modal that dispatches actions
// (dispatch_action): Slack sends block_actions with container.type "view"
// and the view with everything entered so far.
func (s *Server) ViewAction(user, viewID, blockID, actionID, value string) (string, error) {
	s.mu.Lock()
	v, ok := s.views[viewID]
	if !ok || v.closed {
		s.mu.Unlock()
		return "", fmt.Errorf("no open view %s", viewID)
	}
	el, _ := element(asList(v.body["blocks"]), actionID)
	s.mu.Unlock()
	if el == nil {
		return "", fmt.Errorf("view %s has no element %q", viewID, actionID)
	}
	entered, err := s.enter(viewID, blockID, actionID, value)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("va-%04d", s.seq)
	wire := v.wire()
	s.mu.Unlock()
	action := map[string]any{"type": el["type"], "action_id": actionID, "block_id": blockID, "action_ts": fmt.Sprint(time.Now().Unix())}
	for k, x := range entered {
		action[k] = x
	}
	payload := map[string]any{
		"type": "block_actions", "api_app_id": "A0MCAS", "token": "legacy-verification-token", "trigger_id": s.newTrigger(user, id),
		"team":      map[string]string{"id": "T0SOC", "domain": "soc"},
		"user":      map[string]string{"id": user, "username": strings.ToLower(user), "name": strings.ToLower(user), "team_id": "T0SOC"},
		"container": map[string]any{"type": "view", "view_id": viewID},
		"view":      wire,
		"actions":   []map[string]any{action},
	}
	return s.Send("interactive", payload)
}

// enter records what the user put in an input of a view: an option's
// value for selects, text for plain_text_input.
func (s *Server) enter(viewID, blockID, actionID, value string) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.views[viewID]
	var el map[string]any
	for _, b := range asList(v.body["blocks"]) {
		if b["block_id"] == blockID {
			el, _ = element([]map[string]any{b}, actionID)
		}
	}
	if el == nil {
		return nil, fmt.Errorf("view %s has no input %s/%s", viewID, blockID, actionID)
	}
	entered := map[string]any{"type": el["type"]}
	switch el["type"] {
	case "static_select":
		if value == "" {
			entered["selected_option"] = nil
			break
		}
		opts := asList(el["options"])
		for _, g := range asList(el["option_groups"]) {
			opts = append(opts, asList(g["options"])...)
		}
		i := slices.IndexFunc(opts, func(o map[string]any) bool { return o["value"] == value })
		if i < 0 {
			return nil, fmt.Errorf("select %s has no option %q", actionID, value)
		}
		entered["selected_option"] = opts[i]
	case "plain_text_input":
		if n, ok := el["max_length"].(float64); ok && utf8.RuneCountInString(value) > int(n) {
			return nil, fmt.Errorf("the client refuses more than %d characters in %s", int(n), actionID)
		}
		entered["value"] = value
	default:
		return nil, fmt.Errorf("input %s is a %v", actionID, el["type"])
	}
	if v.state[blockID] == nil {
		v.state[blockID] = map[string]any{}
	}
	v.state[blockID][actionID] = entered
	return entered, nil
}

// Input is what a user enters in a modal: values by "block_id/action_id"
// (an option's value for selects, text for text inputs).
type Input map[string]string

// Submit enters input in an open modal and submits it. The bot's ack of
// the returned envelope carries its response_action (see SubmitResponse);
// an ack without errors closes the modal.
func (s *Server) Submit(user, viewID string, in Input) (string, error) {
	for key, value := range in {
		blockID, actionID, _ := strings.Cut(key, "/")
		if _, err := s.enter(viewID, blockID, actionID, value); err != nil {
			return "", err
		}
	}
	s.mu.Lock()
	v, ok := s.views[viewID]
	if !ok || v.closed {
		s.mu.Unlock()
		return "", fmt.Errorf("no open view %s", viewID)
	}
	s.seq++
	id := fmt.Sprintf("vs-%04d", s.seq)
	wire := v.wire()
	s.mu.Unlock()
	payload := map[string]any{
		"type": "view_submission", "api_app_id": "A0MCAS", "token": "legacy-verification-token", "trigger_id": s.newTrigger(user, id),
		"team":          map[string]string{"id": "T0SOC", "domain": "soc"},
		"user":          map[string]string{"id": user, "username": strings.ToLower(user), "name": strings.ToLower(user), "team_id": "T0SOC"},
		"view":          wire,
		"response_urls": []any{},
	}
	env, err := s.Send("interactive", payload)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.submissions[env] = viewID
	s.mu.Unlock()
	return env, nil
}

// SubmitResponse reads a view_submission ack: its response_action
// ("" closes the modal) and the errors shown under blocks.
func SubmitResponse(a Ack) (string, map[string]string) {
	var r struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
	}
	_ = json.Unmarshal(a.Payload, &r)
	return r.ResponseAction, r.Errors
}

// submitted applies a view_submission's ack to the modal, as Slack does.
// Called with the lock held.
func (s *Server) submitted(envID string, payload json.RawMessage) {
	viewID, ok := s.submissions[envID]
	if !ok {
		return
	}
	v := s.views[viewID]
	action, _ := SubmitResponse(Ack{Payload: payload})
	switch action {
	case "errors", "update", "push":
	default:
		v.closed = true
	}
}

// asList reads a JSON array of objects.
func asList(v any) []map[string]any {
	var out []map[string]any
	if l, ok := v.([]any); ok {
		for _, x := range l {
			if m, ok := x.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}
