package ops

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness condition.
type Check struct {
	Name string
	OK   func() bool
	// Detail, optional, is shown in /readyz's body under details.<Name>,
	// up or down: what an operator needs to know, such as a refused reload
	// of the tenants file while the tenants loaded before are served.
	Detail func() any
}

// Handler serves /healthz, /readyz and /metrics.
func Handler(m *Metrics, checks ...Check) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		status := map[string]string{}
		details := map[string]any{}
		var down []string
		for _, c := range checks {
			if c.OK() {
				status[c.Name] = "up"
			} else {
				status[c.Name] = "down"
				down = append(down, c.Name)
			}
			if c.Detail != nil {
				details[c.Name] = c.Detail()
			}
		}
		body := map[string]any{"status": "ready", "checks": status}
		if len(details) > 0 {
			body["details"] = details
		}
		code := http.StatusOK
		if len(down) > 0 {
			code = http.StatusServiceUnavailable
			body["status"], body["down"] = "not ready", down
		}
		writeJSON(w, code, body)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	return mux
}

// Server is the operator HTTP server.
func Server(addr string, h http.Handler) *http.Server {
	return &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
