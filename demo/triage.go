package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/soc/mcasbot/bot"
	"github.com/soc/mcasbot/bot/closing"
	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/bot/messages"
	"github.com/soc/mcasbot/bot/slackfake"
	"github.com/soc/mcasbot/bot/triage"
	"github.com/soc/mcasbot/integrations/jira"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// enableTriage turns on Details and Close… in the sandbox bot.
func (w *workflow) enableTriage(b *bot.Bot, sb *sandbox, jc *jira.Client, redraw *messages.Redrawer, logger *slog.Logger) {
	sb.runner.Records = w.store
	// The sandbox's `reopen` follows a close by seconds: take it at once.
	w.closer = &closing.Service{Store: w.store, Tenants: sb.runner.Tenants, Jira: jc, Logger: logger, Now: w.clock.Now, ReopenAfter: time.Nanosecond}
	b.EnableTriage(triage.Config{Closer: w.closer,
		Store: w.store, ActionUsers: []string{demoUser}, Channels: []string{demoChannel}, Messages: redraw})
}

// menuOf reads a digest entry's Details / Close… menu from its section.
func menuOf(section map[string]any) demoButton {
	acc, _ := section["accessory"].(map[string]any)
	id, _ := acc["action_id"].(string)
	if !strings.HasPrefix(id, formatting.ActionMenu+":") {
		return demoButton{}
	}
	for _, o := range asList(acc["options"]) {
		if v, err := formatting.ParseTriageValue(fmt.Sprint(o["value"])); err == nil {
			return demoButton{menu: id, tenant: v.Tenant, id: v.AlertID, group: v.Group}
		}
	}
	return demoButton{}
}

func (w *workflow) entry(out io.Writer, arg, verb string) (demoButton, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(arg))
	if err != nil || n < 1 || n > len(w.buttons) || w.buttons[n-1].menu == "" {
		fmt.Fprintf(out, "There is no alert %q: run `digest` first, then `%s 1` … `%s %d`.\n", arg, verb, verb, max(1, len(w.buttons)))
		return demoButton{}, false
	}
	return w.buttons[n-1], true
}

// details picks Details in an entry's menu and prints what the bot sends
// back: an alert's card, or a group's alerts; "details 1 3" then picks the
// third in the group's Details for… menu and prints its card.
func (w *workflow) details(out io.Writer, arg string) {
	fields := strings.Fields(arg)
	if len(fields) == 0 {
		fields = []string{""}
	}
	btn, ok := w.entry(out, fields[0], "details")
	if !ok {
		return
	}
	v := formatting.TriageValue{Op: formatting.OpDetails, Tenant: btn.tenant, AlertID: btn.id, Group: btn.group}
	id, err := w.slack.Select(demoUser, w.slack.Current(btn.post), btn.menu, v.String())
	if err != nil {
		fmt.Fprintln(out, err)
		return
	}
	reps, err := w.slack.Responses(id, 1, 10*time.Second)
	if err != nil {
		fmt.Fprintln(out, "no answer from the bot")
		return
	}
	fmt.Fprintln(out, "mcasbot (only you can see this):")
	w.renderBlocks(out, reps[0].Blocks)
	opts := selectOptions(reps[0].Blocks, formatting.ActionDetails)
	if !btn.group || len(opts) == 0 {
		return
	}
	if len(fields) < 2 {
		fmt.Fprintf(out, "(`details %s 1` … `details %s %d` picks one in its Details for… menu)\n", fields[0], fields[0], len(opts))
		return
	}
	n, err := strconv.Atoi(fields[1])
	if err != nil || n < 1 || n > len(opts) {
		fmt.Fprintf(out, "The menu has no alert %q: pick 1 … %d.\n", fields[1], len(opts))
		return
	}
	fmt.Fprintf(out, "\nDetails for… %s:\n", opts[n-1][1])
	id, err = w.slack.Select(demoUser, reps[0], formatting.ActionDetails, opts[n-1][0])
	if err == nil {
		var cards []slackfake.Post
		if cards, err = w.slack.Responses(id, 1, 10*time.Second); err == nil {
			fmt.Fprintln(out, "mcasbot (only you can see this):")
			w.renderBlocks(out, cards[0].Blocks)
			return
		}
	}
	fmt.Fprintln(out, err)
}

// selectOptions lists the options (value, text) of a message's select.
func selectOptions(raw json.RawMessage, actionID string) [][2]string {
	var blocks []map[string]any
	_ = json.Unmarshal(raw, &blocks)
	var out [][2]string
	for _, b := range blocks {
		for _, e := range asList(b["elements"]) {
			if e["action_id"] != actionID {
				continue
			}
			for _, o := range asList(e["options"]) {
				t, _ := o["text"].(map[string]any)
				out = append(out, [2]string{fmt.Sprint(o["value"]), fmt.Sprint(t["text"])})
			}
		}
	}
	return out
}

// renderBlocks prints a card as a reader of Slack would see it.
func (w *workflow) renderBlocks(out io.Writer, raw json.RawMessage) {
	var blocks []map[string]any
	_ = json.Unmarshal(raw, &blocks)
	for _, b := range blocks {
		if t, ok := b["text"].(map[string]any); ok {
			fmt.Fprintln(out, "  "+strings.ReplaceAll(w.text(fmt.Sprint(t["text"])), "\n", "\n  "))
		}
		for _, f := range asList(b["fields"]) {
			k, v, _ := strings.Cut(w.text(fmt.Sprint(f["text"])), "\n")
			fmt.Fprintf(out, "  %-13s %s\n", k+":", v)
		}
		if b["type"] == "context" {
			for _, e := range asList(b["elements"]) {
				fmt.Fprintln(out, "  "+w.text(fmt.Sprint(e["text"])))
			}
		}
		if b["type"] == "actions" {
			var btns []string
			for _, e := range asList(b["elements"]) {
				if t, ok := e["text"].(map[string]any); ok {
					btns = append(btns, "["+fmt.Sprint(t["text"])+"]")
				}
				if p, ok := e["placeholder"].(map[string]any); ok && e["type"] == "static_select" {
					btns = append(btns, fmt.Sprintf("[%s ▾ %d alerts]", p["text"], len(asList(e["options"]))))
				}
			}
			fmt.Fprintln(out, "  "+strings.Join(btns, "  "))
		}
	}
}

// closeEntry presses Close… in an entry's menu, walks through the form
// on the console, submits it and shows what changed.
func (w *workflow) closeEntry(out io.Writer, arg string, ask func(q, def string) (string, bool)) {
	fields := strings.Fields(arg)
	if len(fields) == 0 {
		fields = []string{""}
	}
	btn, ok := w.entry(out, fields[0], "close")
	if !ok {
		return
	}
	opened := func(c slackfake.ViewCall) bool { return c.Method == "views.open" && c.Error == "" }
	before, _ := w.slack.WaitViews(0, time.Second, opened)
	v := formatting.TriageValue{Op: formatting.OpClose, Tenant: btn.tenant, AlertID: btn.id, Group: btn.group}
	click, err := w.slack.Select(demoUser, w.slack.Current(btn.post), btn.menu, v.String())
	if err != nil {
		// Closed: the message no longer offers Close…; press it on the copy
		// seen before, as someone who had not scrolled would.
		click, err = w.slack.Select(demoUser, btn.post, btn.menu, v.String())
	}
	if err != nil {
		fmt.Fprintln(out, err)
		return
	}
	// Either the form opens, or the bot answers at once (already closed).
	var viewID string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && viewID == ""; time.Sleep(20 * time.Millisecond) {
		if calls := w.slack.Views(); countViews(calls, opened) > len(before) {
			viewID = calls[len(calls)-1].ViewID
		} else if reps := w.replies(click); len(reps) > 0 {
			fmt.Fprintln(out, "mcasbot (only you can see this): "+w.text(reps[0].Text))
			return
		}
	}
	if viewID == "" {
		fmt.Fprintln(out, "no answer from the bot")
		return
	}
	key := strings.TrimPrefix(btn.action, formatting.ActionCreateJira+":")
	if rec, ok, _ := w.store.AlertClose(context.Background(), btn.tenant, btn.id); ok && rec.State == store.CloseReopened {
		// Close… found the alert open again in MCAS: the entry is redrawn open.
		if _, err := w.slack.WaitPosts(1, 5*time.Second, func(p slackfake.Post) bool {
			return p.Method == "chat.update" && p.TS == btn.post.TS && strings.Contains(string(p.Blocks), "reopened in Defender since")
		}); err == nil {
			fmt.Fprintln(out, "The bot asked MCAS first: the alert is open again, so the digest message now shows it open:")
			w.printEntry(out, w.slack.Current(btn.post), key)
		}
	}
	form := struct {
		Blocks []map[string]any `json:"blocks"`
	}{}
	_ = json.Unmarshal(w.slack.ViewBody(viewID), &form)
	fmt.Fprintln(out, "Close… opened a form (views.open with the click's trigger_id):")
	if len(form.Blocks) > 0 {
		if t, ok := form.Blocks[0]["text"].(map[string]any); ok {
			fmt.Fprintln(out, "  "+strings.ReplaceAll(w.text(fmt.Sprint(t["text"])), "\n", "\n  "))
		}
	}
	arg2 := func(i int, q, def string) string {
		if i < len(fields) {
			if i == 3 {
				// The rest of the line, as typed; quotes around it are not part of it.
				return strings.Trim(strings.Join(fields[3:], " "), `"'`)
			}
			return fields[i]
		}
		if a, ok := ask(q, def); ok && a != "" {
			return a
		}
		return def
	}
	kind := source.Classification(arg2(1, "Classification (benign, false_positive, true_positive)", "benign"))
	fmt.Fprintf(out, "  Classification: %s\n", kind)
	if kind.Valid() {
		id, err := w.slack.ViewAction(demoUser, viewID, formatting.BlockClassification, formatting.ActionClassification, string(kind))
		if err == nil {
			_, _ = w.slack.WaitAck(id, 5*time.Second)
			_, _ = w.slack.WaitViews(1, 5*time.Second, func(c slackfake.ViewCall) bool { return c.Method == "views.update" && c.ViewID == viewID })
		}
	}
	t, _ := w.closer.Tenants.Tenant(btn.tenant)
	reasons := t.Reasons(kind)
	var codes []string
	for _, r := range reasons {
		codes = append(codes, r.Code)
	}
	in := slackfake.Input{}
	if len(codes) > 0 {
		fmt.Fprintf(out, "  (the form now offers the reasons for %s: %s)\n", kind.Label(), strings.Join(codes, ", "))
		reason := arg2(2, "Reason", codes[len(codes)/2])
		fmt.Fprintf(out, "  Reason:         %s\n", reason)
		if _, ok := source.Find(reasons, reason); ok {
			in[formatting.BlockReason+":"+string(kind)+"/"+formatting.ActionReason] = string(kind) + "/" + reason
		}
	} else if kind.Valid() {
		fmt.Fprintf(out, "  (%ss are closed without a reason)\n", kind.Label())
	}
	comment := arg2(3, "Comment", "Checked with the user: they were travelling.")
	if len(fields) > 2 && len(fields) < 4 {
		comment = "" // reason given without a comment: none
	}
	fmt.Fprintf(out, "  Comment:        %s\n", comment)
	in[formatting.BlockComment+"/"+formatting.ActionComment] = comment
	id, err := w.slack.Submit(demoUser, viewID, in)
	if err != nil {
		fmt.Fprintln(out, err)
		return
	}
	ack, err := w.slack.WaitAck(id, 5*time.Second)
	if err != nil {
		fmt.Fprintln(out, err)
		return
	}
	if action, errs := slackfake.SubmitResponse(ack); action == "errors" {
		for block, msg := range errs {
			fmt.Fprintf(out, "The form stays open and says under %s: %s\n", strings.SplitN(block, ":", 2)[0], msg)
		}
		return
	}
	fmt.Fprintln(out, "Submitted: the form closes.")
	reps, err := w.slack.Responses(click, 1, 15*time.Second)
	if err != nil {
		fmt.Fprintln(out, "no answer from the bot")
		return
	}
	fmt.Fprintln(out, "mcasbot (only you can see this): "+strings.ReplaceAll(w.text(reps[0].Text), "\n", "\n  "))
	w.showGraphClose(out, btn.tenant, btn.id)
	if _, err := w.slack.WaitPosts(1, 5*time.Second, func(p slackfake.Post) bool {
		return p.Method == "chat.update" && p.TS == btn.post.TS && strings.Contains(string(p.Blocks), key) &&
			(strings.Contains(strings.ToLower(string(p.Blocks)), "closed as") || strings.Contains(string(p.Blocks), "in Defender"))
	}); err == nil {
		fmt.Fprintln(out, "The digest message now shows:")
		w.printEntry(out, w.slack.Current(btn.post), key)
	}
	if is, ok, _ := w.store.Issue(context.Background(), btn.tenant, btn.id); ok && is.Key != "" {
		if cs := w.jira.Comments(is.Key); len(cs) > 0 {
			fmt.Fprintf(out, "\nJira comment on %s (in the sandbox Jira):\n    %s\n", is.Key, strings.ReplaceAll(cs[len(cs)-1].Body, "\n", "\n    "))
		}
	}
}

func countViews(calls []slackfake.ViewCall, match func(slackfake.ViewCall) bool) int {
	n := 0
	for _, c := range calls {
		if match(c) {
			n++
		}
	}
	return n
}

// printEntry prints one alert's entry of a digest message.
func (w *workflow) printEntry(out io.Writer, p slackfake.Post, key string) {
	var blocks []map[string]any
	_ = json.Unmarshal(p.Blocks, &blocks)
	for _, b := range blocks {
		id, _ := b["block_id"].(string)
		base, _, _ := strings.Cut(id, "~")
		if !strings.HasSuffix(base, ":"+key) {
			continue
		}
		if t, ok := b["text"].(map[string]any); ok {
			fmt.Fprintln(out, "  "+strings.ReplaceAll(w.text(fmt.Sprint(t["text"])), "\n", "\n  "))
		}
		for _, e := range asList(b["elements"]) {
			if t, ok := e["text"].(map[string]any); ok && b["type"] == "actions" {
				fmt.Fprintf(out, "  [%s]", t["text"])
			} else if b["type"] == "context" {
				fmt.Fprintln(out, "  "+w.text(fmt.Sprint(e["text"])))
			}
		}
		if b["type"] == "actions" {
			fmt.Fprintln(out)
		}
		if acc := menuOf(b); acc.menu != "" {
			var opts []string
			for _, o := range asList(b["accessory"].(map[string]any)["options"]) {
				opts = append(opts, fmt.Sprint(o["text"].(map[string]any)["text"]))
			}
			fmt.Fprintf(out, "  [⋯ %s]\n", strings.Join(opts, " · "))
		}
	}
}

// reopen reopens an entry's alert in its sandbox tenant, as an analyst can
// in the portal. The bot learns it when Close… is pressed on the alert.
func (w *workflow) reopen(out io.Writer, arg string) {
	btn, ok := w.entry(out, strings.TrimSpace(arg), "reopen")
	if !ok {
		return
	}
	if btn.group {
		fmt.Fprintf(out, "Entry %s is a group of repeats: reopen one alert (an entry of one alert, such as 2).\n", strings.TrimSpace(arg))
		return
	}
	f := w.fakes[btn.tenant]
	if f == nil {
		fmt.Fprintf(out, "%s is read through Microsoft Graph in the sandbox; reopen works on contoso's alerts (MCAS).\n", btn.tenant)
		return
	}
	if a, found := f.Alert(btn.id); !found || a.ResolutionStatusValue == 0 {
		fmt.Fprintf(out, "Alert %s is open in %s: close it first (close %s).\n", strings.TrimSpace(arg), btn.tenant, strings.TrimSpace(arg))
		return
	}
	f.Reopen(btn.id)
	n := strings.TrimSpace(arg)
	fmt.Fprintf(out, "Reopened alert %s (%s) in %s's portal, the sandbox's MCAS; the digest still shows the bot's close. "+
		"Press Close… on it (close %s): the bot asks MCAS, finds it open, shows it open again and opens the form.\n", n, btn.id, btn.tenant, n)
}

// showGraphClose tells what a close sent Microsoft Graph for an alert of
// the sandbox's Graph tenant: its PATCH, and its comment as one object.
func (w *workflow) showGraphClose(out io.Writer, tenant, id string) {
	if w.fakes[tenant] != nil || w.graph == nil {
		return
	}
	for _, u := range w.graph.Updates() {
		if u.ID != id {
			continue
		}
		fmt.Fprintf(out, "In Defender XDR (the sandbox Graph): PATCH /v1.0/security/alerts_v2/%s set status %s, classification %s, determination %s",
			id, u.Body["status"], u.Body["classification"], u.Body["determination"])
		if _, bodies := w.graph.Comments(id); len(bodies) > 0 {
			fmt.Fprintf(out, "; POST …/comments sent one object: %s", bodies[len(bodies)-1])
		}
		fmt.Fprintln(out, ".")
	}
}

// repeat makes bob.smith trip the Tor policy three more times in contoso,
// just now: the next digest adds them to his group's issue while it is
// open, or posts them as a new entry linking it once it is done.
func (w *workflow) repeat(out io.Writer) {
	f := w.fakes["contoso"]
	if f == nil {
		fmt.Fprintln(out, "contoso is not an MCAS tenant in this sandbox")
		return
	}
	w.repeats++
	f.AddAlerts(mcasfake.Repeats("contoso", "bob.smith@contoso.com", fmt.Sprintf("b%d", w.repeats+1), 3, w.clock.Now().Add(-time.Minute), 20*time.Second)...)
	fmt.Fprintln(out, "bob.smith@contoso.com tripped \"Activity from anonymous IP addresses\" three more times in contoso; run `digest`: "+
		"they join his group's issue while it is open, and start a new entry linking it once it is done.")
}
