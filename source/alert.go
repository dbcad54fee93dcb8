package source

import "time"

// Alert is one alert. Text fields are as the API sent them: hostile,
// possibly HTML; formatters clean them.
type Alert struct {
	ID          string
	Tenant      string
	Time        time.Time // UTC
	Title       string
	Description string
	Severity    Severity
	Resolution  int // ResolutionOpen … ResolutionTruePositive
	Status      int // MCAS statusValue: 0 unread, 1 read, 2 archived
	URL         string
	ThreatScore int
	Entities    []Entity
	Evidence    []string
	// HandledBy and ResolveTime say who resolved the alert and when (set
	// once it is closed).
	HandledBy   string
	ResolveTime time.Time
	Stories     []string
	Intent      []string
	// Product is the Defender product that raised the alert when a tenant
	// reads more than Defender for Cloud Apps (Graph's serviceSource, e.g.
	// microsoftDefenderForIdentity); empty for Defender for Cloud Apps.
	Product string
	// Graph is the alert's state in Defender XDR, for tenants read through
	// Microsoft Graph's security API; nil for MCAS tenants.
	Graph *GraphState
}

// GraphState is an alert's state in Defender XDR, in Graph's own words
// (empty where Graph sent null).
type GraphState struct {
	Status         string // new, inProgress, resolved, unknown
	Classification string // falsePositive, truePositive, informationalExpectedActivity, unknown
	Determination  string // e.g. securityTesting, compromisedAccount
	AssignedTo     string
	IncidentID     string
	IncidentURL    string
}

// Open reports whether the alert is unresolved.
func (a Alert) Open() bool { return a.Resolution == ResolutionOpen }

// Entity is one thing an alert refers to.
type Entity struct {
	Type       string // account, user, ip, country, service, policyRule, device, file, …
	ID         string
	Label      string
	UPN        string // accounts: pa
	Email      string // accounts: em
	PolicyType string // policyRule: policyType
}

// User is the affected user: the first account's UPN or e-mail, else the
// first user entity.
func (a Alert) User() string {
	for _, e := range a.Entities {
		if e.Type == "account" {
			for _, v := range []string{e.UPN, e.Email, e.Label} {
				if v != "" {
					return v
				}
			}
		}
	}
	for _, e := range a.Entities {
		if e.Type == "user" {
			if e.ID != "" {
				return e.ID
			}
			return e.Label
		}
	}
	return ""
}

// IPs are the alert's IP entities, in order, without repeats.
func (a Alert) IPs() []string { return a.entityValues("ip") }

// Country is the first country entity.
func (a Alert) Country() string {
	if v := a.entityValues("country"); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Policy is the policy that raised the alert, if named.
func (a Alert) Policy() string {
	for _, e := range a.Entities {
		if e.Type == "policyRule" {
			return e.Label
		}
	}
	return ""
}

// Services are the cloud apps the alert names.
func (a Alert) Services() []string {
	var out []string
	for _, e := range a.Entities {
		if e.Type == "service" && e.Label != "" {
			out = append(out, e.Label)
		}
	}
	return out
}

func (a Alert) entityValues(typ string) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range a.Entities {
		if e.Type != typ {
			continue
		}
		v := e.ID
		if v == "" {
			v = e.Label
		}
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// Activity is one activity record: something a user did from an address.
type Activity struct {
	ID          string
	Tenant      string
	Time        time.Time // UTC
	App         string
	Description string
	Severity    string
	IP          string
	User        string
	City        string
	Country     string
}
