package formatting

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// Slack's Block Kit limits (documented, or observed where noted).
const (
	MaxBlocks        = 50
	MaxHeader        = 150
	MaxSectionText   = 3000
	MaxFieldText     = 2000
	MaxFields        = 10
	MaxContextElems  = 10
	MaxTableRows     = 100 // including the header row
	MaxTableCells    = 20
	MaxTableChars    = 10000 // about, observed
	MaxMessageChars  = 12000 // about, observed (msg_blocks_too_long)
	MaxAckBytes      = 20 * 1024
	MaxButtonText    = 75
	MaxButtonValue   = 2000
	MaxActionElement = 25
)

// tableBudget keeps a margin under the observed table limit.
const tableBudget = 9000

// messageBudget keeps a margin under the observed message limit.
const messageBudget = 11000

// Size is what a message spends against Slack's limits.
type Size struct {
	Blocks     int // top-level blocks plus attachment blocks
	Chars      int // characters of text in every block
	TableRows  int
	TableCells int // widest row
	TableChars int
	JSONBytes  int
}

// Measure walks a message as Slack would see it.
func Measure(msg *slack.WebhookMessage) (Size, error) {
	raw, err := json.Marshal(msg)
	if err != nil {
		return Size{}, err
	}
	var doc struct {
		Text        string           `json:"text"`
		Blocks      []map[string]any `json:"blocks"`
		Attachments []struct {
			Blocks []map[string]any `json:"blocks"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return Size{}, err
	}
	s := Size{JSONBytes: len(raw)}
	all := doc.Blocks
	for _, a := range doc.Attachments {
		all = append(all, a.Blocks...)
	}
	s.Blocks = len(all)
	for _, b := range all {
		n := textChars(b)
		s.Chars += n
		if b["type"] == "table" {
			rows, _ := b["rows"].([]any)
			s.TableRows += len(rows)
			s.TableChars += n
			for _, r := range rows {
				cells, _ := r.([]any)
				s.TableCells = max(s.TableCells, len(cells))
			}
		}
	}
	return s, nil
}

// textChars counts the characters of every "text" value under v.
func textChars(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "text" {
				n += utf8.RuneCountInString(s)
				continue
			}
			n += textChars(x)
		}
	case []any:
		for _, x := range v {
			n += textChars(x)
		}
	}
	return n
}

// Check reports the first Slack limit msg breaks.
func Check(msg *slack.WebhookMessage) error {
	s, err := Measure(msg)
	if err != nil {
		return err
	}
	switch {
	case s.Blocks > MaxBlocks:
		return fmt.Errorf("%d blocks, limit %d", s.Blocks, MaxBlocks)
	case s.Chars > MaxMessageChars:
		return fmt.Errorf("%d characters, limit about %d", s.Chars, MaxMessageChars)
	case s.TableRows > MaxTableRows:
		return fmt.Errorf("%d table rows, limit %d", s.TableRows, MaxTableRows)
	case s.TableCells > MaxTableCells:
		return fmt.Errorf("%d cells in a row, limit %d", s.TableCells, MaxTableCells)
	case s.TableChars > MaxTableChars:
		return fmt.Errorf("%d table characters, limit about %d", s.TableChars, MaxTableChars)
	}
	return checkBlocks(msg)
}

func checkBlocks(msg *slack.WebhookMessage) error {
	var blocks []slack.Block
	if msg.Blocks != nil {
		blocks = append(blocks, msg.Blocks.BlockSet...)
	}
	for _, a := range msg.Attachments {
		blocks = append(blocks, a.Blocks.BlockSet...)
	}
	ids := map[string]bool{}
	for _, b := range blocks {
		if id := b.ID(); id != "" {
			if ids[id] {
				return fmt.Errorf("block_id %q repeated", id)
			}
			ids[id] = true
		}
		switch b := b.(type) {
		case *slack.HeaderBlock:
			if n := utf8.RuneCountInString(b.Text.Text); n > MaxHeader || n == 0 {
				return fmt.Errorf("header of %d characters", n)
			}
		case *slack.SectionBlock:
			if b.Text != nil {
				if n := utf8.RuneCountInString(b.Text.Text); n > MaxSectionText || n == 0 {
					return fmt.Errorf("section text of %d characters", n)
				}
			}
			if len(b.Fields) > MaxFields {
				return fmt.Errorf("%d section fields", len(b.Fields))
			}
			for _, f := range b.Fields {
				if n := utf8.RuneCountInString(f.Text); n > MaxFieldText || n == 0 {
					return fmt.Errorf("section field of %d characters", n)
				}
			}
		case *slack.ContextBlock:
			if len(b.ContextElements.Elements) > MaxContextElems {
				return fmt.Errorf("%d context elements", len(b.ContextElements.Elements))
			}
		case *slack.ActionBlock:
			if len(b.Elements.ElementSet) > MaxActionElement {
				return fmt.Errorf("%d action elements", len(b.Elements.ElementSet))
			}
			for _, e := range b.Elements.ElementSet {
				if btn, ok := e.(*slack.ButtonBlockElement); ok {
					if utf8.RuneCountInString(btn.Text.Text) > MaxButtonText || len(btn.Value) > MaxButtonValue {
						return fmt.Errorf("button %q too long", btn.ActionID)
					}
					if ids["a:"+btn.ActionID] {
						return fmt.Errorf("action_id %q repeated", btn.ActionID)
					}
					ids["a:"+btn.ActionID] = true
				}
			}
		}
	}
	return nil
}
