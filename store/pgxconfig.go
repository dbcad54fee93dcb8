package store

import (
	"fmt"

	"github.com/jackc/pgx/v5"
)

func pgxConfig(databaseURL string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		// pgx errors can echo the URL, password included: say less.
		return nil, fmt.Errorf("postgres: DATABASE_URL is not a valid connection string")
	}
	return cfg, nil
}
