package formatting_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/soc/mcasbot/bot/formatting"
	"github.com/soc/mcasbot/source"
)

func target() formatting.CloseTarget {
	return formatting.CloseTarget{Tenant: "contoso", AlertID: "65a1b2c3d4e5f60718293a4b", Title: "<!channel> Activity from a Tor IP address",
		Channel: "C0DIGEST", TS: "1764000000.000100", ResponseURL: "https://hooks.slack.com/actions/T0SOC/123/abc"}
}

func TestGoldenModal(t *testing.T) {
	for name, kind := range map[string]source.Classification{"modal": "", "modal_benign": source.Benign, "modal_true_positive": source.TruePositive} {
		t.Run(name, func(t *testing.T) {
			v := formatting.CloseModal(target(), kind)
			if err := formatting.CheckModal(v); err != nil {
				t.Fatal(err)
			}
			js, _ := json.MarshalIndent(v, "", "  ")
			golden(t, name+".golden.json", append(js, '\n'))
			assertNoLiveMarkup(t, js)
		})
	}
}

func TestMetadataStaysWithinSlacksLimit(t *testing.T) {
	tg := target()
	tg.Title = strings.Repeat("\"<&>é", 2000)
	tg.ResponseURL = "https://hooks.slack.com/" + strings.Repeat("x", 2990)
	md := tg.Metadata()
	if n := utf8.RuneCountInString(md); n > formatting.MaxMetadata {
		t.Fatalf("private_metadata of %d characters", n)
	}
	back, err := formatting.ParseCloseTarget(md)
	if err != nil || back.Tenant != "contoso" || back.AlertID != tg.AlertID || back.Channel != "C0DIGEST" {
		t.Fatalf("%+v %v", back, err)
	}
}

// submission is a view_submission's view as Slack sends it: the blocks
// shown and the state of every input.
func submission(v slack.ModalViewRequest, kind, reason, comment string) slack.View {
	values := map[string]map[string]slack.BlockAction{
		formatting.BlockClassification: {formatting.ActionClassification: {SelectedOption: slack.OptionBlockObject{Value: kind}}},
		formatting.BlockComment:        {formatting.ActionComment: {Value: comment}},
	}
	for _, b := range v.Blocks.BlockSet {
		if strings.HasPrefix(b.ID(), formatting.BlockReason) && b.ID() != "reason-none" {
			values[b.ID()] = map[string]slack.BlockAction{formatting.ActionReason: {SelectedOption: slack.OptionBlockObject{Value: reason}}}
		}
	}
	return slack.View{ID: "V1", CallbackID: v.CallbackID, PrivateMetadata: v.PrivateMetadata, Blocks: v.Blocks, State: &slack.ViewState{Values: values}}
}

func TestParseCloseSubmission(t *testing.T) {
	initial := formatting.CloseModal(target(), "")
	benign := formatting.CloseModal(target(), source.Benign)
	tp := formatting.CloseModal(target(), source.TruePositive)
	cases := []struct {
		name                    string
		view                    slack.ModalViewRequest
		kind, reason, comment   string
		wantBlock, wantProblem  string
		wantKind                source.Classification
		wantReason, wantComment string
	}{
		{"valid benign", benign, "benign", "benign/confirmed_with_end_user", " Called him.\u202e ", "", "", source.Benign, "confirmed_with_end_user", "Called him."},
		{"valid from the first view", initial, "false_positive", "false_positive/not_accurate", "", "", "", source.FalsePositive, "not_accurate", ""},
		{"true positive needs no reason", tp, "true_positive", "", "", "", "", source.TruePositive, "", ""},
		{"a reason picked before true positive is ignored", initial, "true_positive", "benign/other", "", "", "", source.TruePositive, "", ""},
		{"no classification", initial, "", "", "", "classification", "Pick a classification.", "", "", ""},
		{"unknown classification", initial, "dismissed", "", "", "classification", "Pick a classification.", "", "", ""},
		{"missing reason", benign, "benign", "", "", "reason:benign", "Pick the reason it is benign.", "", "", ""},
		{"reason of the other classification", initial, "benign", "false_positive/not_accurate", "", "reason", "That reason is for false positive alerts; pick one for benign.", "", "", ""},
		{"made-up reason", benign, "benign", "benign/bored", "", "reason:benign", "That is not a reason for benign; pick one of its reasons.", "", "", ""},
		{"other needs a comment", benign, "benign", "benign/other", "  \n ", "comment", "Say why in a comment: it is required when the reason is other.", "", "", ""},
		{"comment too long", benign, "benign", "benign/triggered_by_test", strings.Repeat("é", 1001), "comment", "The comment has 1001 characters; at most 1000 fit.", "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, errs := formatting.ParseCloseSubmission(submission(tc.view, tc.kind, tc.reason, tc.comment))
			if tc.wantBlock != "" {
				if len(errs) != 1 || errs[tc.wantBlock] != tc.wantProblem {
					t.Fatalf("errors %v, want %s: %s", errs, tc.wantBlock, tc.wantProblem)
				}
				return
			}
			if errs != nil || f.Classification != tc.wantKind || f.Reason != tc.wantReason || f.Comment != tc.wantComment || f.Target != mustTarget(t, tc.view.PrivateMetadata) {
				t.Fatalf("form %+v errors %v", f, errs)
			}
		})
	}
	// A forged or stale form is refused in the modal.
	v := submission(benign, "benign", "benign/other", "x")
	v.PrivateMetadata = `{"t":"contoso","a":"../x"}`
	if _, errs := formatting.ParseCloseSubmission(v); errs[formatting.BlockClassification] == "" {
		t.Fatalf("forged metadata accepted: %v", errs)
	}
}

func mustTarget(t *testing.T, md string) formatting.CloseTarget {
	tg, err := formatting.ParseCloseTarget(md)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestClassificationChosenRedrawsReasons(t *testing.T) {
	v := formatting.CloseModal(target(), "")
	view := slack.View{CallbackID: v.CallbackID, PrivateMetadata: v.PrivateMetadata}
	tg, kind, ok := formatting.ClassificationChosen(view, slack.BlockAction{ActionID: formatting.ActionClassification, SelectedOption: slack.OptionBlockObject{Value: "false_positive"}})
	if !ok || kind != source.FalsePositive || tg.AlertID != target().AlertID {
		t.Fatalf("%+v %s %v", tg, kind, ok)
	}
	js, _ := json.Marshal(formatting.CloseModal(tg, kind))
	if !strings.Contains(string(js), `"block_id":"reason:false_positive"`) || strings.Contains(string(js), "confirmed_with_end_user") {
		t.Fatalf("reasons do not follow the classification: %s", js)
	}
	if _, _, ok := formatting.ClassificationChosen(view, slack.BlockAction{ActionID: formatting.ActionClassification, SelectedOption: slack.OptionBlockObject{Value: "nope"}}); ok {
		t.Fatal("unknown classification accepted")
	}
}

// FuzzCloseSubmission: whatever a client sends, the parser never panics,
// only names blocks the modal has, and anything it accepts obeys the rules.
func FuzzCloseSubmission(f *testing.F) {
	f.Add("benign", "benign/other", "why", target().Metadata(), 0)
	f.Add("true_positive", "false_positive/not_of_interest", "", target().Metadata(), 1)
	f.Add("false_positive", "benign/triggered_by_test", strings.Repeat("x", 1001), `{"t":"c","a":"a"}`, 2)
	f.Add("", "", "\x00\u202e", "not json", 3)
	f.Fuzz(func(t *testing.T, kind, reason, comment, metadata string, view int) {
		views := []slack.ModalViewRequest{formatting.CloseModal(target(), ""), formatting.CloseModal(target(), source.Benign),
			formatting.CloseModal(target(), source.FalsePositive), formatting.CloseModal(target(), source.TruePositive)}
		v := submission(views[((view%4)+4)%4], kind, reason, comment)
		v.PrivateMetadata = metadata
		form, errs := formatting.ParseCloseSubmission(v)
		if errs != nil {
			ids := map[string]bool{}
			for _, b := range v.Blocks.BlockSet {
				ids[b.ID()] = true
			}
			for block, msg := range errs {
				if !ids[block] || msg == "" || utf8.RuneCountInString(msg) > 150 {
					t.Fatalf("error %q on block %q the modal does not have", msg, block)
				}
			}
			return
		}
		if field, problem := formatting.CheckClose(form.Target.Reasons, form.Classification, form.Reason, form.Comment); field != "" {
			t.Fatalf("accepted a form that breaks the rules: %s %s (%+v)", field, problem, form)
		}
		if !source.ValidID(form.Target.AlertID) || form.Target.Tenant == "" {
			t.Fatalf("accepted target %+v", form.Target)
		}
		for _, r := range form.Comment {
			if r != '\n' && (r < ' ' || r == 0x7f || (r >= 0x202A && r <= 0x202E)) {
				t.Fatalf("comment keeps control character %U", r)
			}
		}
	})
}
