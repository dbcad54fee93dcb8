package mcas

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Resolution status codes (resolutionStatusValue).
const (
	ResolutionOpen          = 0
	ResolutionDismissed     = 1
	ResolutionResolved      = 2
	ResolutionFalsePositive = 3
	ResolutionBenign        = 4
	ResolutionTruePositive  = 5
)

// ResolutionName says what a resolutionStatusValue means, in words.
func ResolutionName(v int) string {
	switch v {
	case ResolutionOpen:
		return "open"
	case ResolutionDismissed:
		return "dismissed"
	case ResolutionResolved:
		return "resolved"
	case ResolutionFalsePositive:
		return "false positive"
	case ResolutionBenign:
		return "benign"
	case ResolutionTruePositive:
		return "true positive"
	}
	return fmt.Sprintf("resolution %d", v)
}

// Classification is how an analyst closes an alert.
type Classification string

const (
	Benign        Classification = "benign"
	FalsePositive Classification = "false_positive"
	TruePositive  Classification = "true_positive"
)

// Classifications are every classification, in the order analysts see them.
var Classifications = []Classification{Benign, FalsePositive, TruePositive}

// Reason is one documented reason for closing (reasonId).
type Reason struct {
	Code  string // stable name, e.g. "confirmed_with_end_user"
	ID    int    // MCAS reasonId
	Label string // as analysts read it
}

// ReasonOther is the code of the "other" reason, which needs a comment.
const ReasonOther = "other"

var reasons = map[Classification][]Reason{
	Benign: {
		{"actual_severity_lower", 2, "actual severity is lower"},
		{ReasonOther, 4, "other"},
		{"confirmed_with_end_user", 5, "confirmed with end user"},
		{"triggered_by_test", 6, "triggered by test"},
	},
	FalsePositive: {
		{"not_of_interest", 0, "not of interest"},
		{"too_many_similar_alerts", 1, "too many similar alerts"},
		{"not_accurate", 3, "alert is not accurate"},
		{ReasonOther, 4, "other"},
	},
}

// Valid reports whether c is a known classification.
func (c Classification) Valid() bool {
	return c == Benign || c == FalsePositive || c == TruePositive
}

// Label is the classification as analysts read it ("false positive").
func (c Classification) Label() string {
	switch c {
	case Benign:
		return "benign"
	case FalsePositive:
		return "false positive"
	case TruePositive:
		return "true positive"
	}
	return string(c)
}

// Reasons are the documented reasons of a classification (none for true
// positive).
func (c Classification) Reasons() []Reason { return reasons[c] }

// Reason finds a reason of c by code.
func (c Classification) Reason(code string) (Reason, bool) {
	for _, r := range reasons[c] {
		if r.Code == code {
			return r, true
		}
	}
	return Reason{}, false
}

// Resolution is the resolutionStatusValue an alert gets when closed as c.
func (c Classification) Resolution() int {
	switch c {
	case Benign:
		return ResolutionBenign
	case FalsePositive:
		return ResolutionFalsePositive
	case TruePositive:
		return ResolutionTruePositive
	}
	return -1
}

// ClassificationOf is the classification of a resolutionStatusValue, if it
// is one of the three.
func ClassificationOf(resolution int) (Classification, bool) {
	for _, c := range Classifications {
		if c.Resolution() == resolution {
			return c, true
		}
	}
	return "", false
}

// NoReason closes without a reasonId (true positive).
const NoReason = -1

// CloseResult is MCAS's answer to a close.
type CloseResult struct {
	Closed   int
	NotFound []string // alertsNotFound: unknown or already closed
}

type closeRequest struct {
	Filters      map[string]any `json:"filters"`
	Comment      string         `json:"comment,omitempty"`
	ReasonID     *int           `json:"reasonId,omitempty"`
	SendFeedback bool           `json:"sendFeedback"`
}

// Close closes alerts as c with a reasonId (NoReason for none) and a
// comment. Ids MCAS does not know or that are already closed come back in
// NotFound with HTTP 200. Closing twice is harmless (the second answers
// NotFound), so 429 and 5xx are retried like every other call.
func (c *Client) Close(ctx context.Context, kind Classification, ids []string, reasonID int, comment string) (CloseResult, error) {
	op := "close alerts as " + kind.Label()
	if !kind.Valid() {
		return CloseResult{}, fmt.Errorf("mcas %s: unknown classification %q", c.name, kind)
	}
	if len(ids) == 0 {
		return CloseResult{}, nil
	}
	for _, id := range ids {
		if !ValidID(id) {
			return CloseResult{}, fmt.Errorf("mcas %s: invalid alert id %q", c.name, id)
		}
	}
	body := closeRequest{Filters: map[string]any{"id": map[string]any{"eq": ids}}, Comment: comment}
	if reasonID != NoReason {
		body.ReasonID = &reasonID
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return CloseResult{}, err
	}
	resp, err := c.caller.Do(ctx, op, c.request(http.MethodPost, "/api/v1/alerts/close_"+string(kind)+"/", raw))
	if err != nil {
		return CloseResult{}, err
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return CloseResult{}, c.caller.Malformed(op, err)
	}
	var res CloseResult
	if v, ok := out["closed_"+string(kind)]; ok {
		if err := json.Unmarshal(v, &res.Closed); err != nil {
			return CloseResult{}, c.caller.Malformed(op, err)
		}
	}
	if v, ok := out["alertsNotFound"]; ok {
		var nf []json.RawMessage
		if err := json.Unmarshal(v, &nf); err != nil {
			return CloseResult{}, c.caller.Malformed(op, err)
		}
		for _, x := range nf {
			res.NotFound = append(res.NotFound, looseString(x))
		}
	}
	return res, nil
}
