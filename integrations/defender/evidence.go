package defender

import (
	"encoding/json"
	"strings"

	"github.com/soc/mcasbot/source"
)

// Evidence comes in some fifty @odata.types. The ones an analyst reads on a
// card become entities the formatters know (account, ip, country, service,
// app, device, file, mailbox, url); a sign-in session becomes a line of
// evidence; an unknown type with a name is kept under its own type, one
// without is skipped. Nothing here fails an alert.

type wireAccount struct {
	AccountName       string `json:"accountName"`
	DomainName        string `json:"domainName"`
	UserPrincipalName string `json:"userPrincipalName"`
	AzureAdUserID     string `json:"azureAdUserId"`
	DisplayName       string `json:"displayName"`
}

type wireEvidence struct {
	Type        string          `json:"@odata.type"`
	UserAccount *wireAccount    `json:"userAccount"`
	Account     json.RawMessage `json:"account"` // cloudLogonSessionEvidence: a userEvidence
	// ipEvidence
	IPAddress         string `json:"ipAddress"`
	CountryLetterCode string `json:"countryLetterCode"`
	// cloudApplicationEvidence, oauthApplicationEvidence
	AppID       json.RawMessage `json:"appId"`
	DisplayName string          `json:"displayName"`
	// mailboxEvidence
	PrimaryAddress string `json:"primaryAddress"`
	// urlEvidence
	URL string `json:"url"`
	// deviceEvidence
	DeviceDNSName string `json:"deviceDnsName"`
	// fileEvidence
	FileDetails *struct {
		FileName string `json:"fileName"`
	} `json:"fileDetails"`
	// cloudLogonSessionEvidence
	Browser         string `json:"browser"`
	OperatingSystem string `json:"operatingSystem"`
	Protocol        string `json:"protocol"`
	SessionID       string `json:"sessionId"`
	// Names other types carry.
	Name string `json:"name"`
}

// evidenceType is the short name of an @odata.type:
// "#microsoft.graph.security.ipEvidence" is "ip".
func evidenceType(t string) string {
	t = strings.TrimPrefix(strings.TrimPrefix(t, "#"), "microsoft.graph.security.")
	return strings.TrimSuffix(t, "Evidence")
}

func accountEntity(u *wireAccount) (source.Entity, bool) {
	if u == nil {
		return source.Entity{}, false
	}
	e := source.Entity{Type: "account", UPN: strings.TrimSpace(u.UserPrincipalName), ID: strings.TrimSpace(u.AzureAdUserID)}
	switch {
	case e.UPN != "":
		e.Label = e.UPN
	case u.AccountName != "" && u.DomainName != "":
		e.Label = u.DomainName + `\` + u.AccountName
	case u.AccountName != "":
		e.Label = u.AccountName
	default:
		e.Label = strings.TrimSpace(u.DisplayName)
	}
	if e.Label == "" && e.ID == "" {
		return source.Entity{}, false
	}
	if e.ID == "" {
		e.ID = e.Label
	}
	return e, true
}

// decodeEvidence reads one evidence item into entities and, for what is
// no entity, a line of text.
func decodeEvidence(raw json.RawMessage) ([]source.Entity, string) {
	var w wireEvidence
	if json.Unmarshal(raw, &w) != nil {
		return nil, ""
	}
	var out []source.Entity
	add := func(typ, id, label string) {
		id, label = strings.TrimSpace(id), strings.TrimSpace(label)
		if id == "" && label == "" {
			return
		}
		if label == "" {
			label = id
		}
		out = append(out, source.Entity{Type: typ, ID: id, Label: label})
	}
	switch typ := evidenceType(w.Type); typ {
	case "user":
		if e, ok := accountEntity(w.UserAccount); ok {
			out = append(out, e)
		}
	case "ip":
		add("ip", w.IPAddress, w.IPAddress)
		if cc := strings.TrimSpace(w.CountryLetterCode); cc != "" {
			add("country", cc, cc)
		}
	case "cloudApplication":
		add("service", looseString(w.AppID), w.DisplayName)
	case "oauthApplication":
		add("app", looseString(w.AppID), w.DisplayName)
	case "mailbox":
		add("mailbox", w.PrimaryAddress, w.PrimaryAddress)
		if e, ok := accountEntity(w.UserAccount); ok {
			out = append(out, e)
		}
	case "url":
		add("url", "", w.URL)
	case "device":
		add("device", "", w.DeviceDNSName)
	case "file":
		if w.FileDetails != nil {
			add("file", "", w.FileDetails.FileName)
		}
	case "cloudLogonSession":
		if len(w.Account) > 0 {
			ents, _ := decodeEvidence(w.Account)
			out = append(out, ents...)
		}
		var parts []string
		for _, p := range []string{w.Browser, w.OperatingSystem, w.Protocol} {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		if len(parts) > 0 {
			return out, "Sign-in session: " + strings.Join(parts, " · ")
		}
	case "":
	default:
		name := w.DisplayName
		if name == "" {
			name = w.Name
		}
		add(typ, "", name)
	}
	return out, ""
}
