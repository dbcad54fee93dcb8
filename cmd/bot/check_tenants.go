package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/integrations/httpx"
)

// checkTenantsFile prints the tenants file's problems before anything
// else, each with its file and line, or that the file is valid; it returns
// the other problems.
func checkTenantsFile(cfg *Config, tenants []Tenant, problems Problems, add adder) Problems {
	var rest, file Problems
	bad := false
	for _, p := range problems {
		if p.Area != areaTenants {
			rest = append(rest, p)
			continue
		}
		file = append(file, p)
		bad = bad || p.Fatal
	}
	if path := cfg.TenantsFile.Path; path != "" && !bad && cfg.roster != nil {
		groups := len(cfg.roster.Groups)
		add(areaTenants, pass, "%s: %d %s in %d %s, every entry valid", path, len(tenants), plural(len(tenants), "tenant", "tenants"), groups, plural(groups, "group", "groups"))
	}
	for _, p := range file {
		r := warn
		if p.Fatal {
			r = fail
		}
		add(areaTenants, r, "%s", p.Msg)
	}
	return rest
}

// checkDigestChannels asks Slack whether the bot is a member of every
// channel a digest goes to: the tenants file's routes and DIGEST_CHANNEL.
// conversations.info needs channels:read (groups:read for a private
// channel), which the bot needs for nothing else: without it, the channels
// are named as not verified rather than failed.
func checkDigestChannels(ctx context.Context, cfg *Config, a *app, add adder) {
	if cfg.SlackBotToken == "" {
		return
	}
	channels, nowhere := digestRoutes(cfg, a)
	if len(nowhere) > 0 && len(channels) > 0 {
		add("slack", warn, "the digest of %s goes nowhere: no digest_channel (its own, its group's or the file's defaults) and no DIGEST_CHANNEL", names(nowhere))
	}
	if len(channels) == 0 {
		return
	}
	api := slackAPI(cfg, a.hc)
	who, err := api.AuthTestContext(ctx)
	if err != nil {
		return // checkSlack said why
	}
	granted, _ := grantedScopes(who.Header)
	public := slices.Contains(granted, "chat:write.public")
	var unverified []string
	for _, ch := range sortedKeys(channels) {
		of := names(channels[ch])
		info, err := conversationInfo(ctx, api, ch)
		var se slack.SlackErrorResponse
		switch {
		case errors.As(err, &se) && se.Err == "missing_scope":
			unverified = append(unverified, ch)
		case errors.As(err, &se) && se.Err == "channel_not_found":
			add("slack", fail, "digest channel %s: not found, or a private channel the bot is not in: check the ID, or invite @%s (the digest of %s goes there)", ch, who.User, of)
		case err != nil:
			add("slack", warn, "digest channel %s: membership could not be verified: %s (the digest of %s goes there)", ch, httpx.Describe(err), of)
		case info.IsMember:
			add("slack", pass, "digest channel #%s (%s): the bot is a member (the digest of %s goes there)", info.Name, ch, of)
		case public && !info.IsPrivate:
			add("slack", pass, "digest channel #%s (%s): the bot is not a member, but chat:write.public lets it post there (the digest of %s)", info.Name, ch, of)
		default:
			add("slack", fail, "digest channel #%s (%s): the bot is not a member, so the digest of %s cannot be posted there: /invite @%s in #%s", info.Name, ch, of, who.User, info.Name)
		}
	}
	if len(unverified) > 0 {
		add("slack", warn, "digest %s %s: membership could not be verified: the bot token lacks channels:read (groups:read for private channels), "+
			"which only bot check would use; make sure @%s is in %s", plural(len(unverified), "channel", "channels"), names(unverified), who.User, plural(len(unverified), "it", "each"))
	}
}

// conversationInfo asks Slack about a channel, waiting out rate limits
// (conversations.info is Tier 3: a hundred channels may meet one).
func conversationInfo(ctx context.Context, api *slack.Client, ch string) (*slack.Channel, error) {
	for {
		info, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: ch})
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) {
			return info, err
		}
		if err := httpx.Sleep(ctx, rl.RetryAfter); err != nil {
			return nil, err
		}
	}
}

// digestRoutes are the channels digests go to, each with its tenants, and
// the tenants whose digest has no channel.
func digestRoutes(cfg *Config, a *app) (map[string][]string, []string) {
	channels := map[string][]string{}
	var nowhere []string
	for _, t := range a.runner.Tenants.Tenants() {
		ch := a.runner.Tenants.Route(t.Name()).DigestChannel
		if ch == "" {
			ch = cfg.DigestChannel
		}
		if ch == "" {
			nowhere = append(nowhere, t.Name())
			continue
		}
		channels[ch] = append(channels[ch], t.Name())
	}
	return channels, nowhere
}

func sortedKeys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// names lists a few names and counts the rest.
func names(ns []string) string {
	const most = 5
	if len(ns) > most {
		return fmt.Sprintf("%s and %d more", strings.Join(ns[:most], ", "), len(ns)-most)
	}
	return andList(ns)
}
