// Package entrafake is an in-process Microsoft Entra ID authority over TLS,
// speaking the wire format azidentity (MSAL) uses: the OpenID
// configuration, the client-credentials grant with a client secret, a
// certificate's signed assertion or a workload identity's federated token,
// an App Service style managed identity endpoint, and Entra's AADSTS error
// answers. Its tokens name the directory (tid), the resource (aud) and the
// application permissions (roles) they were issued for; Check reads them
// back, so the fake MCAS and Graph can accept only their own tenant's.
//
// In-process tests hand Client() (or its Transport) to the credential;
// another process trusts the fake through SSL_CERT_FILE (WriteCA), since Go
// reads that variable once per process.
package entrafake

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/soc/mcasbot/integrations/internal/fault"
)

// App is an application registration.
type App struct {
	ClientID string
	// Secret is the client secret's value ("" = none). SecretExpired makes
	// Entra answer AADSTS7000222 for it.
	Secret        string
	SecretExpired bool
	// Certificates whose keys may sign client assertions.
	Certificates []*x509.Certificate
	// FederatedTokens are workload identity tokens the app trusts.
	FederatedTokens []string
	// Tenants are the directories where the app exists (its home tenant,
	// and every tenant that consented to a multi-tenant app).
	Tenants []string
	// Roles are the application permissions granted, e.g.
	// Investigation.Read, GroupMember.Read.All.
	Roles []string
}

// ManagedIdentity is the identity the managed identity endpoint serves.
type ManagedIdentity struct {
	ClientID string // "" = system-assigned only
	Tenant   string // its home directory
	Roles    []string
	Header   string // the X-IDENTITY-HEADER value the host expects
}

// Request is a token request the fake received, for assertions.
type Request struct {
	Path     string
	Tenant   string
	ClientID string
	Scope    string
	Method   string // secret, certificate, federated, managed identity
	Status   int
}

// Claims are what a token says.
type Claims struct {
	TenantID string   `json:"tid"`
	Audience string   `json:"aud"`
	AppID    string   `json:"appid"`
	Roles    []string `json:"roles,omitempty"`
	Issuer   string   `json:"iss"`
	Expires  int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	NotAfter int64    `json:"nbf"`
	TokenID  string   `json:"uti"`
}

// Fault is an injected answer; its default body is an AADSTS error.
type Fault = fault.Fault

// Server is a fake Entra ID authority.
type Server struct {
	*httptest.Server

	faults fault.Queue
	key    []byte

	mu       sync.Mutex
	tenants  map[string]bool
	apps     map[string]App
	mi       *ManagedIdentity
	requests []Request
	lifetime time.Duration
}

// New starts a fake authority (TLS) that knows no tenant and no app yet.
func New() *Server {
	s := &Server{key: make([]byte, 32), tenants: map[string]bool{}, apps: map[string]App{}, lifetime: time.Hour}
	_, _ = rand.Read(s.key)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.openID)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.token)
	mux.HandleFunc("GET /msi/token", s.managed)
	s.Server = httptest.NewUnstartedServer(mux)
	// Clients that do not trust the fake are a tested case, not news.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	return s
}

// Authority is the AZURE_AUTHORITY_HOST value pointing at the fake.
func (s *Server) Authority() string { return s.URL + "/" }

// AddTenant makes directories known (others answer AADSTS90002).
func (s *Server) AddTenant(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.tenants[strings.ToLower(id)] = true
	}
}

// AddApp registers an application; its tenants become known too.
func (s *Server) AddApp(a App) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[a.ClientID] = a
	for _, t := range a.Tenants {
		s.tenants[strings.ToLower(t)] = true
	}
}

// SetManagedIdentity serves mi at /msi/token, as App Service does (point
// IDENTITY_ENDPOINT at URL+"/msi/token" and IDENTITY_HEADER at mi.Header).
func (s *Server) SetManagedIdentity(mi ManagedIdentity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mi = &mi
	s.tenants[strings.ToLower(mi.Tenant)] = true
}

// SetLifetime sets how long new tokens last (default 1h).
func (s *Server) SetLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lifetime = d
}

// Fail queues faults for the next requests (Path "/<tenant>/oauth2" to
// hit token requests only).
func (s *Server) Fail(f ...Fault) { s.faults.Add(f...) }

// SetLatency delays every answer.
func (s *Server) SetLatency(d time.Duration) { s.faults.SetLatency(d) }

// Requests are the token requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// TokenRequests counts the token requests for a directory.
func (s *Server) TokenRequests(tenant string) int {
	n := 0
	for _, r := range s.Requests() {
		if strings.EqualFold(r.Tenant, tenant) {
			n++
		}
	}
	return n
}

// WriteCA writes the fake's certificate as PEM to path, for SSL_CERT_FILE.
func (s *Server) WriteCA(path string) error {
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	return os.WriteFile(path, b, 0o600)
}

// Check verifies a token this fake issued and returns its claims.
func (s *Server) Check(token string) (Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, errors.New("not a JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, s.sign(parts[0]+"."+parts[1])) {
		return Claims{}, errors.New("invalid signature")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return Claims{}, err
	}
	var c Claims
	if err := json.Unmarshal(raw, &c); err != nil {
		return Claims{}, err
	}
	if time.Now().Unix() >= c.Expires {
		return Claims{}, errors.New("token expired")
	}
	return c, nil
}

func (s *Server) sign(data string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func (s *Server) issue(tenant, resource, appID string, roles []string) (string, int) {
	s.mu.Lock()
	life := s.lifetime
	s.mu.Unlock()
	now := time.Now()
	c := Claims{TenantID: tenant, Audience: resource, AppID: appID, Roles: roles, Issuer: "https://sts.windows.net/" + tenant + "/",
		IssuedAt: now.Unix(), NotAfter: now.Unix(), Expires: now.Add(life).Unix(), TokenID: randomID()}
	head := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"HS256"}`))
	body, _ := json.Marshal(c)
	data := head + "." + base64.RawURLEncoding.EncodeToString(body)
	return data + "." + base64.RawURLEncoding.EncodeToString(s.sign(data)), int(life.Seconds())
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) known(tenant string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tenants[strings.ToLower(tenant)]
}

func (s *Server) openID(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if s.faults.Apply(w, r, s.faults.Take(r.URL.Path), s.defaultError) {
		return
	}
	if !s.known(tenant) {
		s.writeError(w, http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant))
		return
	}
	base := s.URL + "/" + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              s.URL + "/" + tenant + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                s.URL + "/" + tenant + "/v2.0",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
	})
}

const (
	jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	_ = r.ParseForm()
	req := Request{Path: r.URL.Path, Tenant: tenant, ClientID: r.PostForm.Get("client_id"), Scope: r.PostForm.Get("scope")}
	switch {
	case r.PostForm.Get("client_secret") != "":
		req.Method = "secret"
	case r.PostForm.Get("client_assertion") != "":
		req.Method = "assertion"
	}
	status, answer := s.grant(r, tenant, &req)
	req.Status = status
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	answer(w)
}

// grant decides a token request; the answer is written after it is recorded.
func (s *Server) grant(r *http.Request, tenant string, req *Request) (int, func(http.ResponseWriter)) {
	// A fault answers instead of the grant; a latency only delays it.
	rec := &deferred{}
	if s.faults.Apply(rec, r, s.faults.Take(r.URL.Path), s.defaultError) {
		return rec.status, rec.replay
	}
	fail := func(status int, code string, n int, msg string) (int, func(http.ResponseWriter)) {
		return status, func(w http.ResponseWriter) { s.writeError(w, status, code, n, msg) }
	}
	form := r.PostForm
	if form.Get("grant_type") != "client_credentials" {
		return fail(http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+form.Get("grant_type")+"'.")
	}
	if !s.known(tenant) {
		return fail(http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
	}
	clientID := form.Get("client_id")
	s.mu.Lock()
	app, ok := s.apps[clientID]
	s.mu.Unlock()
	if !ok || !slices.ContainsFunc(app.Tenants, func(t string) bool { return strings.EqualFold(t, tenant) }) {
		return fail(http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant))
	}
	resource, ok := resourceOf(form.Get("scope"))
	if !ok {
		return fail(http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", form.Get("scope")))
	}
	switch {
	case form.Get("client_secret") != "":
		switch {
		case app.Secret == "" || !hmac.Equal([]byte(form.Get("client_secret")), []byte(app.Secret)):
			return fail(http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
		case app.SecretExpired:
			return fail(http.StatusUnauthorized, "invalid_client", 7000222, fmt.Sprintf("The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", clientID))
		}
	case form.Get("client_assertion") != "":
		if form.Get("client_assertion_type") != jwtBearer {
			return fail(http.StatusBadRequest, "invalid_request", 50027, "Invalid JWT token. Unsupported client_assertion_type.")
		}
		assertion := form.Get("client_assertion")
		if slices.Contains(app.FederatedTokens, assertion) {
			req.Method = "federated"
			break
		}
		req.Method = "certificate"
		if len(app.Certificates) == 0 && len(app.FederatedTokens) > 0 {
			req.Method = "federated"
			return fail(http.StatusBadRequest, "invalid_request", 70021, "No matching federated identity record found for presented assertion. Assertion Issuer: 'https://kubernetes.default.svc'. Assertion Subject: 'system:serviceaccount:soc:mcasbot'.")
		}
		if msg := s.checkAssertion(app, assertion, s.URL+r.URL.Path); msg != "" {
			return fail(http.StatusUnauthorized, "invalid_client", 700027, msg)
		}
	default:
		return fail(http.StatusBadRequest, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	token, life := s.issue(strings.ToLower(tenant), resource, clientID, app.Roles)
	return http.StatusOK, func(w http.ResponseWriter) {
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": life, "ext_expires_in": life, "access_token": token})
	}
}

// resourceOf reads the resource of a client-credentials scope, which must
// be "<resource>/.default".
func resourceOf(scope string) (string, bool) {
	for _, s := range strings.Fields(scope) {
		if res, ok := strings.CutSuffix(s, "/.default"); ok && res != "" {
			return res, true
		}
	}
	return "", false
}

// checkAssertion verifies a certificate's client assertion as Entra does:
// a JWT signed with PS256 (or RS256) by a key whose certificate thumbprint
// is registered on the app, for this token endpoint, not expired.
func (s *Server) checkAssertion(app App, assertion, endpoint string) string {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return "Client assertion contains an invalid signature."
	}
	var head struct {
		Alg    string `json:"alg"`
		X5T    string `json:"x5t"`
		X5T256 string `json:"x5t#S256"`
	}
	var claims struct {
		Aud string `json:"aud"`
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Exp int64  `json:"exp"`
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &head) != nil || json.Unmarshal(cb, &claims) != nil {
		return "Client assertion is not a valid JWT."
	}
	var cert *x509.Certificate
	for _, c := range app.Certificates {
		sum := sha256.Sum256(c.Raw)
		if head.X5T256 == base64.StdEncoding.EncodeToString(sum[:]) || head.X5T256 == base64.RawURLEncoding.EncodeToString(sum[:]) {
			cert = c
		}
	}
	if cert == nil {
		return fmt.Sprintf("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'.]", head.X5T256, app.ClientID)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return "Client assertion failed signature validation."
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	var err error
	switch head.Alg {
	case "PS256":
		err = rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	case "RS256":
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
	default:
		err = errors.New("alg")
	}
	switch {
	case err != nil:
		return "Client assertion failed signature validation."
	case claims.Iss != app.ClientID || claims.Sub != app.ClientID:
		return "The issuer and subject of the client assertion must be the application's client ID."
	case claims.Aud != endpoint:
		return "The audience claim of the client assertion does not match the token endpoint."
	case time.Now().Unix() > claims.Exp:
		return "The client assertion has expired."
	}
	return ""
}

// managed answers like App Service's managed identity endpoint.
func (s *Server) managed(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := Request{Path: r.URL.Path, ClientID: q.Get("client_id"), Scope: q.Get("resource"), Method: "managed identity"}
	s.mu.Lock()
	mi := s.mi
	s.mu.Unlock()
	record := func(status int) {
		req.Status = status
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
	}
	if mi == nil || r.Header.Get("X-IDENTITY-HEADER") != mi.Header {
		record(http.StatusUnauthorized)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"statusCode": 401, "message": "Unauthorized: the X-IDENTITY-HEADER is missing or wrong."})
		return
	}
	req.Tenant = mi.Tenant
	if id := q.Get("client_id"); id != "" && id != mi.ClientID {
		record(http.StatusBadRequest)
		writeJSON(w, http.StatusBadRequest, map[string]any{"statusCode": 400, "message": "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId."})
		return
	}
	resource := strings.TrimSuffix(q.Get("resource"), "/")
	token, life := s.issue(strings.ToLower(mi.Tenant), resource, mi.ClientID, mi.Roles)
	record(http.StatusOK)
	writeJSON(w, http.StatusOK, map[string]any{"access_token": token, "expires_on": fmt.Sprint(time.Now().Add(time.Duration(life) * time.Second).Unix()),
		"resource": resource, "token_type": "Bearer", "client_id": mi.ClientID})
}

// writeError answers in Entra's error format.
func (s *Server) writeError(w http.ResponseWriter, status int, code string, n int, msg string) {
	writeJSON(w, status, errorBody(code, n, msg))
}

func errorBody(code string, n int, msg string) map[string]any {
	trace, corr := randomID(), randomID()
	ts := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	return map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", n, msg, trace, corr, ts),
		"error_codes":       []int{n},
		"timestamp":         ts,
		"trace_id":          trace,
		"correlation_id":    corr,
		"error_uri":         fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", n),
	}
}

func (s *Server) defaultError(status int) string {
	code, n, msg := "temporarily_unavailable", 90033, "A transient error has occurred. Please try again."
	if status == http.StatusTooManyRequests {
		code, n, msg = "temporarily_unavailable", 50196, "The server terminated an operation because it encountered a client request loop."
	}
	b, _ := json.Marshal(errorBody(code, n, msg))
	return string(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// deferred holds a fault's answer until the request is recorded.
type deferred struct {
	header http.Header
	status int
	body   []byte
}

func (d *deferred) Header() http.Header {
	if d.header == nil {
		d.header = http.Header{}
	}
	return d.header
}
func (d *deferred) Write(b []byte) (int, error) { d.body = append(d.body, b...); return len(b), nil }
func (d *deferred) WriteHeader(status int)      { d.status = status }

func (d *deferred) replay(w http.ResponseWriter) {
	for k, v := range d.header {
		w.Header()[k] = v
	}
	if d.status == 0 {
		// The fault's delay outlived the request: nothing to answer.
		return
	}
	w.WriteHeader(d.status)
	_, _ = w.Write(d.body)
}
