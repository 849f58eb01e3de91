package model

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pressly/goose/v3"
	"gorm.io/gorm"
)

// The SQL migrations of each dialect, run by goose
// (github.com/pressly/goose/v3): each file is NNNN_name.sql and starts with
// `-- +goose Up`; goose splits it on semicolons at line ends (wrap a
// statement that holds its own semicolons in `-- +goose StatementBegin` /
// `-- +goose StatementEnd`).
//
//go:embed migrations
var migrations embed.FS

const (
	// gooseTable is goose's version table (its default name).
	gooseTable = "goose_db_version"
	// legacyTable is where the hand-written runner used before goose
	// recorded applied versions ("0001", ...). It is read once to adopt an
	// existing database and never written again.
	legacyTable = "schema_migrations"
)

// gooseMu guards goose's package-level settings (base FS, dialect, table
// name, logger): every use of goose in this program goes through migrateGoose.
var gooseMu sync.Mutex

// Migration is one versioned schema change.
type Migration struct {
	Version string // e.g. "0001"
	Name    string // file name
	SQL     string
}

// Migrations returns the embedded migrations of a dialect in version order.
func Migrations(dialect string) ([]Migration, error) {
	dir := "migrations/" + dialect
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		b, err := fs.ReadFile(migrations, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		v, _, _ := strings.Cut(e.Name(), "_")
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Migrate applies, with goose, every embedded migration not yet recorded in
// goose's version table, in version order; a version lower than the newest
// applied one (migrations merged out of order) is applied too. It returns the
// file names applied.
//
// Concurrent migrators (several instances starting at once) are serialized
// by a MySQL named lock held on one connection. A database migrated by the
// hand-written runner this replaced (versions in schema_migrations) is
// adopted first: its versions are copied into goose's table.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	return db.migrateTo(ctx, math.MaxInt64)
}

// migrateTo is Migrate stopping at version target (tests build older
// schemas with it).
func (db *DB) migrateTo(ctx context.Context, target int64) ([]string, error) {
	ms, err := Migrations(db.Dialect)
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB.DB()
	if err != nil {
		return nil, err
	}
	if db.Dialect == MySQL {
		conn, err := sqlDB.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		defer conn.Close()
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK('sipay_migrate', 60)").Scan(&got); err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		if got.Int64 != 1 {
			return nil, errors.New("migration lock: another migrator held 'sipay_migrate' for 60s")
		}
		// The lock belongs to this connection's session: release it there.
		defer conn.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK('sipay_migrate')")
	}

	gooseMu.Lock()
	defer gooseMu.Unlock()
	goose.SetBaseFS(migrations)
	goose.SetTableName(gooseTable)
	goose.SetLogger(goose.NopLogger())
	dialect := "mysql"
	if db.Dialect == SQLite {
		dialect = "sqlite3"
	}
	if err := goose.SetDialect(dialect); err != nil {
		return nil, err
	}
	// Creates goose's table (with its version-0 row) when missing.
	if _, err := goose.EnsureDBVersion(sqlDB); err != nil && !errors.Is(err, goose.ErrNoNextVersion) {
		return nil, fmt.Errorf("goose version table: %w", err)
	}
	if err := db.adoptLegacyVersions(ctx); err != nil {
		return nil, err
	}
	before, err := db.gooseApplied(ctx)
	if err != nil {
		return nil, err
	}
	upErr := goose.UpTo(sqlDB, "migrations/"+db.Dialect, target, goose.WithAllowMissing())
	after, err := db.gooseApplied(ctx)
	if err != nil && upErr == nil {
		upErr = err
	}
	var names []string
	for _, m := range ms {
		v, _ := strconv.ParseInt(m.Version, 10, 64)
		if after[v] && !before[v] {
			names = append(names, m.Name)
		}
	}
	if upErr != nil {
		return names, fmt.Errorf("migrate: %w", upErr)
	}
	return names, nil
}

// gooseApplied returns the versions goose's table marks applied.
func (db *DB) gooseApplied(ctx context.Context) (map[int64]bool, error) {
	var vs []int64
	if err := db.WithContext(ctx).Raw("SELECT version_id FROM " + gooseTable + " WHERE is_applied <> 0 AND version_id > 0").Scan(&vs).Error; err != nil {
		return nil, fmt.Errorf("read %s: %w", gooseTable, err)
	}
	out := make(map[int64]bool, len(vs))
	for _, v := range vs {
		out[v] = true
	}
	return out, nil
}

// adoptLegacyVersions copies the versions the former runner recorded in
// schema_migrations into goose's table, in one transaction, when goose's
// table records no migration yet. The copy is all-or-nothing, so a crash
// before it commits leaves goose's table empty and the next run adopts again.
func (db *DB) adoptLegacyVersions(ctx context.Context) error {
	if !db.Migrator().HasTable(legacyTable) {
		return nil
	}
	applied, err := db.gooseApplied(ctx)
	if err != nil || len(applied) > 0 {
		return err
	}
	var legacy []string
	if err := db.WithContext(ctx).Raw("SELECT version FROM " + legacyTable + " ORDER BY version").Scan(&legacy).Error; err != nil {
		return fmt.Errorf("read %s: %w", legacyTable, err)
	}
	if len(legacy) == 0 {
		return nil
	}
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, s := range legacy {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil || v <= 0 {
				return fmt.Errorf("%s: version %q is not a positive number", legacyTable, s)
			}
			if err := tx.Exec("INSERT INTO "+gooseTable+" (version_id, is_applied) VALUES (?, ?)", v, true).Error; err != nil {
				return fmt.Errorf("adopt %s version %s: %w", legacyTable, s, err)
			}
		}
		return nil
	})
}
