package source

import "fmt"

// Resolution codes (MCAS's resolutionStatusValue; Graph's resolved alerts
// map onto them by classification).
const (
	ResolutionOpen          = 0
	ResolutionDismissed     = 1
	ResolutionResolved      = 2
	ResolutionFalsePositive = 3
	ResolutionBenign        = 4
	ResolutionTruePositive  = 5
)

// ResolutionName says what a resolution code means, in words.
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

// Resolution is the resolution code an alert gets when closed as c.
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

// ClassificationOf is the classification of a resolution code, if it is
// one of the three.
func ClassificationOf(resolution int) (Classification, bool) {
	for _, c := range Classifications {
		if c.Resolution() == resolution {
			return c, true
		}
	}
	return "", false
}

// Reason is one reason for closing an alert, as the Close… form offers it.
type Reason struct {
	Code  string // stable name, e.g. "confirmed_with_end_user"
	Label string // as analysts read it
}

// ReasonOther is the code of the "other" reason, which needs a comment.
const ReasonOther = "other"

// Find is the reason of reasons with code.
func Find(reasons []Reason, code string) (Reason, bool) {
	for _, r := range reasons {
		if r.Code == code {
			return r, true
		}
	}
	return Reason{}, false
}

// ReasonLabel is how a stored reason code reads, whichever API's form it
// came from ("" when the code is unknown).
func ReasonLabel(c Classification, code string) string {
	for _, src := range []string{MCAS, Graph} {
		if r, ok := Find(Reasons(src, c), code); ok {
			return r.Label
		}
	}
	return ""
}

// Reasons are the reasons the API src takes for closing an alert as c,
// in the order the Close… form lists them.
func Reasons(src string, c Classification) []Reason { return reasons[src][c] }

// reasons follow each API: MCAS's documented reasonIds (none for true
// positive), and Defender XDR's determinations of each classification.
var reasons = map[string]map[Classification][]Reason{
	MCAS: {
		Benign: {
			{"actual_severity_lower", "actual severity is lower"},
			{ReasonOther, "other"},
			{"confirmed_with_end_user", "confirmed with end user"},
			{"triggered_by_test", "triggered by test"},
		},
		FalsePositive: {
			{"not_of_interest", "not of interest"},
			{"too_many_similar_alerts", "too many similar alerts"},
			{"not_accurate", "alert is not accurate"},
			{ReasonOther, "other"},
		},
	},
	Graph: {
		Benign: {
			{"security_testing", "security testing"},
			{"line_of_business_application", "line-of-business application"},
			{"confirmed_activity", "confirmed activity"},
			{ReasonOther, "other"},
		},
		FalsePositive: {
			{"not_malicious", "not malicious"},
			{"not_enough_data_to_validate", "not enough data to validate"},
			{ReasonOther, "other"},
		},
		TruePositive: {
			{"multi_staged_attack", "multi-staged attack"},
			{"malicious_user_activity", "malicious user activity"},
			{"compromised_account", "compromised account"},
			{"malware", "malware"},
			{"phishing", "phishing"},
			{"unwanted_software", "unwanted software"},
			{ReasonOther, "other"},
		},
	},
}

// CloseRequest closes alerts of one tenant.
type CloseRequest struct {
	IDs            []string
	Classification Classification
	Reason         string // a code of the tenant's Reasons(Classification); "" when it has none
	Comment        string
}

// CloseResult is the API's answer to a close.
type CloseResult struct {
	Closed   int
	NotFound []string // unknown or already closed
}
