// Package entra signs mcasbot in to Microsoft Entra ID for one tenant: it
// builds the azidentity credential the tenant's settings ask for (client
// secret, certificate, workload identity or managed identity) and hands
// out tokens per scope, cached and renewed by azidentity, with one request
// shared by concurrent callers, a bounded wait, and failures told in words
// (the AADSTS code and what it means) that never carry a secret.
package entra

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"golang.org/x/sync/singleflight"

	"github.com/soc/mcasbot/integrations/httpx"
)

// Method is how the application proves who it is.
type Method string

const (
	ClientSecret     Method = "secret"
	Certificate      Method = "certificate"
	WorkloadIdentity Method = "workload identity"
	ManagedIdentity  Method = "managed identity"
)

// DefaultAuthority is Entra ID in Microsoft's public cloud.
const DefaultAuthority = "https://login.microsoftonline.com/"

// Settings are one tenant's sign-in. They print without their secrets.
type Settings struct {
	Tenant   string // the bot's short name for the tenant, for messages
	TenantID string // directory (tenant) ID or a verified domain
	// ClientID is the application (client) ID; for a managed identity, a
	// user-assigned identity's client ID, or "" for the system-assigned one.
	ClientID string
	Method   Method

	Secret string // ClientSecret
	// Certificate: the chain and its private key (LoadCertificate).
	Certs []*x509.Certificate
	Key   crypto.PrivateKey
	// TokenFile is the workload identity's federated token file.
	TokenFile string
	// AuthorityHost defaults to DefaultAuthority. Instance discovery is
	// off for hosts that are not Microsoft's (Azure Stack, a test fake).
	AuthorityHost string
}

// Describe names the sign-in for `bot check`:
// "Entra app 0b5c… (secret)".
func (s Settings) Describe() string {
	if s.Method == ManagedIdentity && s.ClientID == "" {
		return "Entra system-assigned identity (managed identity)"
	}
	return fmt.Sprintf("Entra app %s (%s)", s.ClientID, s.Method)
}

func (s Settings) String() string   { return s.Describe() }
func (s Settings) GoString() string { return s.Describe() }

// KnownAuthority reports whether host is one of Microsoft's public or
// sovereign Entra ID authorities, which MSAL's instance discovery knows.
func KnownAuthority(host string) bool {
	switch strings.ToLower(strings.TrimSuffix(host, ".")) {
	case "login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net",
		"login.microsoftonline.us", "login.usgovcloudapi.net", "login-us.microsoftonline.com",
		"login.chinacloudapi.cn", "login.partner.microsoftonline.cn":
		return true
	}
	return false
}

// CheckAuthority validates an AZURE_AUTHORITY_HOST value.
func CheckAuthority(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Scheme != "https" {
		return fmt.Errorf("%q is not an https URL (like %s)", raw, DefaultAuthority)
	}
	return nil
}

// Credential hands out one tenant's tokens.
type Credential struct {
	settings Settings
	cred     azcore.TokenCredential
	secrets  []string

	// FetchTimeout bounds one token request (default 30s); callers stop
	// waiting when their own context ends.
	FetchTimeout time.Duration
	// RejectionTTL is how long a refusal (a wrong secret, an unknown
	// tenant) is remembered before Entra is asked again (default 30s), so
	// a burst of commands does not hammer it.
	RejectionTTL time.Duration

	// Observe, when set, sees every HTTP request the credential makes
	// (for metrics). Set it before the first Token.
	Observe func(status int, d time.Duration)

	group singleflight.Group
	mu    sync.Mutex
	fails map[string]rejection
	now   func() time.Time
}

type rejection struct {
	err   *httpx.Error
	until time.Time
}

// retry is azcore's retry of token requests; the callers retry on their
// own schedule too, so keep it short.
var retry = policy.RetryOptions{MaxRetries: 2, RetryDelay: 500 * time.Millisecond, MaxRetryDelay: 4 * time.Second}

// New builds the credential s asks for. transport carries its requests
// (nil: the default).
func New(s Settings, transport policy.Transporter) (*Credential, error) {
	if s.AuthorityHost == "" {
		s.AuthorityHost = DefaultAuthority
	}
	if err := CheckAuthority(s.AuthorityHost); err != nil {
		return nil, fmt.Errorf("%s: authority host %v", s.Tenant, err)
	}
	u, _ := url.Parse(s.AuthorityHost)
	if transport == nil {
		transport = http.DefaultClient
	}
	c := &Credential{settings: s, fails: map[string]rejection{}, now: time.Now}
	opts := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: s.AuthorityHost},
		Transport: observed{next: transport, c: c},
		Retry:     retry,
	}
	// For a host MSAL does not know it would first ask
	// login.microsoftonline.com about it: Azure Stack and fakes say no.
	noDiscovery := !KnownAuthority(u.Hostname())
	var err error
	switch s.Method {
	case ClientSecret:
		c.secrets = []string{s.Secret}
		c.cred, err = azidentity.NewClientSecretCredential(s.TenantID, s.ClientID, s.Secret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: noDiscovery})
	case Certificate:
		c.cred, err = azidentity.NewClientCertificateCredential(s.TenantID, s.ClientID, s.Certs, s.Key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: noDiscovery})
	case WorkloadIdentity:
		c.cred, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: opts,
			ClientID: s.ClientID, TenantID: s.TenantID, TokenFilePath: s.TokenFile, DisableInstanceDiscovery: noDiscovery})
	case ManagedIdentity:
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
		if s.ClientID != "" {
			mo.ID = azidentity.ClientID(s.ClientID)
		}
		c.cred, err = azidentity.NewManagedIdentityCredential(mo)
	default:
		return nil, fmt.Errorf("%s: unknown sign-in method %q", s.Tenant, s.Method)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %s", s.Tenant, s.Describe(), redact(err.Error(), c.secrets))
	}
	return c, nil
}

// Settings returns what the credential was built from.
func (c *Credential) Settings() Settings { return c.settings }

// Describe names the sign-in: "Entra app 0b5c… (secret)".
func (c *Credential) Describe() string { return c.settings.Describe() }

// Token returns an access token for scope ("<resource>/.default"). Every
// failure is an *httpx.Error whose Detail says what went wrong in words.
func (c *Credential) Token(ctx context.Context, scope string) (string, error) {
	c.mu.Lock()
	r, rejected := c.fails[scope]
	c.mu.Unlock()
	if rejected && c.now().Before(r.until) {
		return "", r.err
	}
	// Concurrent first calls share one request. It runs on its own clock,
	// so a caller that gives up does not cancel it for the others.
	ch := c.group.DoChan(scope, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.fetchTimeout())
		defer cancel()
		tok, err := c.cred.GetToken(fctx, policy.TokenRequestOptions{Scopes: []string{scope}})
		if err != nil {
			e := c.describe(err, scope, fctx.Err() != nil)
			if e.Kind == httpx.KindAuth {
				c.mu.Lock()
				c.fails[scope] = rejection{err: e, until: c.now().Add(c.rejectionTTL())}
				c.mu.Unlock()
			}
			return "", e
		}
		c.mu.Lock()
		delete(c.fails, scope)
		c.mu.Unlock()
		return tok.Token, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return res.Val.(string), nil
	case <-ctx.Done():
		return "", c.fail(scope, httpx.KindTimeout, "Entra ID gave no token in time", ctx.Err())
	}
}

func (c *Credential) fetchTimeout() time.Duration {
	if c.FetchTimeout > 0 {
		return c.FetchTimeout
	}
	return 30 * time.Second
}

func (c *Credential) rejectionTTL() time.Duration {
	if c.RejectionTTL > 0 {
		return c.RejectionTTL
	}
	return 30 * time.Second
}

func (c *Credential) fail(scope string, kind httpx.Kind, detail string, err error) *httpx.Error {
	return &httpx.Error{Service: "entra id", Op: "get a token for " + resourceName(scope), Kind: kind,
		Detail: redact(detail, c.secrets), Err: errors.New(redact(errText(err), c.secrets))}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// resourceName names the scopes mcasbot asks for.
func resourceName(scope string) string {
	switch {
	case strings.HasPrefix(scope, "05a65629-4c1b-48c1-a78b-804c4abdd4af"):
		return "Defender for Cloud Apps"
	case strings.Contains(scope, "graph."):
		return "Microsoft Graph"
	}
	return scope
}

// redact removes every secret from s.
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// observed counts the credential's HTTP requests.
type observed struct {
	next policy.Transporter
	c    *Credential
}

func (o observed) Do(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := o.next.Do(r)
	if o.c.Observe != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		o.c.Observe(status, time.Since(start))
	}
	return resp, err
}

// Roles reads the application permissions (the roles claim) from an
// access token, without verifying it: for `bot check` to say what is
// missing. ok is false when the token is not a readable JWT.
func Roles(token string) (roles []string, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, false
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	if json.Unmarshal(raw, &claims) != nil {
		return nil, false
	}
	return claims.Roles, true
}

// HasRole reports whether roles holds any of names, compared without
// case.
func HasRole(roles []string, names ...string) bool {
	return slices.ContainsFunc(roles, func(r string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(r, n) })
	})
}
