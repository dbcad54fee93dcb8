package ops_test

import (
	"encoding/json"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/soc/mcasbot/ops"
)

const dashboardFile = "../deploy/grafana/mcasbot.json"

// targetLabels are added by Prometheus (and the Prometheus Operator's
// ServiceMonitor), not by the bot.
var targetLabels = []string{"job", "instance", "namespace", "pod", "service", "container", "endpoint"}

// exported is every series name /metrics can show, with its labels, read
// from the registry NewMetrics and Watch build: a metric added later is
// known here without a list to keep.
func exported(t *testing.T) map[string][]string {
	t.Helper()
	m := ops.NewMetrics()
	up := func() bool { return true }
	m.Watch(up, up, func() (int, bool) { return 1, true })
	m.WatchTenants(func() []string { return []string{"contoso"} }, func(string) int { return 0 })
	// A vector shows on /metrics once it has a child: give each one.
	v := reflect.ValueOf(m).Elem()
	for i := range v.NumField() {
		get := v.Field(i).MethodByName("GetMetricWithLabelValues")
		if !get.IsValid() {
			continue
		}
		for n := 0; ; n++ {
			if n > 16 {
				t.Fatalf("Metrics.%s: no label count works", v.Type().Field(i).Name)
			}
			args := make([]reflect.Value, n)
			for j := range args {
				args[j] = reflect.ValueOf("x")
			}
			if out := get.Call(args); out[1].IsNil() {
				break
			}
		}
	}
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string][]string{}
	for _, f := range fams {
		var lbls []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			lbls = append(lbls, l.GetName())
		}
		name := f.GetName()
		switch f.GetType().String() {
		case "HISTOGRAM":
			names[name+"_bucket"] = append(slices.Clone(lbls), "le")
			names[name+"_sum"], names[name+"_count"] = lbls, lbls
		case "SUMMARY":
			names[name] = append(slices.Clone(lbls), "quantile")
			names[name+"_sum"], names[name+"_count"] = lbls, lbls
		default:
			names[name] = lbls
		}
	}
	return names
}

// query is one PromQL expression of the dashboard and where it is.
type query struct{ where, expr string }

func dashboardQueries(t *testing.T) []query {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID        string            `json:"uid"`
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	if dash.UID == "" {
		t.Error("the dashboard has no uid: every import would make a new one")
	}
	var qs []query
	ids := map[int]bool{}
	var panel func(raw json.RawMessage)
	panel = func(raw json.RawMessage) {
		var p struct {
			ID         int                   `json:"id"`
			Title      string                `json:"title"`
			Type       string                `json:"type"`
			Datasource *struct{ UID string } `json:"datasource"`
			GridPos    struct{ X, W int }    `json:"gridPos"`
			Panels     []json.RawMessage     `json:"panels"`
			Targets    []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		if ids[p.ID] {
			t.Errorf("panel %q: id %d is used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W < 1 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q is off the 24-column grid: %+v", p.Title, p.GridPos)
		}
		if p.Type != "row" && (p.Datasource == nil || p.Datasource.UID != "${datasource}") {
			t.Errorf("panel %q does not use the datasource variable", p.Title)
		}
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			qs = append(qs, query{"panel " + p.Title, tg.Expr})
		}
		for _, c := range p.Panels {
			panel(c)
		}
	}
	for _, p := range dash.Panels {
		panel(p)
	}
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		q := v.Query
		if m, ok := q.(map[string]any); ok {
			q = m["query"]
		}
		s, _ := q.(string)
		// label_values(selector, label): the selector is PromQL, the label one of its.
		m := labelValues.FindStringSubmatch(s)
		if m == nil {
			t.Errorf("variable %s: %q is not label_values(selector, label)", v.Name, s)
			continue
		}
		qs = append(qs, query{"variable " + v.Name, m[1] + " by (" + m[2] + ")"})
	}
	return qs
}

var labelValues = regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)

// TestDashboardQueriesNameExportedMetrics: every query of the Grafana
// dashboard names metrics the bot exports, with labels they have.
func TestDashboardQueriesNameExportedMetrics(t *testing.T) {
	have := exported(t)
	used := map[string]bool{}
	for _, q := range dashboardQueries(t) {
		sels, grouping, err := parsePromQL(q.expr)
		if err != nil {
			t.Errorf("%s: %v in %s", q.where, err, q.expr)
			continue
		}
		if len(sels) == 0 {
			t.Errorf("%s: no metric in %s", q.where, q.expr)
		}
		var all []string // labels of every metric in the query
		for _, s := range sels {
			lbls, ok := have[s.metric]
			if !ok {
				t.Errorf("%s: %s is not a metric the bot exports (%s)", q.where, s.metric, q.expr)
				continue
			}
			used[s.metric] = true
			all = append(all, lbls...)
			for _, l := range s.labels {
				if !slices.Contains(lbls, l) && !slices.Contains(targetLabels, l) {
					t.Errorf("%s: %s has no label %q (it has %v)", q.where, s.metric, l, lbls)
				}
			}
		}
		for _, l := range grouping {
			if !slices.Contains(all, l) && !slices.Contains(targetLabels, l) {
				t.Errorf("%s: grouping by %q, which none of its metrics has", q.where, l)
			}
		}
	}
	// Not a failure: a new metric need not be on the dashboard at once.
	unused := map[string]bool{}
	for name := range have {
		if !strings.HasPrefix(name, "mcasbot_") || used[name] {
			continue
		}
		if base, ok := histogram(name, have); ok {
			if used[base+"_bucket"] || used[base+"_sum"] || used[base+"_count"] {
				continue
			}
			name = base
		}
		unused[name] = true
	}
	missing := slices.Sorted(maps.Keys(unused))
	if len(missing) > 0 {
		t.Logf("exported but not on the dashboard: %s", strings.Join(missing, ", "))
	}
}

// histogram gives the histogram a series name belongs to.
func histogram(name string, have map[string][]string) (string, bool) {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && have[base+"_bucket"] != nil {
			return base, true
		}
	}
	return "", false
}

// selector is a metric and the label names its matchers use.
type selector struct {
	metric string
	labels []string
}

var (
	aggregations = []string{"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
		"bottomk", "topk", "quantile", "limitk", "limit_ratio"}
	keywords = []string{"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
		"and", "or", "unless", "atan2", "inf", "nan", "start", "end"}
	grafanaVar = regexp.MustCompile(`\$(\{\w+(:\w+)?\}|\w+)`)
)

// parsePromQL finds the metric names of a PromQL expression, the labels
// its matchers name, and those of by/without clauses. It is a lexer, not a
// parser: enough for dashboard queries, and strict where it is unsure.
func parsePromQL(expr string) (sels []selector, grouping []string, err error) {
	s := grafanaVar.ReplaceAllString(expr, "")
	isIdent := func(c byte, first bool) bool {
		return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
	}
	next := func(i int) byte { // the next character that is not a space
		for ; i < len(s); i++ {
			if s[i] != ' ' && s[i] != '\t' && s[i] != '\n' {
				return s[i]
			}
		}
		return 0
	}
	skipString := func(i int) (int, error) {
		q := s[i]
		for i++; i < len(s); i++ {
			if s[i] == '\\' && q != '`' {
				i++
			} else if s[i] == q {
				return i + 1, nil
			}
		}
		return 0, errUnterminated
	}
	// labelList reads "(a, b)" from i and returns the names.
	labelList := func(i int) ([]string, int, error) {
		for i < len(s) && s[i] != '(' {
			i++
		}
		end := strings.IndexByte(s[i:], ')')
		if end < 0 {
			return nil, 0, errUnterminated
		}
		var names []string
		for _, n := range strings.Split(s[i+1:i+end], ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		return names, i + end + 1, nil
	}
	// matchers reads "{a="x", b=~"y"}" from i: the label names, and the
	// metric if __name__ gives it.
	matchers := func(i int) ([]string, string, int, error) {
		var names []string
		var metric string
		i++
		for i < len(s) {
			switch c := s[i]; {
			case c == '}':
				return names, metric, i + 1, nil
			case c == ' ' || c == ',':
				i++
			case isIdent(c, true):
				j := i
				for j < len(s) && isIdent(s[j], false) {
					j++
				}
				name := s[i:j]
				for j < len(s) && strings.IndexByte("=!~ ", s[j]) >= 0 {
					j++
				}
				if j >= len(s) || (s[j] != '"' && s[j] != '\'' && s[j] != '`') {
					return nil, "", 0, errMatcher
				}
				end, err := skipString(j)
				if err != nil {
					return nil, "", 0, err
				}
				if name == "__name__" {
					metric = s[j+1 : end-1]
				} else {
					names = append(names, name)
				}
				i = end
			default:
				return nil, "", 0, errMatcher
			}
		}
		return nil, "", 0, errUnterminated
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			if i, err = skipString(i); err != nil {
				return nil, nil, err
			}
		case c == '[': // a range or subquery: durations only
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return nil, nil, errUnterminated
			}
			i += end + 1
		case c == '{': // a selector without a metric name before it
			lbls, metric, end, err := matchers(i)
			if err != nil {
				return nil, nil, err
			}
			if metric == "" {
				return nil, nil, errNoName
			}
			sels = append(sels, selector{metric, lbls})
			i = end
		case c >= '0' && c <= '9' || c == '.': // a number or a duration
			for i < len(s) && (isIdent(s[i], false) || s[i] == '.') {
				i++
			}
		case isIdent(c, true):
			j := i
			for j < len(s) && isIdent(s[j], false) {
				j++
			}
			word := s[i:j]
			switch {
			case word == "by" || word == "without":
				names, end, err := labelList(j)
				if err != nil {
					return nil, nil, err
				}
				grouping = append(grouping, names...)
				i = end
				continue
			case word == "on" || word == "ignoring" || word == "group_left" || word == "group_right":
				if next(j) == '(' {
					_, end, err := labelList(j)
					if err != nil {
						return nil, nil, err
					}
					i = end
					continue
				}
			case slices.Contains(aggregations, word) || slices.Contains(keywords, strings.ToLower(word)):
			case next(j) == '(': // a function
			default:
				sel := selector{metric: word}
				if next(j) == '{' {
					for j < len(s) && s[j] != '{' {
						j++
					}
					lbls, metric, end, err := matchers(j)
					if err != nil {
						return nil, nil, err
					}
					if metric != "" {
						return nil, nil, errMatcher
					}
					sel.labels = lbls
					j = end
				}
				sels = append(sels, sel)
			}
			i = j
		default:
			i++
		}
	}
	return sels, grouping, nil
}

type parseError string

func (e parseError) Error() string { return string(e) }

const (
	errUnterminated = parseError("unterminated string, bracket or matcher list")
	errMatcher      = parseError("a label matcher this check does not read")
	errNoName       = parseError("a selector without a metric name")
)

// TestParsePromQL: the lexer above finds what a person would.
func TestParsePromQL(t *testing.T) {
	cases := []struct {
		expr     string
		metrics  string // name:label,label name:…
		grouping string
	}{
		{`rate(mcasbot_commands_total[5m])`, "mcasbot_commands_total:", ""},
		{`sum by (command, outcome) (rate(mcasbot_commands_total{job=~"$job",outcome!="ok"}[$__rate_interval]))`,
			"mcasbot_commands_total:job,outcome", "command,outcome"},
		{`histogram_quantile(0.95, sum(rate(x_bucket{a="}"}[1m] offset 1h)) by (le))`, "x_bucket:a", "le"},
		{`a / on(instance) group_left(version) b_total unless c > 0.5e3`, "a: b_total: c:", ""},
		{`{__name__="up", job="x"} * 2`, "up:job", ""},
		{`sum without (status) (mcasbot_upstream_requests_total{status=~"4..|5.."}) or vector(0)`,
			"mcasbot_upstream_requests_total:status", "status"},
		{`min(mcasbot_store_up{job=~"${job}"})`, "mcasbot_store_up:job", ""},
	}
	for _, c := range cases {
		sels, grouping, err := parsePromQL(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		var got []string
		for _, s := range sels {
			got = append(got, s.metric+":"+strings.Join(s.labels, ","))
		}
		if strings.Join(got, " ") != c.metrics || strings.Join(grouping, ",") != c.grouping {
			t.Errorf("%s:\n got %q by %q\nwant %q by %q", c.expr, strings.Join(got, " "), strings.Join(grouping, ","), c.metrics, c.grouping)
		}
	}
	for _, bad := range []string{`rate(x{a="b}[5m])`, `sum(x{a=b})`, `{job="x"}`} {
		if _, _, err := parsePromQL(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
