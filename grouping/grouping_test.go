package grouping_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/soc/mcasbot/grouping"
	"github.com/soc/mcasbot/source"
)

func alert(tenant, id, title, policy, user string, ips ...string) source.Alert {
	a := source.Alert{ID: id, Tenant: tenant, Title: title, Severity: source.SeverityHigh, Time: time.Unix(1e9, 0).UTC()}
	if user != "" {
		a.Entities = append(a.Entities, source.Entity{Type: "account", UPN: user})
	}
	for _, ip := range ips {
		a.Entities = append(a.Entities, source.Entity{Type: "ip", ID: ip})
	}
	if policy != "" {
		a.Entities = append(a.Entities, source.Entity{Type: "policyRule", Label: policy})
	}
	return a
}

func ids(g grouping.Group) []string {
	var out []string
	for _, a := range g.Alerts {
		out = append(out, a.ID)
	}
	return out
}

func TestCollapse(t *testing.T) {
	var as []source.Alert
	for i := range 7 {
		// The same policy for bob, from changing Tor exits, the title
		// and the policy's spelling varying a little.
		policy := "Activity from anonymous IP addresses"
		if i == 3 {
			policy = "activity from  anonymous IP addresses"
		}
		as = append(as, alert("contoso", fmt.Sprintf("bob%d", i), "Activity from a Tor IP address", policy, []string{"bob.smith@contoso.com", "Bob.Smith@contoso.com"}[i%2], []string{"185.220.101.4", "185.220.102.8"}[i%2]))
	}
	// Two of carol's: below the minimum.
	as = append(as, alert("contoso", "carol1", "Impossible travel", "Impossible travel", "carol@contoso.com", "45.155.205.233"))
	as = append(as, alert("contoso", "carol2", "Impossible travel", "Impossible travel", "carol@contoso.com", "91.240.118.172"))
	// A password spray: one address, many accounts, no policy (the title groups).
	for i := range 4 {
		as = append(as, alert("contoso", fmt.Sprintf("spray%d", i), "Multiple failed login attempts", "", fmt.Sprintf("u%d@contoso.com", i), "91.240.118.172"))
	}
	// The same in another tenant is another group (and here too few).
	as = append(as, alert("fabrikam", "fab1", "Activity from a Tor IP address", "Activity from anonymous IP addresses", "bob.smith@contoso.com", "185.220.101.4"))

	gs := grouping.Collapse(as, 3)
	if len(gs) != 2 {
		t.Fatalf("%d groups: %+v", len(gs), gs)
	}
	bob, spray := gs[0], gs[1]
	if bob.By != grouping.ByAccount || bob.Tenant != "contoso" || bob.Value != "bob.smith@contoso.com" || len(bob.Alerts) != 7 ||
		bob.Policy != "Activity from anonymous IP addresses" || ids(bob)[0] != "bob0" {
		t.Fatalf("bob's group %+v", bob)
	}
	// carol2 shares the spray's address but not its title.
	if spray.By != grouping.ByIP || spray.Value != "91.240.118.172" || !slices.Equal(ids(spray), []string{"spray0", "spray1", "spray2", "spray3"}) ||
		spray.Policy != "Multiple failed login attempts" {
		t.Fatalf("spray %+v", spray)
	}
	if grouping.Collapse(as, 8) != nil || grouping.Collapse(as, 0) != nil || grouping.Collapse(as, 1) != nil {
		t.Fatal("groups below the minimum, or with grouping off")
	}
	if gs := grouping.Collapse(as, 2); len(gs) != 3 {
		t.Fatalf("min 2: %d groups", len(gs))
	}

	// A later repeat finds the group by signature, in any spelling.
	later := alert("contoso", "bob99", "Activity from a Tor IP address", "ACTIVITY FROM ANONYMOUS IP ADDRESSES", "BOB.SMITH@contoso.com", "104.28.55.12")
	if !slices.Contains(grouping.Signatures(later), bob.Signature) {
		t.Fatal("a later repeat does not carry the group's signature")
	}
	other := alert("fabrikam", "x", "Activity from a Tor IP address", "Activity from anonymous IP addresses", "bob.smith@contoso.com")
	if slices.Contains(grouping.Signatures(other), bob.Signature) {
		t.Fatal("signatures cross tenants")
	}
}

func TestAnAlertIsInOneGroup(t *testing.T) {
	// Every alert shares both the account and the address: one group.
	var as []source.Alert
	for i := range 5 {
		as = append(as, alert("contoso", fmt.Sprint(i), "T", "P", "bob@contoso.com", "185.220.101.4", "45.155.205.233"))
	}
	gs := grouping.Collapse(as, 3)
	if len(gs) != 1 || len(gs[0].Alerts) != 5 || gs[0].By != grouping.ByAccount {
		t.Fatalf("%+v", gs)
	}
	// Two addresses: the larger group goes first, the other gets what is left.
	as = nil
	for i := range 6 {
		ips := []string{"185.220.101.4"}
		if i < 4 {
			ips = append(ips, "45.155.205.233")
		}
		as = append(as, alert("contoso", fmt.Sprint(i), "T", "P", fmt.Sprintf("u%d@x.com", i), ips...))
	}
	gs = grouping.Collapse(as, 3)
	if len(gs) != 1 || gs[0].Value != "185.220.101.4" || len(gs[0].Alerts) != 6 {
		t.Fatalf("%+v", gs)
	}
}
