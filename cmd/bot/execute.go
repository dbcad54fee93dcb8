package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/bot/formatting"
)

// execute runs one command text through the same parser, handlers and
// formatter as the bot. Bad input goes to stderr with exit 2; an upstream
// failure still prints what came back, with exit 1.
func execute(ctx context.Context, runner *commands.Runner, text string, asJSON bool, stdout, stderr io.Writer) int {
	text = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(text), "/mcas"))
	req, err := runner.Parse(text)
	if err != nil {
		var ue *commands.UsageError
		if !errors.As(err, &ue) {
			ue = &commands.UsageError{Problem: err.Error()}
		}
		if asJSON {
			writeJSON(stdout, formatting.Help(ue))
		}
		fmt.Fprint(stderr, formatting.Plain(commands.HelpResult{Problem: ue}))
		return exitUsage
	}
	res := runner.Run(ctx, req)
	if asJSON {
		writeJSON(stdout, formatting.Reply(res))
	} else {
		fmt.Fprint(stdout, formatting.Plain(res))
	}
	if commands.Failed(res) {
		return exitUpstream
	}
	return exitOK
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
