package commands

import (
	"net/netip"
	"reflect"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func equalReq(a, b Request) bool {
	if x, ok := a.(AlertsRequest); ok {
		y, ok := b.(AlertsRequest)
		if !ok || !x.Since.Equal(y.Since) {
			return false
		}
		x.Since = y.Since
		return reflect.DeepEqual(x, y)
	}
	return reflect.DeepEqual(a, b)
}
