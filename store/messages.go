package store

import (
	"context"
	"database/sql"
	"errors"
)

func (s *sqlStore) SaveMessage(ctx context.Context, m MessageRecord) error {
	_, err := s.exec(ctx, `INSERT INTO digest_messages (channel, ts, body, updated_ms) VALUES (?, ?, ?, ?)
		ON CONFLICT (channel, ts) DO UPDATE SET body = excluded.body, updated_ms = excluded.updated_ms`,
		m.Channel, m.TS, string(m.Body), ms(s.now()))
	return err
}

func (s *sqlStore) LoadMessage(ctx context.Context, channel, ts string) (MessageRecord, bool, error) {
	m := MessageRecord{Channel: channel, TS: ts}
	var body string
	var at int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT body, updated_ms FROM digest_messages WHERE channel = ? AND ts = ?`), channel, ts).Scan(&body, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return MessageRecord{}, false, nil
	}
	if err != nil {
		return MessageRecord{}, false, wrap(err)
	}
	m.Body, m.UpdatedAt = []byte(body), fromMS(at)
	return m, true, nil
}
