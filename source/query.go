package source

import (
	"fmt"
	"strings"
	"time"
)

// Severity of an alert. The values are MCAS's numbers, which the store and
// older messages keep.
type Severity int

const (
	SeverityLow           Severity = 0
	SeverityMedium        Severity = 1
	SeverityHigh          Severity = 2
	SeverityInformational Severity = 3
)

func (s Severity) String() string {
	switch s {
	case SeverityLow:
		return "low"
	case SeverityMedium:
		return "medium"
	case SeverityHigh:
		return "high"
	case SeverityInformational:
		return "informational"
	}
	return fmt.Sprintf("severity %d", int(s))
}

// Rank orders severities from informational (0) to high (3).
func (s Severity) Rank() int {
	switch s {
	case SeverityInformational:
		return 0
	case SeverityLow:
		return 1
	case SeverityMedium:
		return 2
	case SeverityHigh:
		return 3
	}
	return -1
}

// ParseSeverity reads "low", "medium", "high" or "informational".
func ParseSeverity(s string) (Severity, bool) {
	switch strings.ToLower(s) {
	case "low":
		return SeverityLow, true
	case "medium", "med":
		return SeverityMedium, true
	case "high":
		return SeverityHigh, true
	case "informational", "info":
		return SeverityInformational, true
	}
	return 0, false
}

// Status filters alerts by resolution.
type Status int

const (
	StatusAny Status = iota
	StatusOpen
	StatusClosed
)

// AlertQuery selects alerts. Zero values mean "no filter".
type AlertQuery struct {
	Limit      int        // how many alerts at most (default 20)
	Severities []Severity // any of these
	Status     Status
	Since      time.Time // alerts at or after
	Until      time.Time // alerts at or before
	User       string    // the affected user (UPN)
	// Oldest pages oldest first (for cursors that must not skip alerts
	// when a run is capped); default newest first.
	Oldest bool
}

// AlertList is one query's answer.
type AlertList struct {
	Alerts []Alert
	More   bool // the tenant has more alerts than were fetched
	Calls  int  // HTTP requests it took
}

// ActivityQuery selects activities.
type ActivityQuery struct {
	Limit int
	IP    string
	User  string
	Since time.Time
}

// ActivityList is one query's answer.
type ActivityList struct {
	Activities []Activity
	More       bool
	Calls      int
}

// ValidID accepts what an alert id can be: 1–64 characters of
// [A-Za-z0-9_-]. Anything else never reaches a URL path.
func ValidID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
