package mcas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/source"
)

// reasonIDs are MCAS's documented reasonIds of the Close… form's reasons
// (source.Reasons(source.MCAS, …)); true positive takes none.
var reasonIDs = map[source.Classification]map[string]int{
	source.Benign: {
		"actual_severity_lower":   2,
		source.ReasonOther:        4,
		"confirmed_with_end_user": 5,
		"triggered_by_test":       6,
	},
	source.FalsePositive: {
		"not_of_interest":         0,
		"too_many_similar_alerts": 1,
		"not_accurate":            3,
		source.ReasonOther:        4,
	},
}

// Reasons are the reasons MCAS takes for closing an alert as c.
func (c *Client) Reasons(kind source.Classification) []source.Reason {
	return source.Reasons(source.MCAS, kind)
}

type closeRequest struct {
	Filters      map[string]any `json:"filters"`
	Comment      string         `json:"comment,omitempty"`
	ReasonID     *int           `json:"reasonId,omitempty"`
	SendFeedback bool           `json:"sendFeedback"`
}

// Close closes req.IDs as req.Classification with the reason's reasonId
// and the comment. Ids MCAS does not know or that are already closed come
// back in NotFound with HTTP 200. Closing twice is harmless (the second
// answers NotFound), so 429 and 5xx are retried like every other call.
func (c *Client) Close(ctx context.Context, req source.CloseRequest) (source.CloseResult, error) {
	kind, ids := req.Classification, req.IDs
	op := "close alerts as " + kind.Label()
	if !kind.Valid() {
		return source.CloseResult{}, fmt.Errorf("mcas %s: unknown classification %q", c.name, kind)
	}
	if len(ids) == 0 {
		return source.CloseResult{}, nil
	}
	for _, id := range ids {
		if !source.ValidID(id) {
			return source.CloseResult{}, fmt.Errorf("mcas %s: invalid alert id %q", c.name, id)
		}
	}
	body := closeRequest{Filters: map[string]any{"id": map[string]any{"eq": ids}}, Comment: req.Comment}
	if req.Reason != "" {
		id, ok := reasonIDs[kind][req.Reason]
		if !ok {
			return source.CloseResult{}, fmt.Errorf("mcas %s: %q is not a reason MCAS takes for %s", c.name, req.Reason, kind.Label())
		}
		body.ReasonID = &id
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return source.CloseResult{}, err
	}
	resp, err := c.caller.Do(ctx, op, c.request(http.MethodPost, "/api/v1/alerts/close_"+string(kind)+"/", raw))
	var e *httpx.Error
	if errors.As(err, &e) && e.Kind == httpx.KindForbidden {
		// MCAS's own words do not say what is missing.
		c := *e
		c.Detail = strings.TrimSpace(c.Detail + " (the API token's user, or the Entra ID application, needs the Investigation.manage permission)")
		return source.CloseResult{}, &c
	}
	if err != nil {
		return source.CloseResult{}, err
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return source.CloseResult{}, c.caller.Malformed(op, err)
	}
	var res source.CloseResult
	if v, ok := out["closed_"+string(kind)]; ok {
		if err := json.Unmarshal(v, &res.Closed); err != nil {
			return source.CloseResult{}, c.caller.Malformed(op, err)
		}
	}
	if v, ok := out["alertsNotFound"]; ok {
		var nf []json.RawMessage
		if err := json.Unmarshal(v, &nf); err != nil {
			return source.CloseResult{}, c.caller.Malformed(op, err)
		}
		for _, x := range nf {
			res.NotFound = append(res.NotFound, looseString(x))
		}
	}
	return res, nil
}
