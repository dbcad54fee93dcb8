package httpx

import (
	"context"
	"log/slog"
)

type loggerKey struct{}

// WithLogger carries a request's logger (request id, user, channel) so
// client log lines made on its behalf say which request they belong to.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// LoggerFrom returns the request's logger, else fallback.
func LoggerFrom(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return fallback
}
