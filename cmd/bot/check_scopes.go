package main

import (
	"net/http"
	"slices"
	"strings"
)

// slackFeature is a part of mcasbot that calls Slack methods needing bot
// token scopes. bot check and the manifest test both read slackFeatures.
type slackFeature struct {
	name   string // what goes wrong without the scopes, for bot check
	scopes []string
	on     func(*Config) bool
	// fallback is what the bot does instead when a scope is missing; ""
	// when the feature simply fails.
	fallback string
}

// slackFeatures needs no entry for replies to /mcas and clicks (they go
// to response_url), nor for the Close… form: views.open and views.update
// need no scope, only interactivity.
var slackFeatures = []slackFeature{
	{name: "/mcas", scopes: []string{"commands"}, on: func(*Config) bool { return true }},
	// An answer bigger than a message: a short message in the channel and
	// the whole answer as a CSV in its thread.
	{name: "full answers to big questions (a CSV in a thread)", scopes: []string{"chat:write", "files:write"}, on: func(*Config) bool { return true },
		fallback: "the reply shows what fits and says the CSV could not be posted"},
	// chat.postMessage, and chat.update after Create Jira and Close….
	{name: "the digest", scopes: []string{"chat:write"}, on: (*Config).DigestEnabled},
	{name: "the report", scopes: []string{"chat:write"}, on: (*Config).ReportEnabled},
	// files.getUploadURLExternal and files.completeUploadExternal.
	{name: "the report's chart", scopes: []string{"files:write"}, on: (*Config).ReportEnabled,
		fallback: "the report is posted without it"},
	// chat.update of the digest messages whose issues changed.
	{name: "Jira status updates in the digest", scopes: []string{"chat:write"}, on: (*Config).SyncEnabled},
	// users.lookupByEmail needs users:read.email; Slack grants that only
	// with users:read.
	{name: "assignee mentions from the Jira sync", scopes: []string{"users:read", "users:read.email"}, on: (*Config).SyncEnabled,
		fallback: "assignees show their Jira names"},
}

// featuresOn are the features cfg turns on.
func featuresOn(cfg *Config) []slackFeature {
	var on []slackFeature
	for _, f := range slackFeatures {
		if f.on(cfg) {
			on = append(on, f)
		}
	}
	return on
}

// scopesNeeded are the scopes of the features cfg turns on, each once.
func scopesNeeded(cfg *Config) []string {
	var need []string
	for _, f := range featuresOn(cfg) {
		for _, s := range f.scopes {
			if !slices.Contains(need, s) {
				need = append(need, s)
			}
		}
	}
	return need
}

// grantedScopes reads the X-OAuth-Scopes header Slack puts on every Web API
// response: the token's scopes, comma-separated. ok is false without it.
func grantedScopes(h http.Header) (scopes []string, ok bool) {
	vals := h.Values("X-OAuth-Scopes")
	if len(vals) == 0 {
		return nil, false
	}
	for _, v := range vals {
		for s := range strings.SplitSeq(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				scopes = append(scopes, s)
			}
		}
	}
	return scopes, true
}

// checkScopes prints one line per scope a feature that is on needs and the
// bot token lacks; a scope only off features need is no problem.
func checkScopes(cfg *Config, h http.Header, add adder) {
	need := scopesNeeded(cfg)
	granted, ok := grantedScopes(h)
	if !ok {
		add("slack", warn, "bot token scopes could not be verified: auth.test answered without an X-OAuth-Scopes header (a proxy may drop it); the features that are on need %s", strings.Join(need, ", "))
		return
	}
	missing := false
	for _, scope := range need {
		if slices.Contains(granted, scope) {
			continue
		}
		missing = true
		var names, fallbacks []string
		r := warn
		for _, f := range featuresOn(cfg) {
			if !slices.Contains(f.scopes, scope) {
				continue
			}
			names = append(names, f.name)
			if f.fallback == "" {
				r = fail
			} else {
				fallbacks = append(fallbacks, f.fallback)
			}
		}
		meanwhile := ""
		if len(fallbacks) > 0 {
			meanwhile = " (meanwhile " + strings.Join(fallbacks, "; ") + ")"
		}
		add("slack", r, "bot token lacks %s, needed by %s%s: add it on the app's OAuth & Permissions page (Bot Token Scopes), then reinstall the app",
			scope, andList(names), meanwhile)
	}
	if !missing {
		add("slack", pass, "bot token has every scope the features that are on need: %s", strings.Join(need, ", "))
	}
}

// andList joins names as "a, b and c".
func andList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
