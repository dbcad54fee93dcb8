package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/soc/mcasbot/integrations/httpx"
)

// findByMail returns the id of the one user whose mail or other mail
// addresses include addr, and remembers the answer: the id for CacheTTL,
// no user or several for NotFoundTTL.
func (c *Client) findByMail(ctx context.Context, addr string) (string, error) {
	const op = "find user by mail"
	q, err := mailQuery(addr)
	if err != nil {
		return "", &httpx.Error{Service: c.caller.Service, Op: op, Kind: httpx.KindBadRequest, Detail: err.Error()}
	}
	target := c.base.JoinPath("v1.0", "users")
	target.RawQuery = q
	// Graph wants the advanced query parameters (ConsistencyLevel and
	// $count=true) for some filters; sending them always is harmless.
	resp, err := c.caller.Do(ctx, op, c.request(target.String(), true))
	if err != nil {
		return "", explain(err, addr+" is not a user principal name in this directory, and finding users by mail address needs User.Read.All "+
			"(GroupMember.Read.All alone cannot search users): grant it to the application, with admin consent")
	}
	var body struct {
		Count *int `json:"@odata.count"`
		Value []struct {
			ID  string `json:"id"`
			UPN string `json:"userPrincipalName"`
		} `json:"value"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		return "", c.caller.Malformed(op, err)
	}
	n := len(body.Value)
	if body.Count != nil && *body.Count > n {
		n = *body.Count
	}
	switch {
	case n == 0:
		err := &httpx.Error{Service: c.caller.Service, Op: op, Kind: httpx.KindNotFound, Status: http.StatusNotFound,
			Detail: fmt.Sprintf("Request_ResourceNotFound: no user has the address %s: looked up by user principal name and by mail (mail and other mail addresses)", addr)}
		c.mails.Set(addr, error(err), c.notFoundTTL)
		return "", err
	case n > 1:
		var upns []string
		for _, u := range body.Value[:min(3, len(body.Value))] {
			upns = append(upns, u.UPN)
		}
		err := &httpx.Error{Service: c.caller.Service, Op: op, Kind: httpx.KindNotFound,
			Detail: fmt.Sprintf("%d users have the address %s (%s): ambiguous, so none is picked", n, addr, strings.Join(upns, ", "))}
		c.mails.Set(addr, error(err), c.notFoundTTL)
		return "", err
	}
	id := strings.ToLower(body.Value[0].ID)
	// The id goes into a URL path.
	if !plausible(id) {
		return "", &httpx.Error{Service: c.caller.Service, Op: op, Kind: httpx.KindBadResponse, Detail: fmt.Sprintf("user id %q", body.Value[0].ID)}
	}
	c.mails.SetDefault(addr, id)
	return id, nil
}

// mailLike reports whether s, a plausible user, is shaped like a mail
// address: one @ with something on each side, at most 254 bytes (RFC 5321).
func mailLike(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && domain != "" && !strings.Contains(domain, "@") && len(s) <= 254
}

// mailQuery is the query string of the search for the users having addr as
// mail or other mail address. addr is one OData string literal (its quotes
// doubled) in a filter that is percent-encoded whole, so no address can
// change the filter or add query options.
func mailQuery(addr string) (string, error) {
	if !plausible(addr) || !mailLike(addr) {
		return "", fmt.Errorf("%q is not a mail address", addr)
	}
	lit := "'" + strings.ReplaceAll(addr, "'", "''") + "'"
	filter := "mail eq " + lit + " or otherMails/any(x:x eq " + lit + ")"
	// QueryEscape writes a space as +, which some servers read as +.
	return "$filter=" + strings.ReplaceAll(url.QueryEscape(filter), "+", "%20") + "&$select=id,userPrincipalName&$count=true", nil
}
