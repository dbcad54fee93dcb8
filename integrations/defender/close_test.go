package defender_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/defender"
	"github.com/soc/mcasbot/integrations/defender/defenderfake"
	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/source"
)

// The close mapping: every reason the Close… form offers a Graph tenant
// becomes one PATCH (status, classification, determination) and one
// comment POST of one object.
func TestCloseMappingTable(t *testing.T) {
	want := map[source.Classification]map[string]string{
		source.Benign: {"security_testing": "securityTesting", "line_of_business_application": "lineOfBusinessApplication",
			"confirmed_activity": "confirmedActivity", "other": "other"},
		source.FalsePositive: {"not_malicious": "notMalicious", "not_enough_data_to_validate": "notEnoughDataToValidate", "other": "other"},
		source.TruePositive: {"multi_staged_attack": "multiStagedAttack", "malicious_user_activity": "maliciousUserActivity",
			"compromised_account": "compromisedAccount", "malware": "malware", "phishing": "phishing", "unwanted_software": "unwantedSoftware", "other": "other"},
	}
	classes := map[source.Classification]string{source.Benign: "informationalExpectedActivity", source.FalsePositive: "falsePositive", source.TruePositive: "truePositive"}
	w := newWorld(t)
	c, _, _ := w.client(t, fullApp, dirContoso, nil)
	n := 0
	for _, kind := range source.Classifications {
		reasons := c.Reasons(kind)
		if len(reasons) != len(want[kind]) {
			t.Fatalf("%s: the form offers %d reasons, the table maps %d", kind, len(reasons), len(want[kind]))
		}
		for _, r := range reasons {
			n++
			a := defenderfake.Generate("contoso", dirContoso, n, now, time.Hour, uint64(n))[n-1]
			w.contoso.AddAlerts(a)
			comment := "Closed from Slack by Carol: \"checked\" ✓"
			res, err := c.Close(context.Background(), source.CloseRequest{IDs: []string{a.ID}, Classification: kind, Reason: r.Code, Comment: comment})
			if err != nil || res.Closed != 1 || len(res.NotFound) != 0 {
				t.Fatalf("%s/%s: %+v %v", kind, r.Code, res, err)
			}
			var patch, post *defenderfake.Request
			for _, rq := range w.graph.Requests() {
				if strings.HasSuffix(rq.Path, "/"+a.ID) && rq.Method == http.MethodPatch {
					patch = &rq
				}
				if strings.HasSuffix(rq.Path, "/"+a.ID+"/comments") && rq.Method == http.MethodPost {
					post = &rq
				}
			}
			wantPatch := `{"status":"resolved","classification":"` + classes[kind] + `","determination":"` + want[kind][r.Code] + `"}`
			if patch == nil || string(patch.Body) != wantPatch {
				t.Fatalf("%s/%s: PATCH %s, want %s", kind, r.Code, patch.Body, wantPatch)
			}
			wantPost, _ := json.Marshal(map[string]string{"@odata.type": "microsoft.graph.security.alertComment", "comment": comment})
			var got, exp map[string]string
			if post == nil || json.Unmarshal(post.Body, &got) != nil || json.Unmarshal(wantPost, &exp) != nil || len(got) != 2 ||
				got["@odata.type"] != exp["@odata.type"] || got["comment"] != comment || post.Body[0] != '{' {
				t.Fatalf("%s/%s: comment POST %s", kind, r.Code, post.Body)
			}
			fa, _ := w.contoso.Alert(a.ID)
			if *fa.Status != "resolved" || *fa.Classification != classes[kind] || *fa.Determination != want[kind][r.Code] || len(fa.Comments) != 1 {
				t.Fatalf("%s/%s: the alert is %+v", kind, r.Code, fa)
			}
			// Read back, it is the classification closed.
			got2, _ := c.Alert(context.Background(), a.ID)
			if got2.Resolution != kind.Resolution() {
				t.Fatalf("%s reads as resolution %d", kind, got2.Resolution)
			}
		}
	}
	if _, _, err := defender.CloseBodies(source.TruePositive, "not_malicious", ""); err == nil {
		t.Fatal("a false positive's reason is refused for a true positive")
	}
}

func TestCloseNeverResolvesAResolvedAlert(t *testing.T) {
	w := newWorld(t)
	gen := defenderfake.Generate("contoso", dirContoso, 3, now, time.Hour, 1)
	w.contoso.AddAlerts(gen...)
	w.contoso.Resolve(gen[1].ID, "falsePositive", "notMalicious", "dave@contoso.com", now.Add(-time.Hour))
	c, _, _ := w.client(t, fullApp, dirContoso, nil)
	res, err := c.Close(context.Background(), source.CloseRequest{IDs: []string{gen[0].ID, gen[1].ID, "da000000000000000000_9"},
		Classification: source.TruePositive, Reason: "compromised_account", Comment: "c"})
	if err != nil || res.Closed != 1 || strings.Join(res.NotFound, ",") != gen[1].ID+",da000000000000000000_9" {
		t.Fatalf("%+v %v", res, err)
	}
	ups := w.contoso.Updates()
	if len(ups) != 1 || ups[0].ID != gen[0].ID {
		t.Fatalf("updates %+v", ups)
	}
	if a, _ := w.contoso.Alert(gen[1].ID); *a.Classification != "falsePositive" {
		t.Fatal("the resolved alert was resolved again")
	}
}

func TestACommentFailureDoesNotUndoTheClose(t *testing.T) {
	w := newWorld(t)
	gen := defenderfake.Generate("contoso", dirContoso, 1, now, time.Hour, 1)
	w.contoso.AddAlerts(gen...)
	c, logs, _ := w.client(t, fullApp, dirContoso, nil)
	w.graph.Fail(defenderfake.Fault{Path: "/v1.0/security/alerts_v2/" + gen[0].ID + "/comments", Status: 500})
	res, err := c.Close(context.Background(), source.CloseRequest{IDs: []string{gen[0].ID}, Classification: source.Benign, Reason: "confirmed_activity", Comment: "c"})
	if err != nil || res.Closed != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	posts := 0
	for _, r := range w.graph.Requests() {
		if r.Method == http.MethodPost {
			posts++
		}
	}
	if posts != 1 {
		t.Fatalf("a comment that may have been taken was sent %d times", posts)
	}
	if !strings.Contains(logs.String(), "its comment could not be added") {
		t.Fatalf("log:\n%s", logs)
	}
}

// Graph takes one alert per PATCH: a failure part way leaves the rest to
// be re-read, not taken for failed (those closed stay closed).
func TestAFailurePartWayReportsTheRestAsNotFound(t *testing.T) {
	w := newWorld(t)
	gen := defenderfake.Generate("contoso", dirContoso, 3, now, time.Hour, 1)
	w.contoso.AddAlerts(gen...)
	c, _, _ := w.client(t, fullApp, dirContoso, nil)
	for range 3 {
		w.graph.Fail(defenderfake.Fault{Path: "/v1.0/security/alerts_v2/" + gen[1].ID, Status: 502})
	}
	res, err := c.Close(context.Background(), source.CloseRequest{IDs: []string{gen[0].ID, gen[1].ID, gen[2].ID}, Classification: source.Benign, Reason: "other", Comment: "c"})
	if err != nil || res.Closed != 1 || strings.Join(res.NotFound, ",") != gen[1].ID+","+gen[2].ID {
		t.Fatalf("%+v %v", res, err)
	}
	// Nothing closed yet: the failure is the answer.
	for range 3 {
		w.graph.Fail(defenderfake.Fault{Path: "/v1.0/security/alerts_v2/" + gen[1].ID, Status: 502})
	}
	_, err = c.Close(context.Background(), source.CloseRequest{IDs: []string{gen[1].ID, gen[2].ID}, Classification: source.Benign, Reason: "other", Comment: "c"})
	if httpx.KindOf(err) != httpx.KindUnavailable {
		t.Fatalf("%v", err)
	}
}

func TestCloseRefusesWhatGraphWouldNotTake(t *testing.T) {
	w := newWorld(t)
	c, _, _ := w.client(t, fullApp, dirContoso, nil)
	for _, req := range []source.CloseRequest{
		{IDs: []string{"a/../b"}, Classification: source.Benign, Reason: "other", Comment: "c"},
		{IDs: []string{"da1"}, Classification: "maybe"},
		{IDs: []string{"da1"}, Classification: source.Benign, Reason: "too_many_similar_alerts"},
	} {
		if _, err := c.Close(context.Background(), req); err == nil {
			t.Errorf("%+v was taken", req)
		}
	}
	if n := len(w.graph.Requests()); n != 0 {
		t.Fatalf("%d requests reached Graph", n)
	}
}
