package defender

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/source"
)

// Classifications are Defender XDR's words for the Close… form's three.
var Classifications = map[source.Classification]string{
	source.Benign:        "informationalExpectedActivity",
	source.FalsePositive: "falsePositive",
	source.TruePositive:  "truePositive",
}

// Determinations are the determination each reason of the Close… form
// (source.Reasons(source.Graph, …)) sends, per classification, as
// Defender XDR pairs them.
var Determinations = map[source.Classification]map[string]string{
	source.Benign: {
		"security_testing":             "securityTesting",
		"line_of_business_application": "lineOfBusinessApplication",
		"confirmed_activity":           "confirmedActivity",
		source.ReasonOther:             "other",
	},
	source.FalsePositive: {
		"not_malicious":               "notMalicious",
		"not_enough_data_to_validate": "notEnoughDataToValidate",
		source.ReasonOther:            "other",
	},
	source.TruePositive: {
		"multi_staged_attack":     "multiStagedAttack",
		"malicious_user_activity": "maliciousUserActivity",
		"compromised_account":     "compromisedAccount",
		"malware":                 "malware",
		"phishing":                "phishing",
		"unwanted_software":       "unwantedSoftware",
		source.ReasonOther:        "other",
	},
}

// Update is the PATCH body of a close.
type Update struct {
	Status         string `json:"status"`
	Classification string `json:"classification"`
	Determination  string `json:"determination,omitempty"`
}

// Comment is the comment POST's body: one object, not an array (an array
// gets 400 "Empty Payload").
type Comment struct {
	Type    string `json:"@odata.type"`
	Comment string `json:"comment"`
}

// CloseBodies are the PATCH and comment bodies of a close as c with reason.
func CloseBodies(kind source.Classification, reason, comment string) (Update, *Comment, error) {
	class, ok := Classifications[kind]
	if !ok {
		return Update{}, nil, fmt.Errorf("unknown classification %q", kind)
	}
	u := Update{Status: "resolved", Classification: class}
	if reason != "" {
		d, ok := Determinations[kind][reason]
		if !ok {
			return Update{}, nil, fmt.Errorf("%q is not a reason Defender XDR takes for %s", reason, kind.Label())
		}
		u.Determination = d
	}
	if comment == "" {
		return u, nil, nil
	}
	return u, &Comment{Type: "microsoft.graph.security.alertComment", Comment: comment}, nil
}

// Close resolves each alert with a PATCH of its status, classification and
// determination, then adds the comment. An alert is read first: one Graph
// does not know, or already resolved, comes back in NotFound and is never
// resolved again. A close is done once its PATCH succeeded; a comment that
// fails is logged and does not undo it.
//
// Graph takes one alert per PATCH. When a call fails before any alert was
// resolved, Close returns the error (nothing changed). When it fails after
// some were, the alerts not resolved come back in NotFound with no error,
// so the caller re-reads them rather than taking the lot for failed.
func (c *Client) Close(ctx context.Context, req source.CloseRequest) (source.CloseResult, error) {
	op := "close alert as " + req.Classification.Label()
	update, comment, err := CloseBodies(req.Classification, req.Reason, req.Comment)
	if err != nil {
		return source.CloseResult{}, fmt.Errorf("graph %s: %w", c.name, err)
	}
	for _, id := range req.IDs {
		if !source.ValidID(id) {
			return source.CloseResult{}, fmt.Errorf("graph %s: invalid alert id %q", c.name, id)
		}
	}
	patch, _ := json.Marshal(update)
	var res source.CloseResult
	log := httpx.LoggerFrom(ctx, c.logger)
	for i, id := range req.IDs {
		done, err := c.closeOne(ctx, op, id, patch, comment)
		switch {
		case err == nil && done:
			res.Closed++
		case err == nil:
			res.NotFound = append(res.NotFound, id)
		case res.Closed == 0:
			return res, err
		default:
			log.Warn("graph close stopped part way: the alerts left are re-read", "closed", res.Closed, "left", len(req.IDs)-i, "error", err)
			res.NotFound = append(res.NotFound, req.IDs[i:]...)
			return res, nil
		}
	}
	return res, nil
}

// closeOne resolves one alert: false without error when Graph does not
// know it or has it resolved already.
func (c *Client) closeOne(ctx context.Context, op, id string, patch []byte, comment *Comment) (bool, error) {
	w, err := c.get(ctx, op, id)
	if httpx.KindOf(err) == httpx.KindNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if enum(w.Status) == "resolved" {
		return false, nil
	}
	target := c.endpoint("", "security", "alerts_v2", id)
	_, err = c.do(ctx, c.caller, op, PermWrite, call{method: http.MethodPatch, target: target, body: patch})
	if httpx.KindOf(err) == httpx.KindNotFound {
		return false, nil // deleted between the read and the PATCH
	}
	if err != nil {
		return false, err
	}
	if comment != nil {
		body, _ := json.Marshal(comment)
		if _, err := c.do(ctx, c.comments, "comment on alert", PermWrite, call{method: http.MethodPost, target: target.JoinPath("comments"), body: body}); err != nil {
			httpx.LoggerFrom(ctx, c.logger).Warn("alert resolved in Defender XDR, but its comment could not be added", "alert", id, "error", err)
		}
	}
	return true, nil
}
