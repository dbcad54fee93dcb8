package tenants_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/soc/mcasbot/source"
	"github.com/soc/mcasbot/tenants"
)

// named is a tenant that only has a name.
type named struct {
	source.Tenant
	name string
}

func (n named) Name() string { return n.name }

func names(ts []source.Tenant) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name())
	}
	return out
}

func TestDirectorySelectsAndReplacesAtOnce(t *testing.T) {
	a, b, c := named{name: "contoso"}, named{name: "fabrikam"}, named{name: "northwind"}
	d := tenants.NewDirectory([]source.Tenant{a, b, c}, map[string][]string{"emea": {"fabrikam", "contoso", "gone"}},
		map[string]tenants.Route{"contoso": {DigestChannel: "C0A"}})
	if got, err := d.Select("group:emea"); err != nil || !slices.Equal(names(got), []string{"contoso", "fabrikam"}) {
		t.Fatalf("group:emea = %v %v", names(got), err)
	}
	if got, _ := d.Select(""); len(got) != 3 {
		t.Fatalf("no selection = %v", names(got))
	}
	if d.Route("contoso").DigestChannel != "C0A" || d.Route("fabrikam") != (tenants.Route{}) {
		t.Fatal("routes")
	}
	// A reader of the old set keeps it whole while the new one is served.
	old := d.Tenants()
	d.Replace([]source.Tenant{c}, nil, nil)
	if len(old) != 3 || len(d.Tenants()) != 1 {
		t.Fatalf("old %d, new %d", len(old), len(d.Tenants()))
	}
	if _, ok := d.Tenant("contoso"); ok {
		t.Fatal("a removed tenant is still served")
	}
	if _, err := d.Select("group:emea"); err == nil {
		t.Fatal("a removed group still selects")
	}
	var zero tenants.Directory
	if len(zero.Tenants()) != 0 {
		t.Fatal("the zero directory serves tenants")
	}
	// Readers and a reload at once (run with -race).
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				if i == 0 {
					d.Replace([]source.Tenant{a, b}, map[string][]string{"x": {"contoso"}}, nil)
					continue
				}
				_, _ = d.Select("")
				_, _ = d.Tenant("contoso")
				_ = d.Set()
			}
		})
	}
	wg.Wait()
}
