package graph_test

import (
	"testing"

	"github.com/soc/mcasbot/integrations/graph"
)

// What an analyst reads of Graph's error bodies, in both Graph clients.
func TestErrorDetail(t *testing.T) {
	for body, want := range map[string]string{
		`{"error":{"code":"Forbidden","message":"Missing role permissions on the request."}}`: "Forbidden: Missing role permissions on the request.",
		`{"error":{"code":"BadRequest"}}`:               "BadRequest",
		`{"error":{"message":"Invalid filter clause"}}`: "Invalid filter clause",
		`{"error":{}}`:                     "",
		`<html>Service Unavailable</html>`: "",
	} {
		if got := graph.ErrorDetail([]byte(body)); got != want {
			t.Errorf("ErrorDetail(%s) = %q, want %q", body, got, want)
		}
	}
}
