package defender

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/soc/mcasbot/integrations/httpx"
	"github.com/soc/mcasbot/source"
)

// PageSize is the $top of each page, well within what Graph serves
// (XSOAR pages alerts_v2 at up to 2,000).
const PageSize = 200

// maxPages stops a paging loop that would not end.
const maxPages = 100

type listResponse struct {
	Value    []json.RawMessage `json:"value"`
	NextLink string            `json:"@odata.nextLink"`
}

// Alerts lists alerts newest first, following @odata.nextLink only as far
// as q.Limit needs. Graph documents no $orderby for alerts_v2: it serves
// the newest first, and the client sorts what it read. Oldest first (the
// digest's cursor) reads the whole window, narrowing it to its older half
// while it holds far more than q.Limit, so no alert is skipped.
func (c *Client) Alerts(ctx context.Context, q source.AlertQuery) (source.AlertList, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 20
	}
	if !q.Oldest {
		out, _, err := c.scan(ctx, q, limit)
		sortNewest(out.Alerts)
		return out, err
	}
	// Oldest first: read the window whole (up to a cap), else its older half.
	scanCap := min(max(2*limit, 1000), 5000)
	var calls int
	for narrowed := 0; ; narrowed++ {
		out, done, err := c.scan(ctx, q, scanCap)
		out.Calls += calls
		calls = out.Calls
		if err != nil {
			return out, err
		}
		if done || narrowed == 12 || q.Since.IsZero() || len(out.Alerts) == 0 {
			slices.SortStableFunc(out.Alerts, func(a, b source.Alert) int { return a.Time.Compare(b.Time) })
			if len(out.Alerts) > limit {
				out.Alerts, out.More = out.Alerts[:limit], true
			}
			out.More = out.More || !done || narrowed > 0
			return out, nil
		}
		hi := q.Until
		if hi.IsZero() {
			hi = out.Alerts[0].Time
			for _, a := range out.Alerts {
				if a.Time.After(hi) {
					hi = a.Time
				}
			}
		}
		q.Until = q.Since.Add(hi.Sub(q.Since) / 2)
	}
}

func sortNewest(as []source.Alert) {
	slices.SortStableFunc(as, func(a, b source.Alert) int { return b.Time.Compare(a.Time) })
}

// scan reads pages until limit alerts or the end; done is true when
// Graph has no more.
func (c *Client) scan(ctx context.Context, q source.AlertQuery, limit int) (source.AlertList, bool, error) {
	const op = "list alerts"
	var out source.AlertList
	filter, err := alertFilter(c.sources, q)
	if err != nil {
		return out, false, &httpx.Error{Service: c.caller.Service, Op: op, Kind: httpx.KindBadRequest, Detail: err.Error()}
	}
	next := c.endpoint(listQuery(filter, min(limit, PageSize)), "security", "alerts_v2")
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page == maxPages {
			return out, false, &httpx.Error{Service: c.caller.Service, Op: op, Kind: httpx.KindBadResponse, Detail: "more than 100 pages of alerts"}
		}
		resp, err := c.do(ctx, c.caller, op, PermRead, call{method: http.MethodGet, target: next})
		out.Calls++
		if err != nil {
			return out, false, err
		}
		var lr listResponse
		if err := json.Unmarshal(resp.Body, &lr); err != nil {
			return out, false, c.caller.Malformed(op, err)
		}
		for _, raw := range lr.Value {
			var w wireAlert
			if err := json.Unmarshal(raw, &w); err != nil {
				return out, false, c.caller.Malformed(op, err)
			}
			a, err := w.alert(c.name)
			if err != nil {
				return out, false, c.caller.Malformed(op, err)
			}
			// Alerts arriving between pages can repeat one.
			if seen[a.ID] {
				continue
			}
			if len(out.Alerts) == limit {
				out.More = true
				return out, false, nil
			}
			seen[a.ID] = true
			out.Alerts = append(out.Alerts, a)
		}
		if lr.NextLink == "" || len(lr.Value) == 0 {
			return out, true, nil
		}
		if len(out.Alerts) == limit {
			out.More = true
			return out, false, nil
		}
		n, ok := c.sameGraph(lr.NextLink)
		if !ok {
			return out, false, &httpx.Error{Service: c.caller.Service, Op: op, Kind: httpx.KindBadResponse, Detail: "@odata.nextLink leaves " + c.base.Host}
		}
		next = n
	}
}

// Alert reads one alert by id; an id Graph does not know is
// httpx.KindNotFound.
func (c *Client) Alert(ctx context.Context, id string) (source.Alert, error) {
	w, err := c.get(ctx, "get alert", id)
	if err != nil {
		return source.Alert{}, err
	}
	a, err := w.alert(c.name)
	if err != nil {
		return source.Alert{}, c.caller.Malformed("get alert", err)
	}
	return a, nil
}

func (c *Client) get(ctx context.Context, op, id string) (wireAlert, error) {
	if !source.ValidID(id) {
		return wireAlert{}, &httpx.Error{Service: c.caller.Service, Op: op, Kind: httpx.KindBadRequest, Detail: "invalid alert id"}
	}
	resp, err := c.do(ctx, c.caller, op, PermRead, call{method: http.MethodGet, target: c.endpoint("", "security", "alerts_v2", id)})
	if err != nil {
		return wireAlert{}, err
	}
	var w wireAlert
	if err := json.Unmarshal(resp.Body, &w); err != nil {
		return wireAlert{}, c.caller.Malformed(op, err)
	}
	return w, nil
}

// windowSince is the start of a hunting window ending now.
func (c *Client) windowSince(since time.Time) time.Time {
	now := c.now().UTC()
	from := now.Add(-c.window)
	if !since.IsZero() && since.After(from) {
		from = since
	}
	if from.Before(now.Add(-MaxHuntingWindow)) {
		from = now.Add(-MaxHuntingWindow)
	}
	return from
}
