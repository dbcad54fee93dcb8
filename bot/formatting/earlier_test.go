package formatting_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/soc/mcasbot/bot/formatting"
)

// An entry that repeats a done issue links it, with Jira's words escaped,
// and keeps the link through a redraw from its stored view.
func TestAnEntryLinksTheDoneIssueItRepeats(t *testing.T) {
	as := alerts(2)
	key := formatting.AlertKeyOf(as[0].Tenant, as[0].ID)
	in := formatting.DigestInput{Alerts: as, Earlier: map[string]formatting.Earlier{
		key: {Key: "SEC-12", URL: "https://jira.example/browse/SEC-12", Status: "Done <!channel>", Resolution: "<https://evil|Fixed>"},
	}}
	chunks := formatting.Digest(in)
	text := string(mustJSON(t, chunks[0].Msg))
	want := `:leftwards_arrow_with_hook: earlier: \u003chttps://jira.example/browse/SEC-12|SEC-12\u003e, Done \u0026lt;!channel\u0026gt;: \u0026lt;https://evil|Fixed\u0026gt; — a new issue follows these repeats`
	if !strings.Contains(text, want) {
		t.Fatalf("entry lacks %s:\n%s", want, text)
	}
	if n := strings.Count(text, "earlier: "); n != 1 {
		t.Fatalf("%d entries link the done issue, want the one that repeats it", n)
	}
	redrawn := string(mustJSON(t, formatting.RenderDigest(chunks[0].View, nil, "v2")))
	if !strings.Contains(redrawn, want) {
		t.Fatal("a redraw lost the link to the done issue")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
