package defender

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/soc/mcasbot/source"
)

// wireAlert is an alerts_v2 item. Enums may be JSON null; ids and numbers
// are read loosely.
type wireAlert struct {
	ID                json.RawMessage   `json:"id"`
	ProviderAlertID   json.RawMessage   `json:"providerAlertId"`
	IncidentID        json.RawMessage   `json:"incidentId"`
	AlertWebURL       *string           `json:"alertWebUrl"`
	IncidentWebURL    *string           `json:"incidentWebUrl"`
	Title             *string           `json:"title"`
	Description       *string           `json:"description"`
	Category          *string           `json:"category"`
	Severity          *string           `json:"severity"`
	Status            *string           `json:"status"`
	Classification    *string           `json:"classification"`
	Determination     *string           `json:"determination"`
	ServiceSource     *string           `json:"serviceSource"`
	AssignedTo        *string           `json:"assignedTo"`
	CreatedDateTime   *string           `json:"createdDateTime"`
	ResolvedDateTime  *string           `json:"resolvedDateTime"`
	MitreTechniques   []json.RawMessage `json:"mitreTechniques"`
	Evidence          []json.RawMessage `json:"evidence"`
	RecommendedAction *string           `json:"recommendedActions"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// enum is an enum member, "" for null and for the unknown sentinels.
func enum(p *string) string {
	switch v := strings.TrimSpace(str(p)); v {
	case "unknown", "unknownFutureValue":
		return ""
	default:
		return v
	}
}

// graphTime reads a DateTimeOffset (7 fractional digits, or none); zero
// when absent or unreadable.
func graphTime(p *string) time.Time {
	s := strings.TrimSpace(str(p))
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// severityOf reads Graph's severity; unknown or null reads as low, as an
// MCAS alert without one does.
func severityOf(s string) source.Severity {
	switch strings.ToLower(s) {
	case "informational":
		return source.SeverityInformational
	case "medium":
		return source.SeverityMedium
	case "high":
		return source.SeverityHigh
	}
	return source.SeverityLow
}

// resolutionOf maps Graph's state onto the resolution codes the store,
// closing and the report use: open until resolved; resolved with a
// classification is that classification's close.
func resolutionOf(status, classification string) int {
	if status != "resolved" {
		return source.ResolutionOpen
	}
	switch classification {
	case "truePositive":
		return source.ResolutionTruePositive
	case "falsePositive":
		return source.ResolutionFalsePositive
	case "informationalExpectedActivity":
		return source.ResolutionBenign
	}
	return source.ResolutionResolved
}

func (w wireAlert) alert(tenant string) (source.Alert, error) {
	id := looseString(w.ID)
	if id == "" {
		return source.Alert{}, fmt.Errorf("alert without id")
	}
	status, class := enum(w.Status), enum(w.Classification)
	created := graphTime(w.CreatedDateTime)
	if created.IsZero() {
		return source.Alert{}, fmt.Errorf("alert %s: createdDateTime %q", id, str(w.CreatedDateTime))
	}
	a := source.Alert{
		ID: id, Tenant: tenant, Time: created, Title: str(w.Title), Description: str(w.Description),
		Severity: severityOf(enum(w.Severity)), Resolution: resolutionOf(status, class), URL: str(w.AlertWebURL),
		ResolveTime: graphTime(w.ResolvedDateTime),
		Graph: &source.GraphState{Status: status, Classification: class, Determination: enum(w.Determination),
			AssignedTo: str(w.AssignedTo), IncidentID: looseString(w.IncidentID), IncidentURL: str(w.IncidentWebURL)},
	}
	if src := enum(w.ServiceSource); src != DefaultServiceSource {
		a.Product = src
	}
	if status == "resolved" {
		// Graph keeps no "resolved by": who it is assigned to is the
		// nearest it tells.
		a.HandledBy = str(w.AssignedTo)
	}
	if c := strings.TrimSpace(str(w.Category)); c != "" {
		a.Intent = append(a.Intent, c)
	}
	for _, t := range w.MitreTechniques {
		if s := looseString(t); s != "" {
			a.Intent = append(a.Intent, s)
		}
	}
	for _, raw := range w.Evidence {
		ents, text := decodeEvidence(raw)
		a.Entities = append(a.Entities, ents...)
		if text != "" {
			a.Evidence = append(a.Evidence, text)
		}
	}
	a.Entities = dedupe(a.Entities)
	return a, nil
}

// dedupe drops entities already listed (Graph lists a user in several
// evidence items).
func dedupe(es []source.Entity) []source.Entity {
	seen := map[string]bool{}
	out := es[:0]
	for _, e := range es {
		k := e.Type + "\x00" + strings.ToLower(e.ID+"\x00"+e.Label+"\x00"+e.UPN)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, e)
	}
	return out
}

// looseString reads an id Graph may send as a string or a number.
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
	return ""
}
