package defenderfake

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"
)

// Alert is an alerts_v2 item on the wire. Nullable enums are pointers:
// nil is JSON null.
type Alert struct {
	Type               string         `json:"@odata.type"`
	ID                 string         `json:"id"`
	ProviderAlertID    string         `json:"providerAlertId"`
	IncidentID         string         `json:"incidentId"`
	Status             *string        `json:"status"`
	Severity           *string        `json:"severity"`
	Classification     *string        `json:"classification"`
	Determination      *string        `json:"determination"`
	ServiceSource      *string        `json:"serviceSource"`
	DetectionSource    string         `json:"detectionSource"`
	ProductName        string         `json:"productName"`
	DetectorID         string         `json:"detectorId"`
	TenantID           string         `json:"tenantId"`
	Title              string         `json:"title"`
	Description        string         `json:"description"`
	RecommendedActions string         `json:"recommendedActions"`
	Category           string         `json:"category"`
	AssignedTo         *string        `json:"assignedTo"`
	AlertWebURL        string         `json:"alertWebUrl"`
	IncidentWebURL     string         `json:"incidentWebUrl"`
	MitreTechniques    []string       `json:"mitreTechniques"`
	CreatedDateTime    string         `json:"createdDateTime"`
	LastUpdateDateTime string         `json:"lastUpdateDateTime"`
	ResolvedDateTime   *string        `json:"resolvedDateTime"`
	FirstActivity      string         `json:"firstActivityDateTime"`
	LastActivity       string         `json:"lastActivityDateTime"`
	Comments           []Comment      `json:"comments"`
	Evidence           []Evidence     `json:"evidence"`
	SystemTags         []string       `json:"systemTags"`
	AdditionalData     map[string]any `json:"additionalData,omitempty"`

	created time.Time // CreatedDateTime, read once when added
}

// Comment is an alertComment.
type Comment struct {
	Comment              string `json:"comment"`
	CreatedByDisplayName string `json:"createdByDisplayName"`
	CreatedDateTime      string `json:"createdDateTime"`
}

// Evidence is one evidence item: "@odata.type" and its properties.
type Evidence map[string]any

// Ptr is a pointer to v, for the nullable fields.
func Ptr(v string) *string { return &v }

// Time is how Graph writes a DateTimeOffset: UTC, seven fractional digits.
func Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

// Created is the alert's createdDateTime.
func (a Alert) Created() time.Time {
	if !a.created.IsZero() {
		return a.created
	}
	t, _ := time.Parse(time.RFC3339Nano, a.CreatedDateTime)
	return t.UTC()
}

func evidence(typ string, at time.Time, props map[string]any) Evidence {
	e := Evidence{"@odata.type": "#microsoft.graph.security." + typ, "createdDateTime": Time(at), "verdict": "suspicious",
		"remediationStatus": "none", "remediationStatusDetails": nil, "roles": []string{}, "detailedRoles": []string{}, "tags": []string{}}
	for k, v := range props {
		e[k] = v
	}
	return e
}

// ObjectID is a stable Entra object id for a user or app name.
func ObjectID(name string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(strings.ToLower(name)))
	v := h.Sum64()
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(v>>32), uint16(v>>16), uint16(v)&0xfff, uint16(v>>4)&0xfff, v&0xffffffffffff)
}

// UserEvidence names an account by its UPN (a guest's too).
func UserEvidence(upn string, at time.Time) Evidence {
	local, domain, _ := strings.Cut(upn, "@")
	return evidence("userEvidence", at, map[string]any{"roles": []string{"compromised"}, "userAccount": map[string]any{
		"accountName": local, "domainName": domain, "userSid": nil, "azureAdUserId": ObjectID(upn),
		"userPrincipalName": upn, "displayName": local}})
}

// IPEvidence is an address, where it is.
func IPEvidence(ip, country, city string, at time.Time) Evidence {
	var cc any
	if country != "" {
		cc = country
	}
	return evidence("ipEvidence", at, map[string]any{"ipAddress": ip, "countryLetterCode": cc,
		"location": map[string]any{"city": city, "countryName": nil, "state": nil, "latitude": nil, "longitude": nil}})
}

// CloudAppEvidence is a cloud app, as Defender for Cloud Apps names it.
func CloudAppEvidence(appID int64, name string, at time.Time) Evidence {
	return evidence("cloudApplicationEvidence", at, map[string]any{"appId": appID, "displayName": name, "instanceId": 0, "instanceName": name, "saasAppId": appID})
}

// OAuthAppEvidence is an OAuth application.
func OAuthAppEvidence(name, publisher string, at time.Time) Evidence {
	return evidence("oauthApplicationEvidence", at, map[string]any{"appId": ObjectID("app:" + name), "displayName": name,
		"objectId": ObjectID("sp:" + name), "publisher": publisher})
}

// LogonSessionEvidence is a sign-in session of upn.
func LogonSessionEvidence(upn, browser, os string, at time.Time) Evidence {
	return evidence("cloudLogonSessionEvidence", at, map[string]any{"account": UserEvidence(upn, at), "browser": browser,
		"operatingSystem": os, "protocol": "OAuth2:Authorize", "sessionId": ObjectID("session:" + upn + at.String()),
		"startUtcDateTime": Time(at), "userAgent": "Mozilla/5.0", "deviceName": nil, "previousLogonDateTime": nil})
}

// MailboxEvidence is a user's mailbox.
func MailboxEvidence(upn string, at time.Time) Evidence {
	local, _, _ := strings.Cut(upn, "@")
	return evidence("mailboxEvidence", at, map[string]any{"primaryAddress": upn, "displayName": local,
		"userAccount": UserEvidence(upn, at)["userAccount"]})
}

// URLEvidence is a link.
func URLEvidence(url string, at time.Time) Evidence {
	return evidence("urlEvidence", at, map[string]any{"url": url})
}

// UnknownEvidence is an evidence type a client may not know (Graph has
// some fifty), with whatever properties it has.
func UnknownEvidence(typ string, at time.Time, props map[string]any) Evidence {
	return evidence(typ, at, props)
}

// Event is a CloudAppEvents row of advanced hunting.
type Event struct {
	Timestamp          time.Time
	ReportID           string
	Application        string
	ApplicationID      int64
	ActionType         string
	ActivityType       string
	ObjectName         string
	AccountID          string
	AccountDisplayName string
	AccountObjectID    string
	IPAddress          string
	CountryCode        string
	City               string
	ISP                string
	UserAgent          string
}

// column is the event's value of a CloudAppEvents column.
func (e Event) column(name string) any {
	switch name {
	case "Timestamp":
		return Time(e.Timestamp)
	case "ReportId":
		return e.ReportID
	case "Application":
		return e.Application
	case "ApplicationId":
		return e.ApplicationID
	case "ActionType":
		return e.ActionType
	case "ActivityType":
		return e.ActivityType
	case "ObjectName":
		return e.ObjectName
	case "AccountId":
		return e.AccountID
	case "AccountDisplayName":
		return e.AccountDisplayName
	case "AccountObjectId":
		return e.AccountObjectID
	case "IPAddress":
		return e.IPAddress
	case "CountryCode":
		return e.CountryCode
	case "City":
		return e.City
	case "Isp":
		return e.ISP
	case "UserAgent":
		return e.UserAgent
	}
	return nil
}

// columnTypes are CloudAppEvents' column types, as the schema names them.
var columnTypes = map[string]string{
	"Timestamp": "DateTime", "ReportId": "String", "Application": "String", "ApplicationId": "Int32", "ActionType": "String",
	"ActivityType": "String", "ObjectName": "String", "AccountId": "String", "AccountDisplayName": "String",
	"AccountObjectId": "String", "IPAddress": "String", "CountryCode": "String", "City": "String", "Isp": "String", "UserAgent": "String",
}
