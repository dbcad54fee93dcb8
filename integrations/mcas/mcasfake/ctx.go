package mcasfake

import "context"

type bodyKey struct{}

func withBody(ctx context.Context, b ListBody) context.Context {
	return context.WithValue(ctx, bodyKey{}, b)
}

func bodyFrom(ctx context.Context) ListBody {
	b, _ := ctx.Value(bodyKey{}).(ListBody)
	return b
}

type rawKey struct{}

func withRaw(ctx context.Context, raw []byte) context.Context {
	return context.WithValue(ctx, rawKey{}, raw)
}

func rawFrom(ctx context.Context) []byte {
	b, _ := ctx.Value(rawKey{}).([]byte)
	return b
}
