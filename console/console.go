// Package console runs /mcas command texts on a terminal, as `bot exec`
// and `bot demo` do: the same parser, handlers and formatter as the bot,
// printed as plain text or as the exact Slack message JSON.
package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/bot/formatting"
)

// Exit codes.
const (
	ExitOK       = 0
	ExitUpstream = 1 // an upstream failed
	ExitUsage    = 2 // bad input or configuration
)

// Execute runs one command text through the same parser, handlers and
// formatter as the bot. Bad input goes to stderr with exit 2; an upstream
// failure still prints what came back, with exit 1. With a deadline, an
// unfinished answer is printed when it passes, as the bot would post it.
func Execute(ctx context.Context, runner *commands.Runner, text string, deadline time.Duration, asJSON bool, stdout, stderr io.Writer) int {
	text = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(text), "/mcas"))
	req, err := runner.Parse(text)
	if err != nil {
		var ue *commands.UsageError
		if !errors.As(err, &ue) {
			ue = &commands.UsageError{Problem: err.Error()}
		}
		if asJSON {
			WriteJSON(stdout, formatting.Help(ue))
		}
		fmt.Fprint(stderr, formatting.Plain(commands.HelpResult{Problem: ue}))
		return ExitUsage
	}
	ans := runner.Start(ctx, req)
	var res commands.Result
	if deadline > 0 {
		start := time.Now()
		res = ans.Await(start.Add(deadline), func(part commands.Result, why commands.Interim) {
			fmt.Fprintf(stdout, "(after %s, the reply shows, until the rest comes:)\n", time.Since(start).Round(100*time.Millisecond))
			if asJSON {
				WriteJSON(stdout, formatting.Reply(part))
			} else {
				fmt.Fprint(stdout, formatting.Plain(part))
			}
			fmt.Fprintln(stdout, "(then it is replaced by:)")
		})
	} else {
		res = ans.Wait()
	}
	if asJSON {
		WriteJSON(stdout, formatting.Reply(res))
	} else {
		fmt.Fprint(stdout, formatting.Plain(res))
	}
	if commands.Failed(res) {
		return ExitUpstream
	}
	return ExitOK
}

// WriteJSON prints v as indented JSON, as Slack would receive it.
func WriteJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
