package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

func (s *sqlStore) DigestCursor(ctx context.Context, tenant string) (DigestCursor, bool, error) {
	var newest, floor int64
	var c DigestCursor
	err := s.db.QueryRowContext(ctx, s.q(`SELECT newest_ms, source, floor_ms FROM digest_cursors WHERE tenant = ?`), tenant).Scan(&newest, &c.Source, &floor)
	if errors.Is(err, sql.ErrNoRows) {
		return DigestCursor{}, false, nil
	}
	if err != nil {
		return DigestCursor{}, false, wrap(err)
	}
	c.Newest, c.Floor = fromMS(newest), fromMS(floor)
	return c, true, nil
}

func (s *sqlStore) MoveCursor(ctx context.Context, tenant, source string, newest time.Time) error {
	// The right-hand sides read the row as it was: the floor is the cursor
	// before this move.
	const set = `floor_ms = CASE WHEN digest_cursors.source <> ? THEN digest_cursors.newest_ms ELSE digest_cursors.floor_ms END,
			source = ?, updated_ms = ?`
	if newest.IsZero() {
		_, err := s.exec(ctx, `UPDATE digest_cursors SET `+set+` WHERE tenant = ?`, source, source, ms(s.now()), tenant)
		return err
	}
	_, err := s.exec(ctx, `INSERT INTO digest_cursors (tenant, newest_ms, updated_ms, source, floor_ms) VALUES (?, ?, ?, ?, 0)
		ON CONFLICT (tenant) DO UPDATE SET `+set+`,
			newest_ms = CASE WHEN excluded.newest_ms > digest_cursors.newest_ms THEN excluded.newest_ms ELSE digest_cursors.newest_ms END`,
		tenant, ms(newest), ms(s.now()), source, source, source, ms(s.now()))
	return err
}
