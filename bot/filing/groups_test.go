package filing_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/bot/filing"
	"github.com/soc/mcasbot/integrations/entra"
	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/graph"
	"github.com/soc/mcasbot/integrations/graph/graphfake"
	"github.com/soc/mcasbot/integrations/mcas/mcasfake"
	"github.com/soc/mcasbot/source"
)

func TestParseGroupRules(t *testing.T) {
	rules, err := filing.ParseRules("title~Leaked credentials&group=Staff=Highest; title~Mass download & delete=High ;group = VIP & severity~high=Highest;description~a=b=Low")
	if err != nil {
		t.Fatal(err)
	}
	want := []filing.Rule{
		{Conds: []filing.Cond{{Field: "title", Contains: "leaked credentials"}, {Field: "group", Contains: "Staff"}}, Priority: "Highest"},
		{Conds: []filing.Cond{{Field: "title", Contains: "mass download & delete"}}, Priority: "High"},
		{Conds: []filing.Cond{{Field: "group", Contains: "VIP"}, {Field: "severity", Contains: "high"}}, Priority: "Highest"},
		{Conds: []filing.Cond{{Field: "description", Contains: "a=b"}}, Priority: "Low"},
	}
	if len(rules) != len(want) {
		t.Fatalf("rules %+v", rules)
	}
	for i := range want {
		if rules[i].Priority != want[i].Priority || len(rules[i].Conds) != len(want[i].Conds) {
			t.Fatalf("rule %d: %+v, want %+v", i, rules[i], want[i])
		}
		for j := range want[i].Conds {
			if rules[i].Conds[j] != want[i].Conds[j] {
				t.Fatalf("rule %d: %+v, want %+v", i, rules[i], want[i])
			}
		}
	}
	for _, bad := range []string{"title~x&colour~red=High", "group==High", "group=Staff&=High", "title~x & group =  =High"} {
		if _, err := filing.ParseRules(bad); err == nil {
			t.Errorf("rule %q accepted", bad)
		}
	}
}

// lookups counts group lookups and answers them.
type lookups struct {
	n      int
	groups []string
	err    error
}

func (l *lookups) fn() filing.GroupLookup {
	return func() ([]string, error) { l.n++; return l.groups, l.err }
}

func TestDecideLooksUpGroupsOnlyWhenARuleCouldMatch(t *testing.T) {
	prios, _ := filing.ParsePriorities("")
	rules, _ := filing.ParseRules("title~Leaked credentials&group=Staff=Highest;title~Leaked credentials&group=staff&group=VIP=Highest;policy~Impossible travel=High")
	m := filing.Mapping{Priorities: prios, Rules: rules}
	leaked := source.Alert{Title: "Leaked credentials", Severity: source.SeverityMedium}

	member := &lookups{groups: []string{"All users", "Staff"}}
	if d := m.Decide(leaked, member.fn()); d.Priority != "Highest" || strings.Join(d.Groups, ",") != "Staff" || d.Unavailable != "" || member.n != 1 {
		t.Fatalf("member: %+v after %d lookups", d, member.n)
	}
	outsider := &lookups{groups: []string{"Contractors"}}
	if d := m.Decide(leaked, outsider.fn()); d.Priority != "Medium" || len(d.Groups) != 0 || outsider.n != 1 {
		t.Fatalf("non-member: %+v after %d lookups", d, outsider.n)
	}
	other := &lookups{groups: []string{"Staff"}}
	if d := m.Decide(source.Alert{Title: "Ransomware activity", Severity: source.SeverityHigh}, other.fn()); d.Priority != "High" || other.n != 0 {
		t.Fatalf("no group rule could match: %+v after %d lookups", d, other.n)
	}
	down := &lookups{err: errors.New("Graph is down")}
	if d := m.Decide(leaked, down.fn()); d.Priority != "Medium" || d.Unavailable != "Graph is down" || down.n != 1 {
		t.Fatalf("lookup failed: %+v after %d lookups", d, down.n)
	}
	// A later rule without groups still applies, and the description will
	// still say membership was unavailable.
	m.Rules = append(slices.Clone(rules[:1]), filing.Rule{Conds: []filing.Cond{{Field: "title", Contains: "leaked"}}, Priority: "High"})
	if d := m.Decide(leaked, down.fn()); d.Priority != "High" || d.Unavailable == "" {
		t.Fatalf("fallback rule: %+v", d)
	}
	vip := &lookups{groups: []string{"STAFF", "VIP"}}
	m.Rules = rules[1:2]
	if d := m.Decide(leaked, vip.fn()); d.Priority != "Highest" || strings.Join(d.Groups, ",") != "STAFF,VIP" {
		t.Fatalf("two groups, any case: %+v", d)
	}
}

// groupEnv is the filing env with Graph for contoso behind Entra ID.
type groupEnv struct {
	*env
	graph *graphfake.Server
}

const (
	contosoDir = "11111111-aaaa-4aaa-8aaa-111111111111"
	graphApp   = "0b5c1e7a-3f1d-4c59-9a57-5a1f00000001"
	appSecret  = "Sx8Q~filing-SECRET-value"
)

func newGroupEnv(t *testing.T, rules string) *groupEnv {
	t.Helper()
	e := &groupEnv{env: newEnv(t, 0)}
	authority := entrafake.New()
	t.Cleanup(authority.Close)
	authority.AddApp(entrafake.App{ClientID: graphApp, Secret: appSecret, Tenants: []string{contosoDir}, Roles: []string{"Investigation.Read", "GroupMember.Read.All", "User.Read.All"}})
	e.graph = graphfake.New(contosoDir, authority)
	t.Cleanup(e.graph.Close)
	cred, err := entra.New(entra.Settings{Tenant: "contoso", TenantID: contosoDir, ClientID: graphApp, Method: entra.ClientSecret, Secret: appSecret,
		AuthorityHost: authority.Authority()}, authority.Client())
	if err != nil {
		t.Fatal(err)
	}
	gc, err := graph.New(graph.Config{URL: e.graph.URL, Attempts: 2}, "contoso", cred, e.graph.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	gc.Caller().Sleep = func(context.Context, time.Duration) error { return nil }
	e.svc.Groups = graph.Directory{Clients: map[string]*graph.Client{"contoso": gc}}
	e.svc.Mapping.Rules, err = filing.ParseRules(rules)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// leakedFor adds a medium Leaked credentials alert for user.
func (e *groupEnv) leakedFor(user string, seed uint64) mcasfake.Alert {
	a := mcasfake.Generate("contoso", 1, now, time.Hour, seed)[0]
	a.Title, a.SeverityValue = "Leaked credentials", 1
	a.Entities[0] = mcasfake.Entity{Type: "account", ID: user, Label: user, PA: user}
	e.mcas.AddAlerts(a)
	return a
}

func (e *groupEnv) file(t *testing.T, a mcasfake.Alert) (priority, description string) {
	t.Helper()
	res, err := e.svc.File(context.Background(), "contoso", a.ID, analyst)
	if err != nil || res.Outcome != filing.Filed {
		t.Fatalf("%+v %v", res, err)
	}
	for _, is := range e.jira.Issues() {
		if is.Key == res.Key {
			return string(is.Fields["priority"]), field(t, is, "description")
		}
	}
	t.Fatal("issue not in Jira")
	return "", ""
}

func TestStaffMembersLeakedCredentialsAreHighest(t *testing.T) {
	e := newGroupEnv(t, "title~Leaked credentials&group=Staff=Highest")
	e.graph.SetUser("carol.j@contoso.com", "All Company", "Staff")
	e.graph.SetUser("temp@contoso.com", "Contractors")

	prio, desc := e.file(t, e.leakedFor("carol.j@contoso.com", 21))
	if prio != `{"name":"Highest"}` || !strings.Contains(desc, "||Matched groups|Staff|") || strings.Contains(desc, "unavailable") {
		t.Fatalf("Staff member: priority %s\n%s", prio, desc)
	}
	prio, desc = e.file(t, e.leakedFor("temp@contoso.com", 22))
	if prio != `{"name":"Medium"}` || strings.Contains(desc, "Matched groups") {
		t.Fatalf("non-member: priority %s\n%s", prio, desc)
	}
	if n := len(e.graph.Requests()); n != 2 {
		t.Fatalf("%d Graph calls for two users", n)
	}
}

func TestGraphTroubleNeverBlocksTheIssue(t *testing.T) {
	cases := []struct {
		name  string
		setup func(e *groupEnv)
		want  string
	}{
		{"graph down", func(e *groupEnv) {
			e.graph.Fail(graphfake.Fault{Status: 503}, graphfake.Fault{Status: 503})
		}, "group membership unavailable: unavailable (HTTP 503): serviceNotAvailable"},
		{"user unknown", func(*groupEnv) {}, "group membership unavailable: not found (HTTP 404): Request\\_ResourceNotFound"},
		{"no permission", func(e *groupEnv) {
			e.graph.Fail(graphfake.Fault{Status: 403})
		}, "GroupMember.Read.All"},
		{"graph hangs", func(e *groupEnv) {
			e.svc.GroupWait = 100 * time.Millisecond
			e.graph.SetLatency(10 * time.Second)
		}, "group membership unavailable: timed out"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newGroupEnv(t, "title~Leaked credentials&group=Staff=Highest")
			tc.setup(e)
			start := time.Now()
			prio, desc := e.file(t, e.leakedFor("carol.j@contoso.com", 23))
			if prio != `{"name":"Medium"}` || !strings.Contains(desc, tc.want) {
				t.Fatalf("priority %s, description lacks %q:\n%s", prio, tc.want, desc)
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("filing took %v", time.Since(start))
			}
			e.graph.CloseClientConnections()
		})
	}
}

func TestNoGraphCallWithoutAGroupRule(t *testing.T) {
	e := newGroupEnv(t, "title~Leaked credentials=Highest")
	e.graph.SetUser("carol.j@contoso.com", "Staff")
	if prio, _ := e.file(t, e.leakedFor("carol.j@contoso.com", 24)); prio != `{"name":"Highest"}` {
		t.Fatal(prio)
	}
	if n := len(e.graph.Requests()); n != 0 {
		t.Fatalf("%d Graph calls without a group rule", n)
	}
}

func TestLegacyTenantHasNoGroups(t *testing.T) {
	e := newGroupEnv(t, "title~Leaked credentials&group=Staff=Highest")
	e.svc.Groups = graph.Directory{} // contoso on a legacy token
	_, desc := e.file(t, e.leakedFor("carol.j@contoso.com", 25))
	if !strings.Contains(desc, "group membership unavailable: contoso signs in with a legacy MCAS token") {
		t.Fatal(desc)
	}
}
