package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/soc/mcasbot/bot/closing"
	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/integrations/defender/defenderfake"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
	"github.com/soc/mcasbot/schedule"
	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/store"
)

// The sandbox Jira's assignee, findable in the sandbox Slack by e-mail.
var demoAssignee = jirafake.User{AccountID: "acc-dave", DisplayName: "Dave Ops", Email: "dave@demo.example"}

const demoAssigneeSlack = "U0DAVE"

var emoji = strings.NewReplacer(":white_check_mark:", "✅", ":large_yellow_circle:", "🟡", ":white_circle:", "⚪", ":wastebasket:", "🗑",
	":warning:", "⚠️", ":bar_chart:", "📊", ":thread:", "🧵")

// progress moves the last filed issue one step through the sandbox Jira's
// workflow (To Do → In Progress, assigned → Done) and runs the Jira sync.
func (w *workflow) progress(ctx context.Context, out io.Writer) {
	issues := w.jira.Issues()
	if len(issues) == 0 {
		fmt.Fprintln(out, "No issue filed yet: run `digest`, then `jira 1`, then `progress`.")
		return
	}
	is := issues[len(issues)-1]
	w.jira.AddUser(demoAssignee)
	w.slack.AddUser(demoAssigneeSlack, demoAssignee.Email)
	switch is.Status {
	case "To Do":
		_ = w.jira.Move(is.Key, "In Progress", "")
		_ = w.jira.Assign(is.Key, demoAssignee.AccountID)
		fmt.Fprintf(out, "In the sandbox Jira, %s moved to In Progress and %s (%s, @%s in Slack) took it.\n", is.Key, demoAssignee.DisplayName, demoAssignee.Email, demoAssigneeSlack)
	case "In Progress":
		_ = w.jira.Move(is.Key, "Done", "Fixed")
		fmt.Fprintf(out, "In the sandbox Jira, %s moved to Done, resolution Fixed.\n", is.Key)
	default:
		fmt.Fprintf(out, "%s is %s already: file another issue (`jira 2`) to follow it.\n", is.Key, is.Status)
		return
	}
	sync := &schedule.JiraSync{Store: w.store, Jira: w.jc, Users: w.api, Redraw: w.redraw, Logger: w.logger, Owner: "demo", UpdateInterval: 5 * time.Millisecond, Now: w.clock.Now,
		Closer: &closing.JiraDone{Service: w.closer, Classification: demoDoneCloses, Logger: w.logger}}
	// The sandbox Jira's search lags a new issue by 2 s, as Cloud's does.
	var rep schedule.SyncReport
	for deadline := time.Now().Add(5 * time.Second); ; {
		var err error
		if rep, err = sync.Run(ctx); err != nil {
			fmt.Fprintln(out, "sync failed:", err)
			return
		}
		if rep.Changed > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	closed := ""
	if rep.Closed > 0 {
		closed += fmt.Sprintf(", %d %s closed", rep.Closed, plural(rep.Closed, "alert", "alerts"))
	}
	if rep.CloseFailed > 0 {
		closed += fmt.Sprintf(", %d %s failed", rep.CloseFailed, plural(rep.CloseFailed, "close", "closes"))
	}
	fmt.Fprintf(out, "Jira sync: %d %s followed, %d %s, %d changed, %d %s updated%s.\n", rep.Tracked, plural(rep.Tracked, "issue", "issues"),
		rep.Searches, plural(rep.Searches, "search", "searches"), rep.Changed, rep.Redrawn, plural(rep.Redrawn, "message", "messages"), closed)
	if is.Status == "In Progress" && w.showDoneClose(ctx, out, is.Key) {
		return
	}
	if line := w.issueLine(ctx, is.Key); line != "" {
		fmt.Fprintln(out, "The digest message now shows: "+line)
	}
}

// demoDoneCloses is JIRA_DONE_CLOSES_ALERT in the sandbox.
const demoDoneCloses = source.TruePositive

// showDoneClose tells what JIRA_DONE_CLOSES_ALERT did with the alerts of an
// issue that just reached Done (one, or a group's); true when it showed
// their digest entry.
func (w *workflow) showDoneClose(ctx context.Context, out io.Writer, key string) bool {
	tracked, _ := w.store.TrackedIssues(ctx, w.clock.Now().AddDate(0, 0, -1))
	var mine []store.TrackedIssue
	var byBot []string
	before := ""
	for _, t := range tracked {
		if t.Key != key {
			continue
		}
		mine = append(mine, t)
		rec, ok, _ := w.store.AlertClose(ctx, t.Tenant, t.AlertID)
		switch {
		case !ok || rec.State != store.CloseDone:
			fmt.Fprintf(out, "JIRA_DONE_CLOSES_ALERT=%s: an alert could not be closed; the next sync tries again.\n", demoDoneCloses)
			return false
		case rec.ByBot():
			byBot = append(byBot, t.AlertID)
		default:
			before = emoji.Replace(w.text(formatting.ClosedText(*formatting.ClosedFromStore(rec))))
		}
	}
	if len(byBot) == 0 {
		if before != "" {
			fmt.Fprintf(out, "JIRA_DONE_CLOSES_ALERT=%s: the alert was closed before (%s), so nothing is closed twice.\n", demoDoneCloses, before)
		}
		return false
	}
	if w.fakes[mine[0].Tenant] == nil {
		w.showGraphDoneClose(out, key, mine[0].Tenant, byBot)
	}
	for _, c := range w.closes(mine[0].Tenant) {
		if !slices.ContainsFunc(c.IDs, func(id string) bool { return slices.Contains(byBot, id) }) {
			continue
		}
		what := fmt.Sprintf("the alert in %s: POST /api/v1/alerts/close_%s/", mine[0].Tenant, c.Kind)
		switch {
		case len(c.IDs) > 1 && len(c.IDs) == len(mine):
			what = fmt.Sprintf("the %d alerts of the group in %s, all %d ids in one POST /api/v1/alerts/close_%s/,", len(mine), mine[0].Tenant, len(c.IDs), c.Kind)
		case len(mine) > 1:
			what = fmt.Sprintf("the %d still open of the group's %d alerts in %s, in one POST /api/v1/alerts/close_%s/,", len(c.IDs), len(mine), mine[0].Tenant, c.Kind)
		}
		fmt.Fprintf(out, "JIRA_DONE_CLOSES_ALERT=%s (on in the sandbox): the sync closed %s with comment %q; no comment back on %s.\n",
			demoDoneCloses, what, c.Comment, key)
	}
	for _, b := range w.buttons {
		entry := strings.TrimPrefix(b.action, formatting.ActionCreateJira+":")
		for _, t := range mine {
			if entry == formatting.AlertKeyOf(t.Tenant, t.AlertID) {
				fmt.Fprintln(out, "The digest message now shows:")
				w.printEntry(out, w.slack.Current(b.post), entry)
				return true
			}
		}
	}
	return false
}

// issueLine is the line that stands for key's alert in its digest message.
func (w *workflow) issueLine(ctx context.Context, key string) string {
	tracked, _ := w.store.TrackedIssues(ctx, w.clock.Now().AddDate(0, 0, -1))
	for _, t := range tracked {
		if t.Key != key {
			continue
		}
		p, ok, _ := w.store.Message(ctx, t.Tenant, t.AlertID)
		if !ok {
			return ""
		}
		line := ""
		for _, x := range w.slack.Posts() {
			if x.Method != "chat.update" || x.TS != p.TS {
				continue
			}
			var blocks []map[string]any
			_ = json.Unmarshal(x.Blocks, &blocks)
			for _, b := range blocks {
				for _, e := range asList(b["elements"]) {
					if s, _ := e["text"].(string); strings.Contains(s, key) {
						line = emoji.Replace(w.text(s))
					}
				}
			}
		}
		return line
	}
	return ""
}

// report posts the weekly report into the sandbox Slack as `bot report`
// does by hand: the week up to now, today so far (so today's digest and
// issues count), after recording the fortnight before as earlier digests
// would have. The chart, uploaded into the report's thread, is saved to a
// temporary file.
func (w *workflow) report(ctx context.Context, out io.Writer) {
	now := w.clock.Now()
	if !w.seeded {
		if err := w.seedHistory(ctx, now); err != nil {
			fmt.Fprintln(out, "cannot record the sandbox's history:", err)
			return
		}
		w.seeded = true
		fmt.Fprintln(out, "(The sandbox recorded the past two weeks as daily digests would have; fabrikam failed one of them.)")
	}
	before := len(w.slack.Posts())
	r := &schedule.PeriodicReport{Store: w.store, Slack: w.api, Channel: demoChannel, Logger: w.logger, Now: w.clock.Now}
	res, outcome, err := r.RunByHand(ctx, schedule.UntilNow, false)
	if err != nil {
		fmt.Fprintln(out, "report failed:", err)
		return
	}
	fmt.Fprintf(out, "As `bot report` does by hand: the last %d days up to now, today (%s) so far. (The scheduled report keeps whole UTC days; if Slack fails it is retried, and sent once across replicas.)\n",
		res.Stats.Length(), res.Stats.To.Format("2 Jan"))
	for _, p := range w.slack.Posts()[before:] {
		if p.Method == "chat.postMessage" {
			fmt.Fprintln(out, "\n── #soc-alerts ─────────────────────────────")
			w.renderReport(out, p.Blocks)
		}
	}
	files := w.slack.Files()
	if outcome != "ok" || len(files) == 0 {
		fmt.Fprintln(out, "The chart could not be attached:", res.ChartProblem)
		return
	}
	f := files[len(files)-1]
	tmp, err := os.CreateTemp("", "mcasbot-report-*.png")
	if err == nil {
		_, err = tmp.Write(f.Bytes)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(out, "cannot save the chart:", err)
		return
	}
	fmt.Fprintf(out, "  ↳ in thread: 📊 %s (%s, %d KB, uploaded with files.getUploadURLExternal → upload → files.completeUploadExternal)\n", f.Title, f.Name, (len(f.Bytes)+1023)/1024)
	fmt.Fprintf(out, "\nChart saved to %s\n", tmp.Name())
}

// renderReport prints a report message as a channel reader sees it.
func (w *workflow) renderReport(out io.Writer, raw json.RawMessage) {
	var blocks []map[string]any
	_ = json.Unmarshal(raw, &blocks)
	for _, b := range blocks {
		if t, ok := b["text"].(map[string]any); ok {
			fmt.Fprintln(out, emoji.Replace(w.text(fmt.Sprint(t["text"]))))
		}
		for _, f := range asList(b["fields"]) {
			fmt.Fprintln(out, "  "+strings.ReplaceAll(w.text(fmt.Sprint(f["text"])), "\n", "\n  "))
		}
		for _, e := range asList(b["elements"]) {
			fmt.Fprintln(out, "  "+strings.ReplaceAll(emoji.Replace(w.text(fmt.Sprint(e["text"]))), "\n", "\n  "))
		}
	}
}

// seedHistory records the sandbox tenants' medium and high alerts of the
// 13 days before today as posted by an 08:00 digest each day, and those
// digests' runs, one of which could not read fabrikam.
func (w *workflow) seedHistory(ctx context.Context, now time.Time) error {
	today := now.Truncate(24 * time.Hour)
	for _, c := range w.tenants {
		list, err := c.Alerts(ctx, source.AlertQuery{Limit: 500, Severities: []source.Severity{source.SeverityMedium, source.SeverityHigh},
			Since: today.AddDate(0, 0, -13), Until: today.Add(-time.Millisecond)})
		if err != nil {
			return err
		}
		ids := make([]string, len(list.Alerts))
		for i, a := range list.Alerts {
			ids[i] = a.ID
		}
		posted, err := w.store.Posted(ctx, c.Name(), ids)
		if err != nil {
			return err
		}
		var ps []store.Posting
		for _, a := range list.Alerts {
			at := a.Time.Truncate(24 * time.Hour).Add(8 * time.Hour)
			if !at.After(a.Time) {
				at = at.Add(24 * time.Hour)
			}
			if posted[a.ID] || !at.Before(today) {
				continue
			}
			ps = append(ps, store.Posting{Tenant: c.Name(), AlertID: a.ID, Channel: demoChannel, TS: fmt.Sprintf("%d.000100", at.Unix()),
				PostedAt: at, Severity: a.Severity.String(), Title: a.Title, Policy: a.Policy(), User: a.User(), IPs: a.IPs(), AlertTime: a.Time})
		}
		if err := w.store.MarkPosted(ctx, ps); err != nil {
			return err
		}
	}
	for d := 13; d >= 1; d-- {
		at := today.AddDate(0, 0, -d).Add(8 * time.Hour)
		var runs []store.TenantRun
		for _, c := range w.tenants {
			r := store.TenantRun{At: at, Tenant: c.Name()}
			if c.Name() == "fabrikam" && d == 3 {
				r.Failed, r.Reason = true, "throttled (HTTP 429)"
			}
			runs = append(runs, r)
		}
		if err := w.store.RecordDigestRun(ctx, runs); err != nil {
			return err
		}
	}
	return nil
}

// showGraphDoneClose tells what the sync sent Microsoft Graph for a done
// issue's alerts: a PATCH and a comment for each (Graph takes one alert
// per call).
func (w *workflow) showGraphDoneClose(out io.Writer, key, tenant string, ids []string) {
	var patched []defenderfake.Update
	for _, u := range w.graph.Updates() {
		if slices.Contains(ids, u.ID) {
			patched = append(patched, u)
		}
	}
	if len(patched) == 0 {
		return
	}
	u := patched[0]
	comment := ""
	if cs, _ := w.graph.Comments(u.ID); len(cs) > 0 {
		comment = cs[len(cs)-1].Comment
	}
	what := fmt.Sprintf("the alert in %s through Microsoft Graph: PATCH /v1.0/security/alerts_v2/%s (status %s, classification %s, determination %s), then POST …/comments",
		tenant, u.ID, u.Body["status"], u.Body["classification"], u.Body["determination"])
	if len(patched) > 1 {
		what = fmt.Sprintf("the %d alerts of the group in %s through Microsoft Graph, one PATCH /v1.0/security/alerts_v2/{id} each (classification %s, determination %s) and a comment each,",
			len(patched), tenant, u.Body["classification"], u.Body["determination"])
	}
	fmt.Fprintf(out, "JIRA_DONE_CLOSES_ALERT=%s (on in the sandbox): the sync closed %s with comment %q; no comment back on %s.\n",
		demoDoneCloses, what, comment, key)
}
