package entra

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// LoadCertificate reads a certificate and its private key, PEM or PKCS#12
// (with password, if any). Errors never contain the password.
func LoadCertificate(data []byte, password string) ([]*x509.Certificate, crypto.PrivateKey, error) {
	var pw []byte
	if password != "" {
		pw = []byte(password)
	}
	certs, key, err := azidentity.ParseCertificates(data, pw)
	if err != nil {
		msg := redact(err.Error(), []string{password})
		switch {
		case strings.Contains(msg, "password"):
			msg = "wrong password, or the file needs one (" + msg + ")"
		case strings.Contains(msg, "no private key"):
			msg = "the file holds no private key: it needs the certificate and its key (" + msg + ")"
		}
		return nil, nil, fmt.Errorf("not a usable PEM or PKCS#12 certificate: %s", msg)
	}
	return certs, key, nil
}
