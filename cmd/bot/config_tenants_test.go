package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/soc/mcasbot/tenants"
)

const fileToken = "tok-file-SECRET-7731"

// tenantsWorld is five tenants, one for each way to sign in, both as a
// tenants file and as the variables that say the same.
type tenantsWorld struct {
	dir, file string
	base      []string // every setting but the tenants
	vars      []string // the same tenants as MCAS_TENANT_<i>_*
}

func newTenantsWorld(t *testing.T) *tenantsWorld {
	t.Helper()
	w := &tenantsWorld{dir: t.TempDir()}
	put := func(name, content string) string {
		p := filepath.Join(w.dir, name)
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	token, secret, password := put("contoso-token", fileToken), put("northwind-secret", ownSecret), put("tailspin-password", pfxPassword)
	pfx, err := filepath.Abs(pfxPath)
	if err != nil {
		t.Fatal(err)
	}
	w.file = put("tenants.yaml", `defaults:
  digest_channel: C0SOCALL
groups:
  customer-a: {digest_channel: C0CUSTA01, jira_project: CUSTA}
  emea: {min_severity: medium}
tenants:
  - name: contoso
    url: https://contoso.eu2.portal.cloudappsecurity.com/
    token_file: `+token+`
    groups: [customer-a, emea]
  - name: fabrikam
    url: https://fabrikam.us3.portal.cloudappsecurity.com
    entra: {tenant_id: `+dirFabrikam+`}
    groups: [emea]
  - name: northwind
    url: https://northwind.eu2.portal.cloudappsecurity.com
    entra:
      tenant_id: `+dirContoso+`
      client_id: `+ownApp+`
      client_secret_file: `+secret+`
  - name: tailspin
    url: https://tailspin.eu2.portal.cloudappsecurity.com
    entra:
      tenant_id: tailspin.onmicrosoft.com
      client_id: `+ownApp+`
      certificate_file: `+pfx+`
      certificate_password_file: `+password+`
  - name: woodgrove
    source: graph
    entra: {tenant_id: woodgrove.onmicrosoft.com}
    service_sources: [microsoftDefenderForCloudApps, microsoftDefenderForIdentity]
    digest_channel: C0WOODGRV
`)
	w.base = []string{"SLACK_BOT_TOKEN=xoxb-1-abc", "SLACK_APP_TOKEN=xapp-1-def", "SLACK_ALLOWED_CHANNELS=C0SOC", "SLACK_ALLOWED_USERS=U0A",
		"ABUSEIPDB_API_KEY=abuse-secret-key", "AZURE_CLIENT_ID=" + multiApp, "AZURE_CLIENT_SECRET=" + appSecret}
	w.vars = []string{
		"MCAS_TENANT_0_NAME=contoso", "MCAS_TENANT_0_URL=https://contoso.eu2.portal.cloudappsecurity.com/", "MCAS_TENANT_0_TOKEN_FILE=" + token,
		"MCAS_TENANT_1_NAME=fabrikam", "MCAS_TENANT_1_URL=https://fabrikam.us3.portal.cloudappsecurity.com", "MCAS_TENANT_1_AZURE_TENANT_ID=" + dirFabrikam,
		"MCAS_TENANT_2_NAME=northwind", "MCAS_TENANT_2_URL=https://northwind.eu2.portal.cloudappsecurity.com", "MCAS_TENANT_2_AZURE_TENANT_ID=" + dirContoso,
		"MCAS_TENANT_2_AZURE_CLIENT_ID=" + ownApp, "MCAS_TENANT_2_AZURE_CLIENT_SECRET_FILE=" + secret,
		"MCAS_TENANT_3_NAME=tailspin", "MCAS_TENANT_3_URL=https://tailspin.eu2.portal.cloudappsecurity.com", "MCAS_TENANT_3_AZURE_TENANT_ID=tailspin.onmicrosoft.com",
		"MCAS_TENANT_3_AZURE_CLIENT_ID=" + ownApp, "MCAS_TENANT_3_AZURE_CLIENT_CERTIFICATE_PATH=" + pfx, "MCAS_TENANT_3_AZURE_CLIENT_CERTIFICATE_PASSWORD_FILE=" + password,
		"MCAS_TENANT_4_NAME=woodgrove", "MCAS_TENANT_4_SOURCE=graph", "MCAS_TENANT_4_AZURE_TENANT_ID=woodgrove.onmicrosoft.com",
		"MCAS_TENANT_4_SERVICE_SOURCES=microsoftDefenderForCloudApps,microsoftDefenderForIdentity",
	}
	return w
}

func (w *tenantsWorld) env(extra ...string) []string {
	return append(append(slices.Clone(w.base), "TENANTS_FILE="+w.file), extra...)
}

// A tenants file resolves to exactly the tenants the variables that say
// the same resolve to: the same checks and the same Entra ID sign-in.
func TestTheTenantsFileResolvesLikeTheVariables(t *testing.T) {
	w := newTenantsWorld(t)
	cfg, fromFile, ps := Load(w.env(), needs{slack: true, tenants: true})
	if err := ps.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ps) != 0 {
		t.Fatalf("problems %v", ps)
	}
	_, fromVars, ps := Load(append(slices.Clone(w.base), w.vars...), needs{slack: true, tenants: true})
	if err := ps.Err(); err != nil {
		t.Fatal(err)
	}
	if len(fromFile) != 5 || len(fromVars) != 5 {
		t.Fatalf("%d tenants from the file, %d from the variables", len(fromFile), len(fromVars))
	}
	for i, f := range fromFile {
		v := fromVars[i]
		if f.Name != v.Name || f.AuthName() != v.AuthName() || f.fingerprint() != v.fingerprint() {
			t.Errorf("tenant %d: %s signs in as %q from the file, %s as %q from the variables (or differ in settings)", i, f.Name, f.AuthName(), v.Name, v.AuthName())
		}
	}
	want := map[string]string{
		"contoso":   "legacy token",
		"fabrikam":  "Entra app " + multiApp + " (secret)",
		"northwind": "Entra app " + ownApp + " (secret)",
		"tailspin":  "Entra app " + ownApp + " (certificate)",
		"woodgrove": "Entra app " + multiApp + " (secret)",
	}
	for _, tn := range fromFile {
		if tn.AuthName() != want[tn.Name] {
			t.Errorf("%s signs in as %q, want %q", tn.Name, tn.AuthName(), want[tn.Name])
		}
	}
	c, wg := fromFile[0], fromFile[4]
	if c.Token.Reveal() != fileToken || c.URL != "https://contoso.eu2.portal.cloudappsecurity.com" || wg.Source != "graph" ||
		!slices.Equal(wg.ServiceSources, []string{"microsoftDefenderForCloudApps", "microsoftDefenderForIdentity"}) || wg.Entra.TenantID != "woodgrove.onmicrosoft.com" {
		t.Fatalf("contoso %+v, woodgrove %+v", c, wg)
	}
	// Groups and routes go to the directory; the variables have none.
	r := cfg.roster
	if r == nil || !slices.Equal(r.Groups["emea"], []string{"contoso", "fabrikam"}) ||
		r.Routes["contoso"] != (tenants.Route{DigestChannel: "C0CUSTA01", JiraProject: "CUSTA", MinSeverity: "medium"}) ||
		r.Routes["fabrikam"] != (tenants.Route{DigestChannel: "C0SOCALL", MinSeverity: "medium"}) || r.Routes["woodgrove"].DigestChannel != "C0WOODGRV" {
		t.Fatalf("roster %+v", r)
	}
	if len(r.Version.Files) != 4 {
		t.Fatalf("watched files %v", r.Version.Files)
	}
	// The secrets read from files are redacted from logs, and never print.
	secrets := secretsOf(cfg, fromFile)
	for _, s := range []string{fileToken, ownSecret, pfxPassword, appSecret} {
		if !slices.Contains(secrets, s) {
			t.Errorf("%q is not redacted from logs", s)
		}
	}
	printed := fmt.Sprintf("%v %+v %#v %v %#v %v", cfg, cfg, cfg, fromFile, fromFile, ps)
	for _, s := range []string{fileToken, ownSecret, appSecret} {
		if strings.Contains(printed, s) {
			t.Fatalf("secret %q printed", s)
		}
	}
}

func TestTheTenantsFileOrTheVariablesNotBoth(t *testing.T) {
	w := newTenantsWorld(t)
	env := w.env("MCAS_URL=https://contoso.eu2.portal.cloudappsecurity.com", "MCAS_TOKEN="+fileToken, "MCAS_TENANT_0_NAME=contoso",
		"MCAS_TIMEOUT=30s", "MCAS_REQUESTS_PER_MINUTE=20")
	_, _, ps := Load(env, needs{slack: true, tenants: true})
	err := ps.Err()
	want := "TENANTS_FILE is set, and so are MCAS_TENANT_0_NAME, MCAS_TOKEN and MCAS_URL: the tenants file replaces the MCAS_URL/MCAS_TOKEN and MCAS_TENANT_<i>_* variables"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
	if strings.Contains(err.Error(), fileToken) || strings.Contains(err.Error(), "MCAS_TIMEOUT") {
		t.Fatalf("the conflict names a value, or a setting that is not a tenant: %v", err)
	}
	// Settings of every tenant are no conflict.
	if _, ts, ps := Load(w.env("MCAS_TIMEOUT=30s", "MCAS_ATTEMPTS=2", "MCAS_URL="), needs{slack: true, tenants: true}); ps.Err() != nil || len(ts) != 5 {
		t.Fatalf("%v %d", ps.Err(), len(ts))
	}
}

// Every problem of the file comes at once, each with the file and line,
// those of the parser and those found resolving a tenant alike.
func TestTenantsFileProblemsNameTheFileAndLine(t *testing.T) {
	w := newTenantsWorld(t)
	empty := filepath.Join(w.dir, "empty-token")
	_ = os.WriteFile(empty, []byte("\n"), 0o600)
	notCert := filepath.Join(w.dir, "not-a-cert.pem")
	_ = os.WriteFile(notCert, []byte("hello"), 0o600)
	bad := filepath.Join(w.dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte(`tenants:
  - name: contoso
    sourse: mcas
    url: https://contoso.eu2.portal.cloudappsecurity.com
    token_file: /nope/token
  - name: fabrikam
    url: https://fabrikam.us3.portal.cloudappsecurity.com
    token_file: `+empty+`
  - name: northwind
    url: https://northwind.eu2.portal.cloudappsecurity.com
    entra: {tenant_id: `+dirContoso+`, client_id: `+ownApp+`, certificate_file: `+notCert+`}
  - name: tailspin
    url: http://tailspin.local
    token_file: `+empty+`
`), 0o600)
	_, _, ps := Load(append(slices.Clone(w.base), "TENANTS_FILE="+bad), needs{slack: true, tenants: true})
	var got []string
	for _, p := range ps {
		if p.Area != areaTenants {
			t.Errorf("not a tenants file problem: %s", p)
		}
		got = append(got, p.String())
	}
	for _, want := range []string{
		`error: ` + bad + `:3: unknown key "sourse" (did you mean source?)`,
		`error: ` + bad + `:5: token_file: cannot read /nope/token: no such file or directory`,
		`error: ` + bad + `:6: token_file: ` + empty + ` is empty`,
		`error: ` + bad + `:9: entra.certificate_file ` + notCert + `: not a usable PEM or PKCS#12 certificate`,
		`warning: ` + bad + `:12: url uses plain http: the token would travel unencrypted`,
	} {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, want) }) {
			t.Errorf("problems lack %q", want)
		}
	}
	if t.Failed() {
		t.Log(strings.Join(got, "\n"))
	}
	for _, tc := range []struct{ env, want string }{
		{"TENANTS_FILE=" + filepath.Join(w.dir, "missing.yaml"), "TENANTS_FILE: cannot read " + filepath.Join(w.dir, "missing.yaml") + ": no such file or directory"},
		{"TENANTS_FILE_POLL=10ms", "TENANTS_FILE_POLL must be at least 100ms (or 0)"},
		{"TENANTS_FILE_POLL=-1s", "TENANTS_FILE_POLL must be 0"},
	} {
		_, _, ps := Load(with(w.env(), tc.env), needs{slack: true, tenants: true})
		if err := ps.Err(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.env, err, tc.want)
		}
	}
}

func TestAZURE_TENANT_IDIsNewsWithATenantsFile(t *testing.T) {
	w := newTenantsWorld(t)
	_, _, ps := Load(w.env("AZURE_TENANT_ID="+dirContoso), needs{slack: true, tenants: true})
	if ps.Err() != nil || !strings.Contains(fmt.Sprint(ps), "AZURE_TENANT_ID is ignored with TENANTS_FILE: each tenant's entra: tenant_id names its directory") {
		t.Fatalf("%v", ps)
	}
	// Not when the workload identity webhook set it for every pod.
	_, _, ps = Load(w.env("AZURE_TENANT_ID="+dirContoso, "AZURE_CLIENT_SECRET=", "AZURE_FEDERATED_TOKEN_FILE=/var/run/secrets/azure/tokens/azure-identity-token"), needs{slack: true, tenants: true})
	if ps.Err() != nil || strings.Contains(fmt.Sprint(ps), "AZURE_TENANT_ID is ignored") {
		t.Fatalf("%v", ps)
	}
}
