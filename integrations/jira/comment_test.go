package jira_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/integrations/jira/jirafake"
)

func TestCommentIsAddedAndListed(t *testing.T) {
	srv, c, slept := setup(t, true)
	created, err := c.Create(context.Background(), issue())
	if err != nil {
		t.Fatal(err)
	}
	srv.Fail(jirafake.Fault{Path: "/rest/api/2/issue/SEC-1/comment", Status: 429, RetryAfter: "1"})
	id, err := c.Comment(context.Background(), created.Key, "Closed from Slack by carol as *benign*")
	if err != nil || id == "" || len(*slept) != 1 {
		t.Fatalf("comment: %q %v (retries %d)", id, err, len(*slept))
	}
	got := srv.Comments("SEC-1")
	if len(got) != 1 || got[0].Body != "Closed from Slack by carol as *benign*" {
		t.Fatalf("comments %+v", got)
	}
	// The fake lists them over REST too.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/rest/api/2/issue/SEC-1/comment", nil)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("soc@example.com:"+apiToken)))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Total    int `json:"total"`
		Comments []struct{ ID, Body string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&list)
	if list.Total != 1 || list.Comments[0].ID != id {
		t.Fatalf("listed %+v", list)
	}
}

func TestCommentErrors(t *testing.T) {
	srv, c, slept := setup(t, true)
	// An unknown issue is a 404 in Jira's words.
	_, err := c.Comment(context.Background(), "SEC-404", "x")
	if httpx.KindOf(err) != httpx.KindNotFound || !strings.Contains(err.Error(), "Issue does not exist") {
		t.Fatalf("unknown issue: %v", err)
	}
	if _, err := c.Comment(context.Background(), "SEC-1", ""); err == nil {
		t.Fatal("empty comment sent")
	}
	if _, err := c.Comment(context.Background(), "SEC-1", strings.Repeat("x", 32768)); err == nil {
		t.Fatal("over-long comment sent")
	}
	// A 502 may have added the comment: not retried.
	_, _ = c.Create(context.Background(), issue())
	srv.Fail(jirafake.Fault{Path: "/rest/api/2/issue/SEC-1/comment", Status: 502})
	if _, err := c.Comment(context.Background(), "SEC-1", "x"); httpx.KindOf(err) != httpx.KindUnavailable || len(*slept) != 0 {
		t.Fatalf("502: %v, retries %d", err, len(*slept))
	}
	// The fake refuses what Jira refuses, whoever sends it.
	for body, want := range map[string]string{`{"body":""}`: "Comment body can not be empty!", `{"body":"` + strings.Repeat("y", 32768) + `"}`: "exceeds the allowed limit"} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/rest/api/2/issue/SEC-1/comment", strings.NewReader(body))
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("soc@example.com:"+apiToken)))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), want) {
			t.Fatalf("fake answered %d %s", resp.StatusCode, b)
		}
	}
	if len(srv.Comments("SEC-1")) != 0 {
		t.Fatal("a refused comment was kept")
	}
}
