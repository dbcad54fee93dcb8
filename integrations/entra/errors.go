package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/soc/mcasbot/integrations/httpx"
)

// meanings say in words what Entra's commonest AADSTS codes mean for a
// service signing in with client credentials, and what to do.
var meanings = map[int]string{
	7000215: "Entra ID rejected the application's secret (AADSTS7000215) — it may have expired, or be the secret's ID instead of its value",
	7000222: "the application's secret has expired (AADSTS7000222) — add a new one to the app registration",
	700016:  "application not found in the directory (AADSTS700016) — is it consented in this tenant?",
	90002:   "tenant not found (AADSTS90002) — check the tenant ID and the cloud (AZURE_AUTHORITY_HOST)",
	900023:  "the tenant ID is not a valid directory ID or domain (AADSTS900023)",
	700027:  "Entra ID rejected the certificate's signed assertion (AADSTS700027) — is this certificate uploaded to the app registration?",
	700024:  "the client assertion is outside its valid time range (AADSTS700024) — check the clock; a workload identity token may have expired",
	70021:   "no federated credential of the app matches the workload identity token (AADSTS70021) — check its issuer, subject and audience",
	1002012: "invalid scope (AADSTS1002012)",
	70011:   "invalid scope (AADSTS70011)",
	500011:  "the resource is not in this tenant (AADSTS500011) — is Defender for Cloud Apps set up there?",
	65001:   "the application has no admin consent in this tenant (AADSTS65001) — an administrator must grant it",
	7000112: "the application is disabled in this tenant (AADSTS7000112)",
	700025:  "the application is a public client and cannot use client credentials (AADSTS700025)",
	50034:   "the account does not exist in this directory (AADSTS50034)",
	90033:   "Entra ID had a transient error (AADSTS90033); it is retried",
}

// Meaning describes an AADSTS code, "" when it is not a common one.
func Meaning(code int) string { return meanings[code] }

var aadsts = regexp.MustCompile(`AADSTS(\d+)`)

// entraError is Entra's error body (and the managed identity endpoints').
type entraError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Codes       []int  `json:"error_codes"`
	Message     string `json:"message"` // App Service managed identity
}

// describe turns an azidentity failure into words.
func (c *Credential) describe(err error, scope string, timedOut bool) *httpx.Error {
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		return c.describeResponse(afe.RawResponse, err, scope)
	}
	host := c.settings.AuthorityHost
	if u, perr := url.Parse(host); perr == nil {
		host = u.Host
	}
	// MSAL flattens transport errors into text, so read the text too.
	msg := cleanAzidentity(err.Error())
	cause := transportCause(msg)
	var ne net.Error
	var ue *url.Error
	switch {
	case timedOut || errors.Is(err, context.DeadlineExceeded):
		if c.settings.Method == ManagedIdentity {
			return c.fail(scope, httpx.KindTimeout, "the managed identity endpoint did not answer in time — is the bot running on Azure with a managed identity?", err)
		}
		return c.fail(scope, httpx.KindTimeout, "Entra ID ("+host+") did not answer in time", err)
	case strings.Contains(cause, "x509:") || strings.Contains(cause, "tls:"):
		return c.fail(scope, httpx.KindUnavailable, "the TLS certificate of "+host+" is not trusted ("+cause+")", err)
	case c.settings.Method == ManagedIdentity && (cause != "" || errors.As(err, &ne) || errors.As(err, &ue)):
		return c.fail(scope, httpx.KindUnavailable, "no managed identity endpoint answered — is the bot running on Azure with a managed identity? ("+firstLine(msg)+")", err)
	case cause != "" || errors.As(err, &ne) || errors.As(err, &ue):
		if cause == "" {
			cause = firstLine(msg)
		}
		return c.fail(scope, httpx.KindUnavailable, "could not reach Entra ID at "+host+": "+cause, err)
	}
	// Not an answer from Entra: a credential that cannot work here (a
	// missing token file, no managed identity). Keep azidentity's first line.
	return c.fail(scope, httpx.KindAuth, "could not sign in: "+firstLine(strings.TrimSuffix(msg, ".")), err)
}

// transportCause finds the cause in a flattened transport error,
// `… Get "https://host/path": dial tcp …: connection refused. To troubleshoot…`,
// without the URL; "" when msg is not one.
func transportCause(msg string) string {
	i := strings.Index(msg, "\"")
	if i < 0 {
		return ""
	}
	rest := msg[i+1:]
	j := strings.Index(rest, "\": ")
	if j < 0 || !strings.HasPrefix(rest, "http") {
		return ""
	}
	cause := rest[j+3:]
	if k := strings.Index(cause, ". To troubleshoot"); k >= 0 {
		cause = cause[:k]
	}
	return firstLine(cause)
}

func (c *Credential) describeResponse(resp *http.Response, err error, scope string) *httpx.Error {
	body, _ := runtime.Payload(resp)
	var e entraError
	_ = json.Unmarshal(body, &e)
	code := 0
	if len(e.Codes) > 0 {
		code = e.Codes[0]
	} else if m := aadsts.FindStringSubmatch(e.Description); m != nil {
		code, _ = strconv.Atoi(m[1])
	}
	kind := httpx.KindAuth
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		kind = httpx.KindThrottled
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		kind = httpx.KindUnavailable
	}
	var detail string
	switch {
	case meanings[code] != "":
		detail = meanings[code]
	case code != 0:
		detail = fmt.Sprintf("Entra ID refused the token request (AADSTS%d): %s", code, summary(e.Description))
	case e.Description != "":
		detail = "Entra ID refused the token request: " + summary(e.Description)
	case e.Message != "":
		detail = "the managed identity endpoint refused: " + summary(e.Message)
	default:
		detail = fmt.Sprintf("Entra ID answered HTTP %d", resp.StatusCode)
	}
	if c.settings.Method == ManagedIdentity && code == 0 && e.Message == "" && e.Description != "" {
		detail = "the managed identity endpoint refused: " + summary(e.Description)
	}
	return c.fail(scope, kind, detail, err)
}

// summary is the first sentence of an Entra message, without its
// "AADSTSnnn:" prefix and trace ids.
func summary(s string) string {
	s = aadsts.ReplaceAllString(s, "")
	s = strings.TrimLeft(s, ": ")
	for _, cut := range []string{"\r", "\n", " Trace ID:"} {
		if i := strings.Index(s, cut); i >= 0 {
			s = s[:i]
		}
	}
	return httpx.Truncate(strings.TrimSpace(s), 200)
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return httpx.Truncate(strings.TrimSpace(s), 200)
}

// cleanAzidentity drops the credential type prefix azidentity puts first.
func cleanAzidentity(s string) string {
	if name, rest, ok := strings.Cut(s, ": "); ok && strings.HasSuffix(name, "Credential") {
		return rest
	}
	return s
}
