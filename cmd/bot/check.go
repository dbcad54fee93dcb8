package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/store"
)

type result string

const (
	pass result = "ok"
	warn result = "WARN"
	fail result = "FAIL"
)

type checkLine struct {
	area   string
	result result
	detail string
}

// checkCmd validates the configuration, then reaches each upstream and
// prints one line per check. It exits 1 when any check fails.
func checkCmd(ctx context.Context, stdout, stderr io.Writer, environ []string) int {
	cfg, tenants, problems := Load(environ, needs{slack: true, tenants: true})
	var lines []checkLine
	add := func(area string, r result, format string, a ...any) {
		lines = append(lines, checkLine{area, r, fmt.Sprintf(format, a...)})
	}
	for _, p := range checkTenantsFile(cfg, tenants, problems, add) {
		r := warn
		if p.Fatal {
			r = fail
		}
		add("config", r, "%s", p.Msg)
	}
	if len(problems) == 0 {
		add("config", pass, "every setting is valid")
	}
	logger := newLogger(io.Discard, "error", "text", secretsOf(cfg, tenants))
	a, err := wire(ctx, cfg, tenants, logger, false)
	if err != nil {
		add("config", fail, "%v", err)
		return printChecks(stdout, lines, secretsOf(cfg, tenants))
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	checkSlack(ctx, cfg, a, add)
	checkDigestChannels(ctx, cfg, a, add)
	checkTenants(ctx, a, tenants, add)
	checkGraphTenants(ctx, a, tenants, add)
	checkAbuse(ctx, a, add)
	checkStore(ctx, cfg, add)
	checkJira(ctx, cfg, add)
	return printChecks(stdout, lines, secretsOf(cfg, tenants))
}

func printChecks(w io.Writer, lines []checkLine, secrets []string) int {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	code := exitOK
	for _, l := range lines {
		// Upstream messages are printed, but never a secret inside one.
		fmt.Fprintf(tw, "%s\t%s\t%s\n", l.area, l.result, redact(l.detail, nonEmpty(secrets)))
		if l.result == fail {
			code = exitUpstream
		}
	}
	_ = tw.Flush()
	return code
}

func nonEmpty(s []string) []string {
	return slices.DeleteFunc(slices.Clone(s), func(x string) bool { return len(x) < 4 })
}

type adder func(area string, r result, format string, a ...any)

func checkSlack(ctx context.Context, cfg *Config, a *app, add adder) {
	if cfg.SlackBotToken == "" || cfg.SlackAppToken == "" {
		return
	}
	api := slackAPI(cfg, a.hc)
	if who, err := api.AuthTestContext(ctx); err != nil {
		add("slack", fail, "bot token: auth.test failed: %v", err)
	} else {
		add("slack", pass, "bot token: @%s in %s (%s)", who.User, who.Team, who.TeamID)
		checkScopes(cfg, who.Header, add)
	}
	if _, _, err := api.StartSocketModeContext(ctx); err != nil {
		add("slack", fail, "app token: apps.connections.open failed: %v (needs an xapp- token with connections:write, and Socket Mode on)", err)
	} else {
		add("slack", pass, "app token: Socket Mode connections can be opened")
	}
}

func checkAbuse(ctx context.Context, a *app, add adder) {
	if a.abuse == nil {
		add("abuseipdb", warn, "not configured: /mcas ip shows no reputation")
		return
	}
	_, err := a.abuse.Check(ctx, netip.MustParseAddr("8.8.8.8"))
	q := a.abuse.Quota()
	switch {
	case httpx.KindOf(err) == httpx.KindThrottled:
		add("abuseipdb", warn, "key valid but the daily quota is spent: reputation shows as unavailable until it resets")
	case err != nil:
		add("abuseipdb", fail, "%s", httpx.Describe(err))
	case q.Known:
		add("abuseipdb", pass, "key valid, %d of %d checks left today (this check used one)", q.Remaining, q.Limit)
	default:
		add("abuseipdb", pass, "key valid")
	}
}

func checkStore(ctx context.Context, cfg *Config, add adder) {
	st, err := store.Open(ctx, cfg.DatabaseURL.Reveal())
	kind := store.Kind(cfg.DatabaseURL.Reveal())
	if err != nil {
		add("store", fail, "%s: %v", kind, err)
		return
	}
	defer st.Close()
	if err := st.Ping(ctx); err != nil {
		add("store", fail, "%s: %v", kind, err)
		return
	}
	add("store", pass, "%s: reachable, schema up to date", kind)
	checkStoreSize(ctx, cfg, st, add)
}

func checkJira(ctx context.Context, cfg *Config, add adder) {
	if !cfg.JiraEnabled() {
		add("jira", warn, "not configured: no Create Jira button")
		return
	}
	jc, err := jiraClient(cfg, httpClient(), nil)
	if err != nil {
		add("jira", fail, "cannot set up the client: %v", err)
		return
	}
	me, err := jc.Myself(ctx)
	if err != nil {
		add("jira", fail, "credentials: %s", httpx.Describe(err))
		return
	}
	add("jira", pass, "credentials: signed in as %s (%s)", me, jc.Deployment())
	screen, err := jc.CreateScreen(ctx, cfg.JiraProject, cfg.mapping.IssueType)
	if err != nil {
		add("jira", fail, "project %s / issue type %s: %s", cfg.JiraProject, cfg.mapping.IssueType, httpx.Describe(err))
		return
	}
	add("jira", pass, "project %s has issue type %s", cfg.JiraProject, cfg.mapping.IssueType)
	fields, err := jc.Fields(ctx)
	if err != nil {
		add("jira", fail, "listing fields: %s", httpx.Describe(err))
		return
	}
	names := map[string]string{}
	for _, f := range fields {
		names[f.ID] = f.Name
	}
	f := cfg.mapping.Fields
	for _, m := range []struct{ env, id string }{
		{"JIRA_FIELD_ALERT_URL", f.AlertURL}, {"JIRA_FIELD_ALERT_SUMMARY", f.AlertSummary}, {"JIRA_FIELD_ALERT_DESCRIPTION", f.AlertDescription},
		{"JIRA_FIELD_AFFECTED_USER", f.AffectedUser}, {"JIRA_FIELD_IP", f.IP}, {"JIRA_FIELD_REPORTED_IPS", f.ReportedIPs},
	} {
		switch name, exists := names[m.id]; {
		case m.id == "":
		case !exists:
			add("jira", fail, "%s %s: no such field on this site", m.env, m.id)
		case !slices.Contains(screen, m.id):
			add("jira", fail, "%s %s (%q): not on the create screen of %s/%s; add it there", m.env, m.id, name, cfg.JiraProject, cfg.mapping.IssueType)
		default:
			add("jira", pass, "%s %s (%q) is on the create screen", m.env, m.id, name)
		}
	}
	if !slices.Contains(screen, "priority") {
		add("jira", fail, "priority is not on the create screen of %s/%s: add it, or every issue is rejected (mcasbot sets the priority)", cfg.JiraProject, cfg.mapping.IssueType)
	}
}
