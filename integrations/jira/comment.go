package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"unicode/utf8"
)

// MaxCommentChars is Jira's limit on a comment body.
const MaxCommentChars = 32767

// Comment adds a comment (wiki markup, escaped by the caller) to an issue
// and returns its id. Like a create, a comment whose answer was lost may
// have been added, so only 429 and 503 are retried.
func (c *Client) Comment(ctx context.Context, key, body string) (string, error) {
	const op = "add comment"
	if body == "" {
		return "", errors.New("jira: empty comment")
	}
	if n := utf8.RuneCountInString(body); n > MaxCommentChars {
		return "", fmt.Errorf("jira: comment of %d characters, limit %d", n, MaxCommentChars)
	}
	raw, err := json.Marshal(map[string]string{"body": body})
	if err != nil {
		return "", err
	}
	resp, err := c.create.Do(ctx, op, c.request(http.MethodPost, "/rest/api/2/issue/"+url.PathEscape(key)+"/comment", nil, raw))
	if err != nil {
		return "", err
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil || out.ID == "" {
		if err == nil {
			err = errors.New("no id in response")
		}
		return "", c.caller.Malformed(op, err)
	}
	return out.ID, nil
}
