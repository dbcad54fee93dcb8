package store

import (
	"context"
	"strings"
)

// OpenBeforeForTest opens a database migrated up to, not including, the
// migration that contains marker: the schema an older mcasbot left.
func OpenBeforeForTest(ctx context.Context, url, marker string) (Store, error) {
	all := migrations
	defer func() { migrations = all }()
	for i, m := range all {
		if strings.Contains(m, marker) {
			migrations = all[:i]
			break
		}
	}
	return Open(ctx, url)
}
