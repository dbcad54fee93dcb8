package defender

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/soc/mcasbot/integrations/defender/defenderfake"
)

// FuzzDecodeAlert feeds alerts_v2 objects, hostile or broken, to the
// decoder: it never panics, and an alert it accepts has an id, a time and
// no blank entity, whatever Graph (or something posing as it) sends.
func FuzzDecodeAlert(f *testing.F) {
	now := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	for _, a := range defenderfake.Generate("contoso", "dir", 3, now, time.Hour, 7) {
		b, _ := json.Marshal(a)
		f.Add(b)
	}
	for _, s := range []string{
		`{"id":1,"createdDateTime":"2026-11-24T08:00:00Z","evidence":[{"@odata.type":"#microsoft.graph.security.unknownEvidence"}]}`,
		`{"id":"a","createdDateTime":"2026-11-24T08:00:00.1234567Z","severity":null,"status":null,"evidence":[null,1,"x",{"@odata.type":null}]}`,
		`{"id":"a","createdDateTime":"yesterday"}`,
		`{"id":{"x":1},"createdDateTime":"2026-11-24T08:00:00Z","mitreTechniques":[1,null,{"a":2}],"incidentId":42}`,
		`{"id":"a","createdDateTime":"2026-11-24T08:00:00Z","evidence":[{"@odata.type":"#microsoft.graph.security.userEvidence","userAccount":null},{"@odata.type":"#microsoft.graph.security.ipEvidence","ipAddress":"not an ip"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var w wireAlert
		if json.Unmarshal(raw, &w) != nil {
			return
		}
		a, err := w.alert("contoso")
		if err != nil {
			return
		}
		if a.ID == "" || a.Time.IsZero() || a.Tenant != "contoso" {
			t.Fatalf("accepted an alert without id or time: %+v", a)
		}
		for _, e := range a.Entities {
			if e.Type == "" || e.ID+e.Label+e.UPN+e.Email == "" {
				t.Fatalf("a blank entity (an empty row in the card): %+v", e)
			}
		}
		if utf8.ValidString(string(raw)) && !utf8.ValidString(a.Title+a.Description) {
			t.Fatalf("valid input decoded to invalid UTF-8")
		}
	})
}
