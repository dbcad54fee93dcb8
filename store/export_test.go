package store

import "context"

// ExecForTest runs raw SQL, for tests that need to reach around the API.
func ExecForTest(s Store, query string) error {
	_, err := s.(*sqlStore).db.ExecContext(context.Background(), query)
	return err
}
