package model

import "context"

// MigrateTo applies the embedded migrations up to version target, as
// Migrate does for all of them.
func (db *DB) MigrateTo(ctx context.Context, target int64) ([]string, error) {
	return db.migrateTo(ctx, target)
}
