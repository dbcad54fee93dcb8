package store_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/soc/mcasbot/store"
	"github.com/soc/mcasbot/store/storetest"
)

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, storetest.OpenURL(func(t *testing.T) string {
		return "sqlite:" + filepath.Join(t.TempDir(), "state.db")
	}))
}

func TestSQLiteRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.ExecForTest(s, `INSERT INTO schema_migrations (version, applied_ms) VALUES (999, 0)`); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	_, err = store.Open(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("err = %v", err)
	}
}

func TestKindHidesPassword(t *testing.T) {
	k := store.Kind("postgres://mcas:hunter2@db.internal:5432/mcasbot?sslmode=require")
	if strings.Contains(k, "hunter2") || !strings.Contains(k, "db.internal") {
		t.Fatalf("kind %q", k)
	}
	if store.Kind("") != "sqlite (mcasbot.db)" {
		t.Fatalf("default kind %q", store.Kind(""))
	}
}
