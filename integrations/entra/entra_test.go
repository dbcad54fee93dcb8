package entra

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soc/mcasbot/integrations/entra/entrafake"
	"github.com/soc/mcasbot/integrations/httpx"
)

const (
	tenantA   = "11111111-aaaa-4aaa-8aaa-111111111111"
	tenantB   = "22222222-bbbb-4bbb-8bbb-222222222222"
	appID     = "0b5c1e7a-3f1d-4c59-9a57-5a1f00000001"
	secret    = "Sx8Q~very-secret-client-secret-value"
	mcasScope = "05a65629-4c1b-48c1-a78b-804c4abdd4af/.default"
	mcasAud   = "05a65629-4c1b-48c1-a78b-804c4abdd4af"
)

func init() {
	// Transient failures are retried by azcore; keep its waits short here.
	retry.RetryDelay = time.Millisecond
	retry.MaxRetryDelay = 5 * time.Millisecond
}

func newFake(t *testing.T) *entrafake.Server {
	t.Helper()
	f := entrafake.New()
	t.Cleanup(f.Close)
	f.AddApp(entrafake.App{ClientID: appID, Secret: secret, Tenants: []string{tenantA, tenantB}, Roles: []string{"Investigation.Read"}})
	return f
}

func newCred(t *testing.T, f *entrafake.Server, s Settings) *Credential {
	t.Helper()
	if s.AuthorityHost == "" {
		s.AuthorityHost = f.Authority()
	}
	if s.Tenant == "" {
		s.Tenant = "contoso"
	}
	c, err := New(s, f.Client())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func secretSettings(tenant, sec string) Settings {
	return Settings{TenantID: tenant, ClientID: appID, Method: ClientSecret, Secret: sec}
}

func TestClientSecretTokenIsForTheTenantAndCached(t *testing.T) {
	f := newFake(t)
	c := newCred(t, f, secretSettings(tenantA, secret))
	tok, err := c.Token(context.Background(), mcasScope)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := f.Check(tok)
	if err != nil || claims.TenantID != tenantA || claims.Audience != mcasAud || claims.AppID != appID {
		t.Fatalf("claims %+v %v", claims, err)
	}
	for range 10 {
		if _, err := c.Token(context.Background(), mcasScope); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.TokenRequests(tenantA); n != 1 {
		t.Fatalf("%d token requests for 11 calls, want 1 (cached)", n)
	}
	// Another scope is another token; another tenant's credential its own.
	if _, err := c.Token(context.Background(), "https://graph.microsoft.com/.default"); err != nil {
		t.Fatal(err)
	}
	other := newCred(t, f, secretSettings(tenantB, secret))
	tokB, err := other.Token(context.Background(), mcasScope)
	if err != nil {
		t.Fatal(err)
	}
	if cb, _ := f.Check(tokB); cb.TenantID != tenantB {
		t.Fatalf("tenant B's token is for %s", cb.TenantID)
	}
}

func TestConcurrentFirstCallsShareOneRequest(t *testing.T) {
	f := newFake(t)
	f.SetLatency(50 * time.Millisecond)
	c := newCred(t, f, secretSettings(tenantA, secret))
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for range 30 {
		wg.Go(func() {
			if _, err := c.Token(context.Background(), mcasScope); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := f.TokenRequests(tenantA); n != 1 {
		t.Fatalf("30 concurrent first calls made %d token requests, want 1", n)
	}
}

func TestFailuresAreToldInWordsWithoutTheSecret(t *testing.T) {
	cases := []struct {
		name  string
		setup func(f *entrafake.Server) Settings
		want  string
	}{
		{"wrong secret", func(*entrafake.Server) Settings { return secretSettings(tenantA, "Wrong~secret-value-123") },
			"Entra ID rejected the application's secret (AADSTS7000215) — it may have expired"},
		{"expired secret", func(f *entrafake.Server) Settings {
			f.AddApp(entrafake.App{ClientID: "expired-app", Secret: secret, SecretExpired: true, Tenants: []string{tenantA}})
			s := secretSettings(tenantA, secret)
			s.ClientID = "expired-app"
			return s
		}, "the application's secret has expired (AADSTS7000222)"},
		{"unknown tenant", func(*entrafake.Server) Settings {
			return secretSettings("33333333-cccc-4ccc-8ccc-333333333333", secret)
		},
			"tenant not found (AADSTS90002)"},
		{"not consented", func(f *entrafake.Server) Settings {
			f.AddTenant("44444444-dddd-4ddd-8ddd-444444444444")
			return secretSettings("44444444-dddd-4ddd-8ddd-444444444444", secret)
		}, "application not found in the directory (AADSTS700016) — is it consented in this tenant?"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			s := tc.setup(f)
			c := newCred(t, f, s)
			_, err := c.Token(context.Background(), mcasScope)
			if err == nil {
				t.Fatal("got a token")
			}
			if httpx.KindOf(err) != httpx.KindAuth || !strings.Contains(httpx.Describe(err), tc.want) {
				t.Fatalf("kind %q, %q; want %q", httpx.KindOf(err), httpx.Describe(err), tc.want)
			}
			assertNoSecret(t, err, s.Secret, secret)
		})
	}
}

// assertNoSecret fails when a secret shows in any rendering of err.
func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	all := fmt.Sprintf("%v|%+v|%#v|%s", err, err, err, httpx.Describe(err))
	for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
		all += "|" + e.Error()
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(all, s) {
			t.Fatalf("secret %q leaked: %s", s, all)
		}
	}
}

func TestRejectionIsRememberedBriefly(t *testing.T) {
	f := newFake(t)
	c := newCred(t, f, secretSettings(tenantA, "Wrong~secret-value-123"))
	clock := time.Now()
	c.now = func() time.Time { return clock }
	for range 5 {
		if _, err := c.Token(context.Background(), mcasScope); err == nil {
			t.Fatal("got a token")
		}
	}
	if n := f.TokenRequests(tenantA); n != 1 {
		t.Fatalf("5 calls with a wrong secret made %d token requests, want 1", n)
	}
	clock = clock.Add(31 * time.Second)
	_, _ = c.Token(context.Background(), mcasScope)
	if n := f.TokenRequests(tenantA); n != 2 {
		t.Fatalf("after the rejection expired: %d requests, want 2", n)
	}
}

func TestTransientFailureIsNotRemembered(t *testing.T) {
	f := newFake(t)
	c := newCred(t, f, secretSettings(tenantA, secret))
	// The first call reads the OpenID configuration; fail the token
	// endpoint itself, as often as azcore tries.
	path := "/" + tenantA + "/oauth2"
	f.Fail(entrafake.Fault{Path: path, Status: 503}, entrafake.Fault{Path: path, Status: 503}, entrafake.Fault{Path: path, Status: 503})
	_, err := c.Token(context.Background(), mcasScope)
	if httpx.KindOf(err) != httpx.KindUnavailable || !httpx.Retryable(err) || !strings.Contains(httpx.Describe(err), "AADSTS90033") {
		t.Fatalf("%v (%q)", err, httpx.KindOf(err))
	}
	if _, err := c.Token(context.Background(), mcasScope); err != nil {
		t.Fatalf("next call: %v", err)
	}
}

func TestAHungAuthorityReleasesTheCaller(t *testing.T) {
	f := newFake(t)
	f.SetLatency(10 * time.Second)
	c := newCred(t, f, secretSettings(tenantA, secret))
	c.FetchTimeout = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Token(ctx, mcasScope)
	if httpx.KindOf(err) != httpx.KindTimeout || time.Since(start) > time.Second {
		t.Fatalf("%v after %v", err, time.Since(start))
	}
	f.CloseClientConnections() // end the request still waiting
}

func TestUntrustedAuthorityIsNamed(t *testing.T) {
	f := newFake(t)
	c, err := New(Settings{Tenant: "contoso", TenantID: tenantA, ClientID: appID, Method: ClientSecret, Secret: secret, AuthorityHost: f.Authority()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Token(context.Background(), mcasScope)
	if httpx.KindOf(err) != httpx.KindUnavailable || !strings.Contains(httpx.Describe(err), "is not trusted") {
		t.Fatalf("%v", httpx.Describe(err))
	}
	assertNoSecret(t, err, secret)
}

// selfSigned makes a certificate and key as PEM, like
// `openssl req -x509 -newkey rsa:2048 -nodes`.
func selfSigned(t *testing.T) ([]byte, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mcasbot"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pk, _ := x509.MarshalPKCS8PrivateKey(key)
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})...)
	return out, cert
}

func TestCertificatePEM(t *testing.T) {
	f := newFake(t)
	data, cert := selfSigned(t)
	f.AddApp(entrafake.App{ClientID: "cert-app", Certificates: []*x509.Certificate{cert}, Tenants: []string{tenantA}})
	certs, key, err := LoadCertificate(data, "")
	if err != nil {
		t.Fatal(err)
	}
	c := newCred(t, f, Settings{TenantID: tenantA, ClientID: "cert-app", Method: Certificate, Certs: certs, Key: key})
	tok, err := c.Token(context.Background(), mcasScope)
	if err != nil {
		t.Fatal(err)
	}
	if cl, _ := f.Check(tok); cl.AppID != "cert-app" || cl.TenantID != tenantA {
		t.Fatalf("claims %+v", cl)
	}
	if r := f.Requests(); r[len(r)-1].Method != "certificate" {
		t.Fatalf("request %+v", r[len(r)-1])
	}

	// A certificate the app does not know is refused in words.
	other, _ := selfSigned(t)
	certs, key, _ = LoadCertificate(other, "")
	c = newCred(t, f, Settings{TenantID: tenantA, ClientID: "cert-app", Method: Certificate, Certs: certs, Key: key})
	_, err = c.Token(context.Background(), mcasScope)
	if !strings.Contains(httpx.Describe(err), "(AADSTS700027) — is this certificate uploaded to the app registration?") {
		t.Fatalf("%v", httpx.Describe(err))
	}
}

func TestCertificatePKCS12WithPassword(t *testing.T) {
	data, err := os.ReadFile("testdata/encrypted.pfx")
	if err != nil {
		t.Fatal(err)
	}
	const password = "password"
	if _, _, err := LoadCertificate(data, "not-the-password"); err == nil || !strings.Contains(err.Error(), "wrong password") || strings.Contains(err.Error(), "not-the-password") {
		t.Fatalf("wrong password: %v", err)
	}
	certs, key, err := LoadCertificate(data, password)
	if err != nil {
		t.Fatal(err)
	}
	f := newFake(t)
	f.AddApp(entrafake.App{ClientID: "pfx-app", Certificates: certs[:1], Tenants: []string{tenantB}})
	c := newCred(t, f, Settings{TenantID: tenantB, ClientID: "pfx-app", Method: Certificate, Certs: certs, Key: key})
	if _, err := c.Token(context.Background(), mcasScope); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadCertificate([]byte("-----BEGIN CERTIFICATE-----\nnope\n"), ""); err == nil {
		t.Fatal("accepted garbage")
	}
}

func TestWorkloadIdentity(t *testing.T) {
	f := newFake(t)
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("eyJhbGciOiJSUzI1NiJ9.k8s-service-account.sig"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.AddApp(entrafake.App{ClientID: "wi-app", FederatedTokens: []string{"eyJhbGciOiJSUzI1NiJ9.k8s-service-account.sig"}, Tenants: []string{tenantA}})
	c := newCred(t, f, Settings{TenantID: tenantA, ClientID: "wi-app", Method: WorkloadIdentity, TokenFile: file})
	if _, err := c.Token(context.Background(), mcasScope); err != nil {
		t.Fatal(err)
	}
	if r := f.Requests(); r[len(r)-1].Method != "federated" {
		t.Fatalf("request %+v", r[len(r)-1])
	}
	// A projected token the app does not trust.
	_ = os.WriteFile(file, []byte("eyJhbGciOiJSUzI1NiJ9.another-account.sig"), 0o600)
	c = newCred(t, f, Settings{TenantID: tenantA, ClientID: "wi-app", Method: WorkloadIdentity, TokenFile: file})
	_, err := c.Token(context.Background(), mcasScope)
	if !strings.Contains(httpx.Describe(err), "(AADSTS70021)") {
		t.Fatalf("%v", httpx.Describe(err))
	}
}

func TestManagedIdentity(t *testing.T) {
	f := newFake(t)
	// MSAL keeps managed identity tokens in a cache shared by the process:
	// a client id of this run's own keeps an earlier run's token (signed by
	// an earlier fake) out of it (go test -count=N).
	client := fmt.Sprintf("mi-client-%d", time.Now().UnixNano())
	f.SetManagedIdentity(entrafake.ManagedIdentity{ClientID: client, Tenant: tenantB, Header: "host-secret-header", Roles: []string{"Investigation.Read"}})
	t.Setenv("IDENTITY_ENDPOINT", f.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "host-secret-header")
	c := newCred(t, f, Settings{TenantID: tenantB, ClientID: client, Method: ManagedIdentity})
	tok, err := c.Token(context.Background(), mcasScope)
	if err != nil {
		t.Fatal(err)
	}
	if cl, _ := f.Check(tok); cl.TenantID != tenantB || cl.Audience != mcasAud {
		t.Fatalf("claims %+v", cl)
	}
	c = newCred(t, f, Settings{TenantID: tenantB, ClientID: "someone-else", Method: ManagedIdentity})
	_, err = c.Token(context.Background(), mcasScope)
	if err == nil || !strings.Contains(httpx.Describe(err), "No User Assigned") {
		t.Fatalf("%v", httpx.Describe(err))
	}
}

func TestSettingsPrintWithoutSecrets(t *testing.T) {
	s := Settings{Tenant: "contoso", TenantID: tenantA, ClientID: appID, Method: ClientSecret, Secret: secret}
	out := fmt.Sprintf("%v %+v %#v %s %v", s, s, s, s, &s)
	if strings.Contains(out, secret) || !strings.Contains(out, "Entra app "+appID+" (secret)") {
		t.Fatal(out)
	}
	if got := (Settings{Method: ManagedIdentity}).Describe(); got != "Entra system-assigned identity (managed identity)" {
		t.Fatal(got)
	}
}

func TestInstanceDiscoveryOnlyForMicrosoftAuthorities(t *testing.T) {
	for _, h := range []string{"login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn", "LOGIN.MICROSOFTONLINE.COM"} {
		if !KnownAuthority(h) {
			t.Errorf("%s is Microsoft's", h)
		}
	}
	for _, h := range []string{"127.0.0.1", "adfs.contoso.com", "login.microsoftonline.com.evil.example"} {
		if KnownAuthority(h) {
			t.Errorf("%s is not Microsoft's", h)
		}
	}
	if CheckAuthority("http://login.example") == nil || CheckAuthority("login.microsoftonline.com") == nil || CheckAuthority(DefaultAuthority) != nil {
		t.Error("CheckAuthority")
	}
	// The fake's host is not Microsoft's: tokens come without MSAL asking
	// login.microsoftonline.com first (this machine has no network).
	f := newFake(t)
	if _, err := newCred(t, f, secretSettings(tenantA, secret)).Token(context.Background(), mcasScope); err != nil {
		t.Fatal(err)
	}
}

// azidentity renews a token that is about to expire (within 5 minutes)
// instead of handing it out.
func TestTokenIsRenewedBeforeItExpires(t *testing.T) {
	f := newFake(t)
	f.SetLifetime(3 * time.Minute)
	c := newCred(t, f, secretSettings(tenantA, secret))
	first, err := c.Token(context.Background(), mcasScope)
	if err != nil {
		t.Fatal(err)
	}
	f.SetLifetime(time.Hour)
	second, err := c.Token(context.Background(), mcasScope)
	if err != nil || second == first || f.TokenRequests(tenantA) != 2 {
		t.Fatalf("renewed %v, %d requests, %v", second != first, f.TokenRequests(tenantA), err)
	}
	if _, err := c.Token(context.Background(), mcasScope); err != nil || f.TokenRequests(tenantA) != 2 {
		t.Fatalf("the fresh token was not reused: %d requests, %v", f.TokenRequests(tenantA), err)
	}
}

// BenchmarkCachedToken is what signing a request costs once the tenant's
// token is cached: no request to Entra ID.
func BenchmarkCachedToken(b *testing.B) {
	f := entrafake.New()
	defer f.Close()
	f.AddApp(entrafake.App{ClientID: appID, Secret: secret, Tenants: []string{tenantA}})
	c, err := New(Settings{Tenant: "contoso", TenantID: tenantA, ClientID: appID, Method: ClientSecret, Secret: secret, AuthorityHost: f.Authority()}, f.Client())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Token(context.Background(), mcasScope); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Token(context.Background(), mcasScope); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if n := f.TokenRequests(tenantA); n != 1 {
		b.Fatalf("%d token requests", n)
	}
}

// bot check reads a token's roles without minding their case, and any of
// several roles may grant a permission.
func TestHasRole(t *testing.T) {
	roles := []string{"Investigation.Read", "SecurityAlert.ReadWrite.All"}
	if !HasRole(roles, "investigation.read") || !HasRole(roles, "SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All") {
		t.Error("a role the token carries was not found")
	}
	if HasRole(roles, "Investigation.manage") || HasRole(nil, "Investigation.Read") {
		t.Error("a role the token lacks was found")
	}
}
