// Package chartcheck checks the mcasbot chart offline with Helm's own
// packages: what `helm lint --strict` and `helm template` run, without
// the CLI and its cluster clients (a much smaller build).
package chartcheck

import (
	"errors"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	"sigs.k8s.io/yaml"
)

const (
	chartDir  = "../mcasbot"
	release   = "mcasbot"
	namespace = "soc"
)

// The engine logs each fail at INFO while linting: keep the output to
// what failed.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

// valuesFile reads one of the chart's ci/ value sets ("" is the defaults).
func valuesFile(t *testing.T, name string) map[string]any {
	t.Helper()
	vals := map[string]any{}
	if name == "" {
		return vals
	}
	b, err := os.ReadFile(filepath.Join(chartDir, "ci", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &vals); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return vals
}

// merge lays override over base, as a second -f would.
func merge(base, override map[string]any) map[string]any {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range override {
		if sub, ok := v.(map[string]any); ok {
			if have, ok := out[k].(map[string]any); ok {
				out[k] = merge(have, sub)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// lintStrict runs helm lint's rules; with --strict a warning fails too.
func lintStrict(vals map[string]any) []string {
	l := lint.RunAll(chartDir, vals, namespace)
	var bad []string
	for _, m := range l.Messages {
		if m.Severity >= support.WarningSev {
			bad = append(bad, m.Error())
		}
	}
	return bad
}

// render is helm template: values checked against values.schema.json,
// templates rendered, NOTES.txt dropped, manifests split and sorted in
// install order. Stricter in one way: a template naming a value that does
// not exist fails, where helm template would print it empty.
func render(vals map[string]any) ([]releaseutil.Manifest, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return nil, err
	}
	top, err := util.ToRenderValuesWithSchemaValidation(ch, vals,
		common.ReleaseOptions{Name: release, Namespace: namespace, IsInstall: true}, common.DefaultCapabilities, false)
	if err != nil {
		return nil, err
	}
	files, err := engine.Engine{Strict: true}.Render(ch, top)
	if err != nil {
		return nil, err
	}
	for name := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(files, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, err
	}
	if len(hooks) > 0 {
		return nil, errors.New("the chart has hooks: helm template prints them, this check does not look at them")
	}
	return manifests, nil
}

// TestValueSetsCoverCI keeps the value sets in step with the chart's ci/.
func TestValueSetsCoverCI(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(chartDir, "ci"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	var listed []string
	for _, vs := range valueSets {
		if vs.file != "" && !slices.Contains(listed, vs.file) {
			listed = append(listed, vs.file)
		}
	}
	slices.Sort(names)
	slices.Sort(listed)
	if !slices.Equal(names, listed) {
		t.Fatalf("ci/ has %v, the tests use %v", names, listed)
	}
}
