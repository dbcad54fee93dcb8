package main

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "write docs/configuration.md")

// The configuration reference is generated from the code: a setting added
// without a description, a description left for a setting that is gone, or
// a page that differs from what the code writes fails here.
func TestConfigurationReference(t *testing.T) {
	want, err := configReference()
	if err != nil {
		t.Fatal(err)
	}
	const path = "../../docs/configuration.md"
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("docs/configuration.md is not what cmd/bot generates: run go test ./cmd/bot -run TestConfigurationReference -update")
	}
	// Every setting the code reads is on the page, secrets with their _FILE.
	for _, s := range settings() {
		row := "| `" + s.name + "`"
		if s.file {
			row += " / `_FILE`"
		}
		if !strings.Contains(want, row+" |") {
			t.Errorf("no row for %s", s.name)
		}
	}
}

// A variable read but not described, or described but not read, is named.
func TestConfigurationReferenceNamesWhatDrifted(t *testing.T) {
	saved := settingDocs
	defer func() { settingDocs = saved }()
	settingDocs = append(settingDocs[1:len(settingDocs):len(settingDocs)], settingDoc{name: "NO_SUCH_SETTING", meaning: "x"})
	_, err := configReference()
	if err == nil || !strings.Contains(err.Error(), "no description for [SLACK_BOT_TOKEN]") || !strings.Contains(err.Error(), "descriptions of no variable: [NO_SUCH_SETTING]") {
		t.Fatalf("%v", err)
	}
}
