package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/commands"
	"github.com/soc/mcasbot/bot/formatting"
)

// Answers bigger than a message (issue #18): when Slack's limits cut a
// reply's rows, the bot posts one short message in the channel the command
// came from and uploads the whole answer as a CSV file into its thread;
// the ephemeral reply says where it is. Asked in a direct message, or in a
// channel mcasbot is not in, nothing is posted and the reply says why.

// fullWithin bounds posting the channel message and uploading the file.
const fullWithin = 30 * time.Second

// answer renders a complete result as the command's reply, posting the
// whole answer as a CSV first when the reply cannot show every row.
func (b *Bot) answer(ctx context.Context, log *slog.Logger, cmd slack.SlashCommand, res commands.Result) *slack.WebhookMessage {
	if _, card := res.(commands.AlertResult); card {
		return b.cardMessage(res)
	}
	msg, left := formatting.ReplyFull(res, nil)
	if left == 0 {
		return msg
	}
	f, ok := formatting.CSV(res)
	if !ok {
		return msg
	}
	full := b.postFull(ctx, log, cmd, f)
	msg, _ = formatting.ReplyFull(res, &full)
	return msg
}

// postFull posts the channel message and uploads f into its thread, and
// says where the file is or why there is none.
func (b *Bot) postFull(ctx context.Context, log *slog.Logger, cmd slack.SlashCommand, f formatting.File) formatting.Full {
	full := formatting.Full{Summary: f.Summary}
	log = log.With("rows", f.Rows, "bytes", len(f.Data))
	if direct(cmd) {
		full.Problem = "this question was asked in a direct message, and mcasbot posts files only in channels. Ask in a channel mcasbot is in to get the CSV."
		log.Info("full answer not posted: asked in a direct message")
		b.fullOutcome("direct_message")
		return full
	}
	ctx, cancel := context.WithTimeout(ctx, fullWithin)
	defer cancel()
	text, blocks := formatting.FullAnswerPost(cmd.UserID, cmd.Text, f.Summary)
	_, ts, err := b.api.PostMessageContext(ctx, cmd.ChannelID, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...),
		slack.MsgOptionDisableLinkUnfurl())
	if err != nil {
		full.Problem = slackProblem(err, "chat:write")
		outcome := "failed"
		if notMember(err) {
			outcome = "not_in_channel"
		}
		log.Warn("full answer not posted: the channel message failed", "error", err)
		b.fullOutcome(outcome)
		return full
	}
	_, err = b.api.UploadFileContext(ctx, slack.UploadFileParameters{Reader: bytes.NewReader(f.Data), FileSize: len(f.Data),
		Filename: f.Name, Title: f.Title, Channel: cmd.ChannelID, ThreadTimestamp: ts})
	if err != nil {
		full.Problem = slackProblem(err, "files:write")
		log.Warn("full answer's CSV not attached", "ts", ts, "error", err)
		text, blocks := formatting.FullAnswerFailed(cmd.UserID, cmd.Text, f.Summary, full.Problem)
		if _, _, _, err := b.api.UpdateMessageContext(ctx, cmd.ChannelID, ts, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...)); err != nil {
			log.Warn("could not say on the channel message that its CSV is missing", "error", err)
		}
		b.fullOutcome("upload_failed")
		return full
	}
	full.Channel = cmd.ChannelID
	log.Info("audit: full answer posted", "ts", ts, "file", f.Name)
	b.fullOutcome("posted")
	return full
}

func (b *Bot) fullOutcome(o string) {
	if b.OnFullAnswer != nil {
		b.OnFullAnswer(o)
	}
}

// direct reports whether a command came from a direct message (or a
// group DM), where the bot posts nothing visible.
func direct(cmd slack.SlashCommand) bool {
	return strings.HasPrefix(cmd.ChannelID, "D") || cmd.ChannelName == "directmessage" || strings.HasPrefix(cmd.ChannelName, "mpdm-")
}

func notMember(err error) bool {
	var se slack.SlackErrorResponse
	return errors.As(err, &se) && (se.Err == "not_in_channel" || se.Err == "channel_not_found")
}

// slackProblem says why a post or upload failed, for the analyst.
func slackProblem(err error, scope string) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "not_in_channel", "channel_not_found":
			return "mcasbot is not in this channel. Invite it (/invite @mcasbot) and ask again to get the CSV."
		case "missing_scope", "not_allowed_token_type":
			return se.Err + ": the app needs the " + scope + " scope"
		case "is_archived":
			return "this channel is archived"
		}
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return "Slack is rate-limiting mcasbot; ask again in a minute"
	}
	return "Slack answered: " + err.Error()
}

// fitsAck reports whether msg can be the slash command's ack itself.
func fitsAck(msg *slack.WebhookMessage) bool {
	js, err := json.Marshal(msg)
	return err == nil && len(js) < formatting.MaxAckBytes
}
