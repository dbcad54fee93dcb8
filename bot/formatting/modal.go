package formatting

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/soc/mcasbot/source"
)

// The Close… modal's ids and limits.
const (
	CallbackClose        = "close_alert"
	BlockClassification  = "classification"
	BlockReason          = "reason" // "reason" or "reason:<classification>"
	BlockComment         = "comment"
	ActionClassification = "classification"
	ActionReason         = "reason"
	ActionComment        = "comment"
	// MaxCloseComment bounds an analyst's close comment.
	MaxCloseComment = 1000
	// MaxMetadata is Slack's limit on private_metadata.
	MaxMetadata = 3000
	// Slack's limits on a modal.
	MaxModalTitle  = 24
	MaxModalBlocks = 100
)

// CloseTarget is what a Close… modal is about and where the click came
// from; it travels in the modal's private_metadata.
type CloseTarget struct {
	Tenant  string `json:"t"`
	AlertID string `json:"a"`
	Title   string `json:"n,omitempty"` // the alert's title, for the modal
	// Where the originating message lives: a channel message (digest) by
	// channel and ts; an ephemeral one (a detail card) only through the
	// click's response_url, which also carries the confirmation.
	Channel     string `json:"c,omitempty"`
	TS          string `json:"ts,omitempty"`
	Ephemeral   bool   `json:"e,omitempty"`
	ResponseURL string `json:"r,omitempty"`
	// Group is the size of a group of repeats closed together (issue #11;
	// 0 for one alert): AlertID is its first alert, and the group's alerts
	// are read from the message's stored view. Open is how many of them
	// were open when the form opened; Title names the group.
	Group int `json:"g,omitempty"`
	Open  int `json:"o,omitempty"`
	// Source is the API the tenant is read through (source.MCAS when
	// empty): the reasons offered are that API's.
	Source string `json:"s,omitempty"`
}

// Reasons are the reasons the target's API takes for closing as c.
func (t CloseTarget) Reasons(c source.Classification) []source.Reason {
	if t.Source == "" {
		return source.Reasons(source.MCAS, c)
	}
	return source.Reasons(t.Source, c)
}

// Metadata encodes t for private_metadata within Slack's 3,000 characters:
// the title is shortened first, then the response_url dropped.
func (t CloseTarget) Metadata() string {
	t.Title = Cut(Clean(t.Title), 150)
	b, _ := json.Marshal(t)
	if utf8.RuneCount(b) > MaxMetadata {
		t.ResponseURL, t.Title = "", Cut(t.Title, 40)
		b, _ = json.Marshal(t)
	}
	return string(b)
}

// ParseCloseTarget reads private_metadata back.
func ParseCloseTarget(s string) (CloseTarget, error) {
	var t CloseTarget
	if err := json.Unmarshal([]byte(s), &t); err != nil || t.Tenant == "" || !source.ValidID(t.AlertID) {
		return CloseTarget{}, fmt.Errorf("not a Close… form")
	}
	return t, nil
}

// CloseModal is the Close… form for t. kind is the classification chosen
// so far ("" at first): the reason list follows it (views.update on each
// choice), and the submission is checked again in any case.
func CloseModal(t CloseTarget, kind source.Classification) slack.ModalViewRequest {
	title := CutEscaped(Clean(t.Title), 150)
	if title == "" {
		title = "(untitled alert)"
	}
	blocks := []slack.Block{
		section("alert", fmt.Sprintf("*%s*\n%s · alert `%s`", title, CutEscaped(Clean(t.Tenant), 40), Escape(t.AlertID))),
	}
	if t.Group > 0 {
		blocks[0] = section("alert", groupModalText(t, title))
	}
	var kinds []*slack.OptionBlockObject
	var initial *slack.OptionBlockObject
	for _, c := range source.Classifications {
		o := option(string(c), classificationText(c))
		kinds = append(kinds, o)
		if c == kind {
			initial = o
		}
	}
	sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Benign, false positive or true positive"), ActionClassification, kinds...)
	sel.InitialOption = initial
	classification := slack.NewInputBlock(BlockClassification, plain("Classification"), nil, sel)
	classification.DispatchAction = true
	blocks = append(blocks, classification)

	switch {
	case kind.Valid() && len(t.Reasons(kind)) == 0:
		blocks = append(blocks, context("reason-none", classificationText(kind)+"s are closed without a reason."))
	case kind.Valid():
		reasons := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Why is it "+kind.Label()+"?"), ActionReason, reasonOptions(t, kind)...)
		r := slack.NewInputBlock(BlockReason+":"+string(kind), plain("Reason"), plain("Required for "+kind.Label()+"."), reasons)
		r.Optional = true // checked on submit, so a classification without reasons needs none
		blocks = append(blocks, r)
	default:
		var groups []*slack.OptionGroupBlockObject
		var with, without []string
		for _, c := range source.Classifications {
			if opts := reasonOptions(t, c); len(opts) > 0 {
				groups = append(groups, slack.NewOptionGroupBlockElement(plain(classificationText(c)), opts...))
				with = append(with, c.Label())
			} else {
				without = append(without, c.Label())
			}
		}
		hint := "Every classification needs a reason."
		if len(without) > 0 {
			with[0] = strings.ToUpper(with[0][:1]) + with[0][1:]
			hint = fmt.Sprintf("%s need a reason; %s none.", strings.Join(with, " and "), strings.Join(without, " and "))
		}
		reasons := slack.NewOptionsGroupSelectBlockElement(slack.OptTypeStatic, plain("Pick the classification first"), ActionReason, groups...)
		r := slack.NewInputBlock(BlockReason, plain("Reason"), plain(hint), reasons)
		r.Optional = true
		blocks = append(blocks, r)
	}

	comment := slack.NewPlainTextInputBlockElement(plain("What did you find? Required when the reason is other."), ActionComment)
	comment.Multiline = true
	comment.MaxLength = MaxCloseComment
	where := "Defender for Cloud Apps"
	if t.Source == source.Graph {
		where = "Microsoft Defender XDR"
	}
	hint := "Sent to " + where + " and to the alert's Jira issue."
	if t.Group > 0 {
		hint = "Sent to " + where + " with each alert, and once to the group's Jira issue."
	}
	c := slack.NewInputBlock(BlockComment, plain("Comment"), plain(hint), comment)
	c.Optional = true
	blocks = append(blocks, c)

	modalTitle, submit := "Close alert", "Close alert"
	if t.Group > 0 {
		modalTitle, submit = groupModalButtons(t)
	}
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           plain(modalTitle),
		Submit:          plain(submit),
		Close:           plain("Cancel"),
		CallbackID:      CallbackClose,
		PrivateMetadata: t.Metadata(),
		Blocks:          slack.Blocks{BlockSet: blocks},
	}
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func option(value, text string) *slack.OptionBlockObject {
	return slack.NewOptionBlockObject(value, plain(Cut(text, 75)), nil)
}

func classificationText(c source.Classification) string {
	switch c {
	case source.Benign:
		return "Benign"
	case source.FalsePositive:
		return "False positive"
	case source.TruePositive:
		return "True positive"
	}
	return string(c)
}

func reasonOptions(t CloseTarget, c source.Classification) []*slack.OptionBlockObject {
	var out []*slack.OptionBlockObject
	for _, r := range t.Reasons(c) {
		label := r.Label
		out = append(out, option(string(c)+"/"+r.Code, strings.ToUpper(label[:1])+label[1:]))
	}
	return out
}

// CloseForm is a submitted Close… modal.
type CloseForm struct {
	Target         CloseTarget
	Classification source.Classification
	Reason         string // reason code; "" for true positive
	Comment        string
}

// CheckClose applies the close rules: a known classification; one of the
// API's reasons for it (none when it has none); a comment when the reason
// is other; at most MaxCloseComment characters. It names the field at
// fault (classification, reason, comment) and says what is wrong.
func CheckClose(reasons func(source.Classification) []source.Reason, kind source.Classification, reason, comment string) (field, problem string) {
	if !kind.Valid() {
		return "classification", "Pick a classification."
	}
	offered := reasons(kind)
	switch {
	case len(offered) > 0 && reason == "":
		return "reason", fmt.Sprintf("Pick the reason it is %s.", kind.Label())
	case len(offered) == 0 && reason != "":
		return "reason", classificationText(kind) + "s are closed without a reason."
	}
	if _, ok := source.Find(offered, reason); len(offered) > 0 && !ok {
		return "reason", fmt.Sprintf("That is not a reason for %s; pick one of its reasons.", kind.Label())
	}
	if reason == source.ReasonOther && strings.TrimSpace(comment) == "" {
		return "comment", "Say why in a comment: it is required when the reason is other."
	}
	if n := utf8.RuneCountInString(comment); n > MaxCloseComment {
		return "comment", fmt.Sprintf("The comment has %d characters; at most %d fit.", n, MaxCloseComment)
	}
	return "", ""
}

// ParseCloseSubmission reads a view_submission of the Close… modal. It
// returns the form, or the problems to show in the modal keyed by block
// id (a view_submission ack with response_action errors).
func ParseCloseSubmission(v slack.View) (CloseForm, map[string]string) {
	var f CloseForm
	var err error
	reasonBlock := BlockReason
	var values map[string]map[string]slack.BlockAction
	if v.State != nil {
		values = v.State.Values
	}
	// The reason's block id follows the classification shown.
	for id := range values {
		if id == BlockReason || strings.HasPrefix(id, BlockReason+":") {
			reasonBlock = id
		}
	}
	for _, b := range v.Blocks.BlockSet {
		if id := b.ID(); id == BlockReason || strings.HasPrefix(id, BlockReason+":") {
			reasonBlock = id
		}
	}
	if !hasBlock(v, reasonBlock) {
		reasonBlock = BlockClassification
	}
	f.Target, err = ParseCloseTarget(v.PrivateMetadata)
	if err != nil {
		return f, map[string]string{BlockClassification: "This form is out of date. Cancel it and press Close… on the alert again."}
	}
	f.Classification = source.Classification(values[BlockClassification][ActionClassification].SelectedOption.Value)
	if r := values[reasonBlock][ActionReason].SelectedOption.Value; r != "" {
		kind, code, _ := strings.Cut(r, "/")
		switch {
		case f.Target.Reasons(f.Classification) == nil && f.Classification.Valid():
			// A reason picked before a classification without reasons was chosen is ignored.
		case kind != string(f.Classification) && f.Classification.Valid():
			return f, map[string]string{reasonBlock: fmt.Sprintf("That reason is for %s alerts; pick one for %s.", source.Classification(kind).Label(), f.Classification.Label())}
		default:
			f.Reason = code
		}
	}
	f.Comment = CleanComment(values[BlockComment][ActionComment].Value)
	if field, problem := CheckClose(f.Target.Reasons, f.Classification, f.Reason, f.Comment); field != "" {
		block := map[string]string{"classification": BlockClassification, "reason": reasonBlock, "comment": BlockComment}[field]
		return f, map[string]string{block: problem}
	}
	return f, nil
}

func hasBlock(v slack.View, id string) bool {
	for _, b := range v.Blocks.BlockSet {
		if b.ID() == id {
			return true
		}
	}
	// A view without its blocks (as in some payloads): trust the state.
	return len(v.Blocks.BlockSet) == 0 && id != ""
}

// CleanComment keeps what an analyst typed but drops control and bidi
// characters (line breaks stay) and surrounding space.
func CleanComment(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r == '\n' {
			return r
		}
		if r == '\t' {
			return ' '
		}
		if unicode.IsControl(r) || isBidi(r) || r == '\u200b' || r == '\ufeff' {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// ClassificationChosen reads the classification picked in an open Close…
// modal (a dispatch_action), for redrawing its reason list.
func ClassificationChosen(v slack.View, action slack.BlockAction) (CloseTarget, source.Classification, bool) {
	if v.CallbackID != CallbackClose || action.ActionID != ActionClassification {
		return CloseTarget{}, "", false
	}
	t, err := ParseCloseTarget(v.PrivateMetadata)
	kind := source.Classification(action.SelectedOption.Value)
	if err != nil || !kind.Valid() {
		return CloseTarget{}, "", false
	}
	return t, kind, true
}

// CheckModal reports the first Slack limit a modal breaks.
func CheckModal(v slack.ModalViewRequest) error {
	switch {
	case v.Title == nil || utf8.RuneCountInString(v.Title.Text) > MaxModalTitle:
		return fmt.Errorf("modal title missing or over %d characters", MaxModalTitle)
	case v.Submit != nil && utf8.RuneCountInString(v.Submit.Text) > MaxModalTitle:
		return fmt.Errorf("submit text over %d characters", MaxModalTitle)
	case v.Close != nil && utf8.RuneCountInString(v.Close.Text) > MaxModalTitle:
		return fmt.Errorf("close text over %d characters", MaxModalTitle)
	case len(v.Blocks.BlockSet) > MaxModalBlocks:
		return fmt.Errorf("%d blocks, limit %d", len(v.Blocks.BlockSet), MaxModalBlocks)
	case utf8.RuneCountInString(v.PrivateMetadata) > MaxMetadata:
		return fmt.Errorf("private_metadata of %d characters, limit %d", utf8.RuneCountInString(v.PrivateMetadata), MaxMetadata)
	case len(v.CallbackID) > 255:
		return fmt.Errorf("callback_id over 255 characters")
	}
	ids := map[string]bool{}
	for _, b := range v.Blocks.BlockSet {
		if ids[b.ID()] {
			return fmt.Errorf("block_id %q repeated", b.ID())
		}
		ids[b.ID()] = true
		if s, ok := b.(*slack.SectionBlock); ok && s.Text != nil && utf8.RuneCountInString(s.Text.Text) > MaxSectionText {
			return fmt.Errorf("section of %d characters", utf8.RuneCountInString(s.Text.Text))
		}
	}
	return nil
}
