package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
)

func TestExecPrintsTheCard(t *testing.T) {
	srv, env := fakeTenant(t)
	a := mcasfake.Generate("contoso", 1, time.Now().UTC(), time.Hour, 99)[0]
	srv.AddAlerts(a)
	code, out, errs := runCLI(env, "exec", "alert "+a.ID)
	if code != exitOK || !strings.Contains(out, "Alert ID:    "+a.ID) || !strings.Contains(out, "Status:      Open") || !strings.Contains(out, "Portal:      https://") {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	code, out, _ = runCLI(env, "exec", "--json", "alert", a.ID)
	var msg struct {
		Blocks []struct {
			BlockID string `json:"block_id"`
		} `json:"blocks"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &msg) != nil || msg.Blocks[0].BlockID != "card-title" {
		t.Fatalf("exit %d: %s", code, out)
	}
	// A malformed id is refused before any call.
	before := len(srv.Requests())
	if code, _, errs := runCLI(env, "exec", "alert a/b"); code != exitUsage || !strings.Contains(errs, "is not an alert id") || len(srv.Requests()) != before {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if code, out, _ := runCLI(env, "exec", "alert deadbeef"); code != exitOK || !strings.Contains(out, "No alert deadbeef in contoso.") {
		t.Fatalf("exit %d: %s", code, out)
	}
}
