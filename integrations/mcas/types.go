package mcas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/soc/mcasbot/source"
)

type wireAlert struct {
	ID                    json.RawMessage   `json:"_id"`
	Timestamp             json.Number       `json:"timestamp"`
	Title                 string            `json:"title"`
	Description           string            `json:"description"`
	SeverityValue         *int              `json:"severityValue"`
	ResolutionStatusValue int               `json:"resolutionStatusValue"`
	StatusValue           int               `json:"statusValue"`
	HandledByUser         json.RawMessage   `json:"handledByUser"`
	ResolveTime           json.RawMessage   `json:"resolveTime"`
	Stories               json.RawMessage   `json:"stories"`
	Intent                json.RawMessage   `json:"intent"`
	URL                   string            `json:"URL"`
	ThreatScore           json.Number       `json:"threatScore"`
	Entities              []wireEntity      `json:"entities"`
	Evidence              []json.RawMessage `json:"evidence"`
}

type wireEntity struct {
	Type       string          `json:"type"`
	ID         json.RawMessage `json:"id"`
	Label      string          `json:"label"`
	PA         string          `json:"pa"`
	EM         string          `json:"em"`
	PolicyType string          `json:"policyType"`
}

func (w wireAlert) alert(tenant string) (source.Alert, error) {
	id := looseString(w.ID)
	if id == "" {
		return source.Alert{}, fmt.Errorf("alert without _id")
	}
	ms, err := w.Timestamp.Int64()
	if err != nil {
		f, ferr := w.Timestamp.Float64()
		if ferr != nil {
			return source.Alert{}, fmt.Errorf("alert %s: timestamp %q", id, w.Timestamp)
		}
		ms = int64(f)
	}
	sev := source.SeverityLow
	if w.SeverityValue != nil {
		sev = source.Severity(*w.SeverityValue)
	}
	score, _ := w.ThreatScore.Int64()
	a := source.Alert{
		ID: id, Tenant: tenant, Time: time.UnixMilli(ms).UTC(), Title: w.Title, Description: w.Description,
		Severity: sev, Resolution: w.ResolutionStatusValue, Status: w.StatusValue, URL: w.URL, ThreatScore: int(score),
		HandledBy: looseString(w.HandledByUser), ResolveTime: isoTime(looseString(w.ResolveTime)),
		Stories: looseList(w.Stories), Intent: looseList(w.Intent),
	}
	for _, e := range w.Entities {
		a.Entities = append(a.Entities, source.Entity{Type: e.Type, ID: looseString(e.ID), Label: e.Label, UPN: e.PA, Email: e.EM, PolicyType: e.PolicyType})
	}
	for _, ev := range w.Evidence {
		if s := evidenceText(ev); s != "" {
			a.Evidence = append(a.Evidence, s)
		}
	}
	return a, nil
}

// evidenceText reads an evidence item: a string or an object with a text field.
func evidenceText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj map[string]any
	if json.Unmarshal(raw, &obj) == nil {
		for _, k := range []string{"text", "description", "title", "name"} {
			if v, ok := obj[k].(string); ok && v != "" {
				return v
			}
		}
	}
	return ""
}

// isoTime reads resolveTime, an ISO 8601 string with or without a zone
// (UTC when none); zero when absent or unreadable.
func isoTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// looseList reads a list whose items may be strings, numbers or objects
// with a name (stories, intent); a single value is a list of one.
func looseList(raw json.RawMessage) []string {
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		items = []json.RawMessage{raw}
	}
	var out []string
	for _, it := range items {
		var obj map[string]json.RawMessage
		if json.Unmarshal(it, &obj) == nil {
			for _, k := range []string{"name", "title", "displayName", "id"} {
				if v := looseString(obj[k]); v != "" {
					out = append(out, v)
					break
				}
			}
			continue
		}
		if v := looseString(it); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// looseString reads ids that MCAS sends as strings, numbers or objects.
func looseString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	// Entity pks are objects like {"id":…,"saas":…,"inst":…}: keep the id.
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil {
		if v, ok := obj["id"]; ok {
			return looseString(v)
		}
	}
	return strings.TrimSpace(string(raw))
}

type wireActivity struct {
	ID          json.RawMessage `json:"_id"`
	Timestamp   json.Number     `json:"timestamp"`
	AppName     string          `json:"appName"`
	Description string          `json:"description"`
	Severity    string          `json:"severity"`
	Device      struct {
		ClientIP string `json:"clientIP"`
	} `json:"device"`
	Location struct {
		CountryCode string `json:"countryCode"`
		City        string `json:"city"`
	} `json:"location"`
	User struct {
		UserName string `json:"userName"`
	} `json:"user"`
	FailedUserData struct {
		UserName string `json:"userName"`
	} `json:"failedUserData"`
	// rawDataJson is deliberately not decoded: its keys vary by source and
	// can differ only by case.
}

func (w wireActivity) activity(tenant string) source.Activity {
	ms, err := w.Timestamp.Int64()
	if err != nil {
		f, _ := strconv.ParseFloat(w.Timestamp.String(), 64)
		ms = int64(f)
	}
	user := w.User.UserName
	if user == "" {
		user = w.FailedUserData.UserName
	}
	return source.Activity{
		ID: looseString(w.ID), Tenant: tenant, Time: time.UnixMilli(ms).UTC(), App: w.AppName,
		Description: w.Description, Severity: w.Severity, IP: w.Device.ClientIP, User: user,
		City: w.Location.City, Country: w.Location.CountryCode,
	}
}
