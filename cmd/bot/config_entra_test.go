package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/entra"
)

const (
	dirContoso  = "11111111-aaaa-4aaa-8aaa-111111111111"
	dirFabrikam = "22222222-bbbb-4bbb-8bbb-222222222222"
	multiApp    = "0b5c1e7a-3f1d-4c59-9a57-5a1f00000001"
	ownApp      = "0b5c1e7a-3f1d-4c59-9a57-5a1f00000002"
	appSecret   = "Sx8Q~multi-app-SECRET-0001"
	ownSecret   = "Sx8Q~own-app-SECRET-0002"
	pfxPassword = "password"
)

// threeTenants is contoso and fabrikam on one multi-tenant app, northwind
// on a legacy token.
var threeTenants = []string{
	"SLACK_BOT_TOKEN=xoxb-1-abc", "SLACK_APP_TOKEN=xapp-1-def", "SLACK_ALLOWED_CHANNELS=C0SOC", "SLACK_ALLOWED_USERS=U0A",
	"ABUSEIPDB_API_KEY=abuse-secret-key",
	"AZURE_CLIENT_ID=" + multiApp, "AZURE_CLIENT_SECRET=" + appSecret,
	"MCAS_TENANT_0_NAME=contoso", "MCAS_TENANT_0_URL=https://contoso.eu2.portal.cloudappsecurity.com", "MCAS_TENANT_0_AZURE_TENANT_ID=" + dirContoso,
	"MCAS_TENANT_1_NAME=fabrikam", "MCAS_TENANT_1_URL=https://fabrikam.us3.portal.cloudappsecurity.com", "MCAS_TENANT_1_AZURE_TENANT_ID=" + dirFabrikam,
	"MCAS_TENANT_2_NAME=northwind", "MCAS_TENANT_2_URL=https://northwind.eu2.portal.cloudappsecurity.com", "MCAS_TENANT_2_TOKEN=tok-northwind-secret",
}

func pemCert(t *testing.T) string {
	t.Helper()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "mcasbot"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	pk, _ := x509.MarshalPKCS8PrivateKey(key)
	path := filepath.Join(t.TempDir(), "app.pem")
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})...)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const pfxPath = "../../integrations/entra/testdata/encrypted.pfx"

func write(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEntraSignInPerTenant(t *testing.T) {
	pemPath := pemCert(t)
	tokenFile := write(t, "eyJhbGciOiJSUzI1NiJ9.k8s.sig")
	cases := []struct {
		name string
		env  []string
		// want is "<tenant>=<AuthName>" for each tenant.
		want []string
	}{
		{"one multi-tenant app and a legacy tenant", threeTenants, []string{
			"contoso=Entra app " + multiApp + " (secret)", "fabrikam=Entra app " + multiApp + " (secret)", "northwind=legacy token"}},
		{"a tenant's own app with a secret wins", with(threeTenants, "MCAS_TENANT_1_AZURE_CLIENT_ID="+ownApp, "MCAS_TENANT_1_AZURE_CLIENT_SECRET="+ownSecret), []string{
			"contoso=Entra app " + multiApp + " (secret)", "fabrikam=Entra app " + ownApp + " (secret)", "northwind=legacy token"}},
		{"a tenant's own secret from a file", with(threeTenants, "MCAS_TENANT_1_AZURE_CLIENT_ID="+ownApp, "MCAS_TENANT_1_AZURE_CLIENT_SECRET_FILE="+write(t, ownSecret)), []string{
			"fabrikam=Entra app " + ownApp + " (secret)"}},
		{"a tenant's own PEM certificate", with(threeTenants, "MCAS_TENANT_0_AZURE_CLIENT_ID="+ownApp, "MCAS_TENANT_0_AZURE_CLIENT_CERTIFICATE_PATH="+pemPath), []string{
			"contoso=Entra app " + ownApp + " (certificate)", "fabrikam=Entra app " + multiApp + " (secret)"}},
		{"a tenant's own PKCS#12 certificate with password", with(threeTenants, "MCAS_TENANT_0_AZURE_CLIENT_ID="+ownApp, "MCAS_TENANT_0_AZURE_CLIENT_CERTIFICATE_PATH="+pfxPath,
			"MCAS_TENANT_0_AZURE_CLIENT_CERTIFICATE_PASSWORD="+pfxPassword), []string{"contoso=Entra app " + ownApp + " (certificate)"}},
		{"password from a file", with(threeTenants, "MCAS_TENANT_0_AZURE_CLIENT_ID="+ownApp, "MCAS_TENANT_0_AZURE_CLIENT_CERTIFICATE_PATH="+pfxPath,
			"MCAS_TENANT_0_AZURE_CLIENT_CERTIFICATE_PASSWORD_FILE="+write(t, pfxPassword)), []string{"contoso=Entra app " + ownApp + " (certificate)"}},
		{"standard certificate", with(threeTenants, "AZURE_CLIENT_SECRET=<unset>", "AZURE_CLIENT_CERTIFICATE_PATH="+pemPath), []string{
			"contoso=Entra app " + multiApp + " (certificate)", "fabrikam=Entra app " + multiApp + " (certificate)"}},
		{"standard PKCS#12 with password", with(threeTenants, "AZURE_CLIENT_SECRET=<unset>", "AZURE_CLIENT_CERTIFICATE_PATH="+pfxPath, "AZURE_CLIENT_CERTIFICATE_PASSWORD="+pfxPassword), []string{
			"contoso=Entra app " + multiApp + " (certificate)"}},
		{"workload identity", with(threeTenants, "AZURE_CLIENT_SECRET=<unset>", "AZURE_FEDERATED_TOKEN_FILE="+tokenFile), []string{
			"contoso=Entra app " + multiApp + " (workload identity)", "fabrikam=Entra app " + multiApp + " (workload identity)"}},
		{"user-assigned managed identity", with(threeTenants, "AZURE_CLIENT_SECRET=<unset>", "MCAS_TENANT_1_AZURE_TENANT_ID=<unset>", "MCAS_TENANT_1_TOKEN=t1"), []string{
			"contoso=Entra app " + multiApp + " (managed identity)", "fabrikam=legacy token"}},
		{"system-assigned managed identity", with(threeTenants, "AZURE_CLIENT_ID=<unset>", "AZURE_CLIENT_SECRET=<unset>", "MCAS_TENANT_1_AZURE_TENANT_ID=<unset>", "MCAS_TENANT_1_TOKEN=t1"), []string{
			"contoso=Entra system-assigned identity (managed identity)"}},
		{"single tenant on Entra", with(good, "MCAS_TOKEN=<unset>", "AZURE_TENANT_ID="+dirContoso, "AZURE_CLIENT_ID="+multiApp, "AZURE_CLIENT_SECRET="+appSecret), []string{
			"contoso=Entra app " + multiApp + " (secret)"}},
		{"a domain as tenant", with(good, "MCAS_TOKEN=<unset>", "AZURE_TENANT_ID=contoso.onmicrosoft.com", "AZURE_CLIENT_ID="+multiApp, "AZURE_CLIENT_SECRET="+appSecret), []string{
			"contoso=Entra app " + multiApp + " (secret)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, tenants, ps := Load(tc.env, needs{slack: true, tenants: true})
			if err := ps.Err(); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, tn := range tenants {
				got[tn.Name] = tn.AuthName()
				if tn.Entra != nil && (tn.Entra.Tenant != tn.Name || tn.Entra.AuthorityHost != entra.DefaultAuthority) {
					t.Errorf("settings %#v", *tn.Entra)
				}
			}
			for _, w := range tc.want {
				name, auth, _ := strings.Cut(w, "=")
				if got[name] != auth {
					t.Errorf("%s signs in as %q, want %q", name, got[name], auth)
				}
			}
			printed := fmt.Sprintf("%v %+v %#v %v %#v", cfg, cfg, cfg, tenants, tenants)
			for _, s := range []string{appSecret, ownSecret, pfxPassword, "tok-northwind-secret"} {
				if strings.Contains(printed, s) && s != pfxPassword {
					j := strings.Index(printed, s)
					t.Fatalf("secret %q printed: %s", s, printed[max(0, j-200):j+30])
				}
			}
		})
	}
}

func TestEntraSettingsReachTheCredential(t *testing.T) {
	env := with(threeTenants, "AZURE_AUTHORITY_HOST=https://login.microsoftonline.us/", "MCAS_TENANT_1_AZURE_CLIENT_ID="+ownApp,
		"MCAS_TENANT_1_AZURE_CLIENT_CERTIFICATE_PATH="+pfxPath, "MCAS_TENANT_1_AZURE_CLIENT_CERTIFICATE_PASSWORD="+pfxPassword)
	cfg, tenants, ps := Load(env, needs{tenants: true})
	if ps.Err() != nil {
		t.Fatal(ps.Err())
	}
	c, f := tenants[0].Entra, tenants[1].Entra
	if c.TenantID != dirContoso || c.Secret != appSecret || c.AuthorityHost != "https://login.microsoftonline.us/" {
		t.Fatalf("contoso %#v", c)
	}
	if f.TenantID != dirFabrikam || f.Method != entra.Certificate || len(f.Certs) == 0 || f.Key == nil {
		t.Fatalf("fabrikam %#v", f)
	}
	secrets := secretsOf(cfg, tenants)
	for _, s := range []string{appSecret, pfxPassword, "tok-northwind-secret"} {
		if !slices.Contains(secrets, s) {
			t.Errorf("%q is not redacted from logs", s)
		}
	}
}

func TestEntraConfigErrors(t *testing.T) {
	pemPath := pemCert(t)
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"token and Entra", with(threeTenants, "MCAS_TENANT_2_AZURE_TENANT_ID="+dirContoso), "northwind: both MCAS_TENANT_2_TOKEN and MCAS_TENANT_2_AZURE_TENANT_ID are set; use one"},
		{"token and Entra, single tenant", with(good, "AZURE_TENANT_ID="+dirContoso), "contoso: both MCAS_TOKEN and AZURE_TENANT_ID are set; use one"},
		{"neither", with(threeTenants, "MCAS_TENANT_1_AZURE_TENANT_ID=<unset>"), "MCAS_TENANT_1_TOKEN is not set (or sign in with Entra ID: set MCAS_TENANT_1_AZURE_TENANT_ID)"},
		{"own app without secret", with(threeTenants, "MCAS_TENANT_0_AZURE_CLIENT_ID="+ownApp), "contoso: MCAS_TENANT_0_AZURE_CLIENT_ID needs MCAS_TENANT_0_AZURE_CLIENT_SECRET (or MCAS_TENANT_0_AZURE_CLIENT_SECRET_FILE) or MCAS_TENANT_0_AZURE_CLIENT_CERTIFICATE_PATH"},
		{"own secret without app", with(threeTenants, "MCAS_TENANT_0_AZURE_CLIENT_SECRET="+ownSecret), "contoso: MCAS_TENANT_0_AZURE_CLIENT_SECRET or MCAS_TENANT_0_AZURE_CLIENT_CERTIFICATE_PATH needs MCAS_TENANT_0_AZURE_CLIENT_ID"},
		{"own app on a legacy tenant", with(threeTenants, "MCAS_TENANT_2_AZURE_CLIENT_ID="+ownApp), "northwind: MCAS_TENANT_2_AZURE_* application settings need MCAS_TENANT_2_AZURE_TENANT_ID"},
		{"standard secret without app", with(threeTenants, "AZURE_CLIENT_ID=<unset>"), "AZURE_CLIENT_SECRET needs AZURE_CLIENT_ID"},
		{"standard certificate without app", with(threeTenants, "AZURE_CLIENT_ID=<unset>", "AZURE_CLIENT_SECRET=<unset>", "AZURE_CLIENT_CERTIFICATE_PATH="+pemPath), "AZURE_CLIENT_CERTIFICATE_PATH needs AZURE_CLIENT_ID"},
		{"federated token without app", with(threeTenants, "AZURE_CLIENT_ID=<unset>", "AZURE_CLIENT_SECRET=<unset>", "AZURE_FEDERATED_TOKEN_FILE=/var/run/secrets/azure/tokens/azure-identity-token"), "AZURE_FEDERATED_TOKEN_FILE needs AZURE_CLIENT_ID"},
		{"secret in the client id", with(threeTenants, "AZURE_CLIENT_ID="+ownSecret), "AZURE_CLIENT_ID is not an application (client) ID"},
		{"bad tenant id", with(threeTenants, "MCAS_TENANT_0_AZURE_TENANT_ID=not a tenant!"), "contoso: MCAS_TENANT_0_AZURE_TENANT_ID is not a directory (tenant) ID"},
		{"secret and file", with(threeTenants, "AZURE_CLIENT_SECRET_FILE="+write(t, "x")), "AZURE_CLIENT_SECRET and AZURE_CLIENT_SECRET_FILE are both set"},
		{"wrong certificate password", with(threeTenants, "MCAS_TENANT_0_AZURE_CLIENT_ID="+ownApp, "MCAS_TENANT_0_AZURE_CLIENT_CERTIFICATE_PATH="+pfxPath,
			"MCAS_TENANT_0_AZURE_CLIENT_CERTIFICATE_PASSWORD=Not-The-Pfx-Password-77"), "MCAS_TENANT_0_AZURE_CLIENT_CERTIFICATE_PATH " + pfxPath + ": not a usable PEM or PKCS#12 certificate: wrong password"},
		{"missing certificate", with(threeTenants, "AZURE_CLIENT_SECRET=<unset>", "AZURE_CLIENT_CERTIFICATE_PATH=/nope/app.pem"), "AZURE_CLIENT_CERTIFICATE_PATH: cannot read /nope/app.pem"},
		{"not a certificate", with(threeTenants, "AZURE_CLIENT_SECRET=<unset>", "AZURE_CLIENT_CERTIFICATE_PATH="+write(t, "hello")), "not a usable PEM or PKCS#12 certificate"},
		{"http authority", with(threeTenants, "AZURE_AUTHORITY_HOST=http://login.example/"), "AZURE_AUTHORITY_HOST \"http://login.example/\" is not an https URL"},
		{"bad graph url", with(threeTenants, "GRAPH_URL=graph"), "GRAPH_URL \"graph\" is not an https URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, ps := Load(tc.env, needs{slack: true, tenants: true})
			err := ps.Err()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			for _, s := range []string{appSecret, ownSecret, "Not-The-Pfx-Password-77", "tok-northwind-secret"} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("config error leaks %q: %v", s, err)
				}
			}
		})
	}
}

func TestEntraWarnings(t *testing.T) {
	pemPath := pemCert(t)
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"AZURE_TENANT_ID with several tenants", with(threeTenants, "AZURE_TENANT_ID="+dirContoso), "AZURE_TENANT_ID is ignored with MCAS_TENANT_<i>_*"},
		{"two tenants on one managed identity", with(threeTenants, "AZURE_CLIENT_SECRET=<unset>"), "tenants contoso, fabrikam all sign in with the managed identity"},
		{"secret and certificate", with(threeTenants, "AZURE_CLIENT_CERTIFICATE_PATH="+pemPath), "AZURE_CLIENT_SECRET is set with AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE: the secret is used"},
		{"group rule and a legacy tenant", with(threeTenants, "JIRA_URL=https://x.atlassian.net", "JIRA_PROJECT=SEC", "JIRA_PAT=p",
			"JIRA_PRIORITY_RULES=title~Leaked credentials&group=Staff=Highest"), "JIRA_PRIORITY_RULES tests groups, but northwind signs in with a legacy token"},
		{"misspelt per-tenant setting", with(threeTenants, "MCAS_TENANT_0_AZURE_CLIENT_SECERT=x"), "MCAS_TENANT_0_AZURE_CLIENT_SECERT is not a known setting"},
		{"AKS webhook's AZURE_TENANT_ID is no news", with(threeTenants, "AZURE_TENANT_ID="+dirContoso, "AZURE_CLIENT_SECRET=<unset>", "AZURE_FEDERATED_TOKEN_FILE=/var/run/secrets/azure/tokens/azure-identity-token"),
			"AZURE_FEDERATED_TOKEN_FILE /var/run/secrets/azure/tokens/azure-identity-token cannot be read yet"},
		{"graph over http", with(threeTenants, "GRAPH_URL=http://127.0.0.1:9"), "GRAPH_URL uses plain http"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, ps := Load(tc.env, needs{slack: true, tenants: true})
			if err := ps.Err(); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(ps); !strings.Contains(got, tc.want) {
				t.Fatalf("warnings %s lack %q", got, tc.want)
			}
		})
	}
	aks := with(threeTenants, "AZURE_TENANT_ID="+dirContoso, "AZURE_CLIENT_SECRET=<unset>", "AZURE_FEDERATED_TOKEN_FILE="+write(t, "eyJ.k8s.sig"))
	if _, _, ps := Load(aks, needs{slack: true, tenants: true}); len(ps) != 0 {
		t.Fatalf("the AKS webhook's variables warn: %v", ps)
	}
	// The good three-tenant setup has nothing to warn about.
	if _, _, ps := Load(threeTenants, needs{slack: true, tenants: true}); len(ps) != 0 {
		t.Fatalf("warnings %v", ps)
	}
}
