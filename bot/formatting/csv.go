package formatting

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/soc/mcasbot/bot/commands"
)

// An answer as a CSV file (issue #18), for answers bigger than a message.
// Its cells come from upstreams and are hostile: a spreadsheet must not
// read any of them as a formula.

// File is a whole answer as a CSV file.
type File struct {
	Name    string // mcas-alerts.csv
	Title   string
	Summary string // what it holds: "432 alerts from 100 tenants"
	Rows    int    // data rows, without the header
	Data    []byte // UTF-8 with a byte order mark (for Excel), CRLF lines
}

// CSV is res's whole answer as a file: every alert or activity the
// tenants returned (up to the limit each), or every tenant. ok is false
// for results without rows.
func CSV(res commands.Result) (File, bool) {
	switch r := res.(type) {
	case commands.AlertsResult:
		all := r.All
		if all == nil {
			all = r.Alerts
		}
		rows := make([][]string, len(all))
		for i, a := range all {
			status := "closed"
			if a.Open() {
				status = "open"
			}
			rows[i] = []string{csvTime(a.Time), a.Tenant, a.Severity.String(), status, a.Title, ProductName(a), a.User(),
				strings.Join(a.IPs(), " "), a.Country(), a.ID, SafeURL(a.URL)}
		}
		name := "mcas-alerts.csv"
		if strings.HasPrefix(r.Title, "Alerts for ") {
			name = "mcas-user-alerts.csv"
		}
		sum := answerSummary(len(all), "alert", "alerts", r.Tenants, r.Failures)
		return csvFile(name, Clean(r.Title), sum, []string{"time_utc", "tenant", "severity", "status", "title", "product", "user", "ips", "country", "alert_id", "link"}, rows), true
	case commands.IPResult:
		all := r.All
		if all == nil {
			all = r.Activities
		}
		rows := make([][]string, len(all))
		for i, a := range all {
			rows[i] = []string{csvTime(a.Time), a.Tenant, a.App, StripHTML(a.Description), a.User, a.IP, a.City, a.Country, a.ID}
		}
		sum := answerSummary(len(all), "activity", "activities", r.Tenants, r.Failures)
		return csvFile("mcas-ip-activity.csv", "Activity from "+r.Addr.String(), sum, []string{"time_utc", "tenant", "app", "activity", "user", "ip", "city", "country", "activity_id"}, rows), true
	case commands.TenantsResult:
		rows := make([][]string, 0, len(r.Tenants))
		for _, t := range sortedTenants(r) {
			rows = append(rows, []string{t.Name, t.Source, strings.Join(t.Groups, " "), orWord(t.Budget, "unlimited"), questionsText(t.TenantInfo),
				csvTime(t.LastOK), csvTime(t.LastFail), t.Failure})
		}
		sum := fmt.Sprintf("%d %s, %d %s", len(r.Tenants), plural(len(r.Tenants), "tenant", "tenants"), len(r.Groups), plural(len(r.Groups), "group", "groups"))
		return csvFile("mcas-tenants.csv", "Tenants", sum, []string{"tenant", "source", "groups", "budget", "questions", "last_answer_utc", "last_failure_utc", "last_failure"}, rows), true
	}
	return File{}, false
}

// answerSummary says what a CSV holds: "432 alerts from 100 tenants; 3
// failed".
func answerSummary(n int, one, many string, tenants []string, fs []commands.Failure) string {
	s := fmt.Sprintf("%d %s from %d %s", n, plural(n, one, many), len(tenants), plural(len(tenants), "tenant", "tenants"))
	if len(fs) > 0 {
		s += fmt.Sprintf("; %d failed", len(fs))
	}
	return s
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func csvFile(name, title, summary string, head []string, rows [][]string) File {
	var b bytes.Buffer
	b.WriteString("\ufeff")
	w := csv.NewWriter(&b)
	w.UseCRLF = true
	_ = w.Write(head)
	for _, r := range rows {
		out := make([]string, len(r))
		for i, c := range r {
			out[i] = CSVCell(c)
		}
		_ = w.Write(out)
	}
	w.Flush()
	return File{Name: name, Title: Cut(title+": "+summary, 250), Summary: summary, Rows: len(rows), Data: b.Bytes()}
}

// maxCSVCell keeps a cell within what spreadsheets hold (Excel: 32,767).
const maxCSVCell = 32000

// CSVCell makes one upstream string safe for a spreadsheet: control and
// bidi characters gone, whitespace folded, and a leading character that
// starts a formula (= + - @, their full-width forms, or a tab or CR before
// cleaning) neutralised with an apostrophe, as OWASP advises. Quoting is
// the CSV writer's.
func CSVCell(s string) string {
	risky := strings.HasPrefix(s, "\t") || strings.HasPrefix(s, "\r")
	s = Cut(Clean(s), maxCSVCell)
	if r, _ := utf8.DecodeRuneInString(s); strings.ContainsRune("=+-@＝＋－＠", r) {
		risky = true
	}
	if risky {
		return "'" + s
	}
	return s
}
