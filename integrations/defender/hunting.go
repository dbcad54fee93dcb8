package defender

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/source"
)

// MaxHuntingRows bounds the rows one query asks for (advanced hunting
// returns at most 100,000; a command shows far fewer).
const MaxHuntingRows = 1000

// huntingRequest is runHuntingQuery's body. The docs capitalise the
// names, the metadata does not; Graph reads them either way.
type huntingRequest struct {
	Query    string `json:"Query"`
	Timespan string `json:"Timespan,omitempty"`
}

// huntingResponse is runHuntingQuery's answer; names are matched without
// regard to case (the docs show both "name" and "Name").
type huntingResponse struct {
	Schema []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"schema"`
	Results []map[string]json.RawMessage `json:"results"`
}

// Activities runs an advanced hunting query over CloudAppEvents: the
// address's (or the user's) activities in the hunting window, newest
// first, at most q.Limit of them.
func (c *Client) Activities(ctx context.Context, q source.ActivityQuery) (source.ActivityList, error) {
	const op = "run hunting query"
	var out source.ActivityList
	limit := q.Limit
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, MaxHuntingRows)
	from := c.windowSince(q.Since)
	// One row more than asked tells whether there are more.
	kql, err := huntingQuery(q.IP, q.User, from, limit+1)
	if err != nil {
		return out, &httpx.Error{Service: c.hunting.Service, Op: op, Kind: httpx.KindBadRequest, Detail: err.Error()}
	}
	body, _ := json.Marshal(huntingRequest{Query: kql, Timespan: timespan(c.now().Sub(from))})
	resp, err := c.do(ctx, c.hunting, op, PermHunting, call{method: http.MethodPost, target: c.endpoint("", "security", "runHuntingQuery"), body: body})
	out.Calls++
	if err != nil {
		return out, err
	}
	var hr huntingResponse
	if err := json.Unmarshal(resp.Body, &hr); err != nil {
		return out, c.hunting.Malformed(op, err)
	}
	for _, row := range hr.Results {
		a, err := activity(c.name, row)
		if err != nil {
			return out, c.hunting.Malformed(op, err)
		}
		out.Activities = append(out.Activities, a)
	}
	sortActivities(out.Activities)
	if len(out.Activities) > limit {
		out.Activities, out.More = out.Activities[:limit], true
	}
	return out, nil
}

// timespan is an ISO 8601 duration in whole days, at least one.
func timespan(d time.Duration) string {
	days := int(math.Ceil(d.Hours() / 24))
	return fmt.Sprintf("P%dD", max(days, 1))
}

func sortActivities(as []source.Activity) {
	slices.SortStableFunc(as, func(a, b source.Activity) int { return b.Time.Compare(a.Time) })
}

// column reads a row's value by name, whatever its case.
func column(row map[string]json.RawMessage, name string) string {
	v, ok := row[name]
	if !ok {
		for k, x := range row {
			if strings.EqualFold(k, name) {
				v, ok = x, true
				break
			}
		}
	}
	if !ok {
		return ""
	}
	if s := looseString(v); s != "" {
		return s
	}
	return ""
}

func activity(tenant string, row map[string]json.RawMessage) (source.Activity, error) {
	ts := column(row, "Timestamp")
	at := graphTime(&ts)
	if at.IsZero() {
		return source.Activity{}, fmt.Errorf("row without a Timestamp (%q)", ts)
	}
	what := column(row, "ActionType")
	if obj := column(row, "ObjectName"); obj != "" {
		what += ": " + obj
	}
	user := column(row, "AccountId")
	if !strings.Contains(user, "@") {
		user = firstOf(column(row, "AccountDisplayName"), user, column(row, "AccountObjectId"))
	}
	return source.Activity{
		ID: column(row, "ReportId"), Tenant: tenant, Time: at, App: column(row, "Application"), Description: what,
		IP: column(row, "IPAddress"), User: user, City: column(row, "City"), Country: column(row, "CountryCode"),
	}, nil
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
