// Package modeltest opens fresh, migrated databases for tests: SQLite in a
// temporary directory, and MySQL/MariaDB when TEST_MYSQL_DSN is set (a new
// randomly named database per call, named TEST_DB_PREFIX + random hex and
// dropped at cleanup).
//
// With REQUIRE_MYSQL=1 (set by .ci/run) a missing TEST_MYSQL_DSN fails the
// test instead of skipping it, so CI cannot pass with the MySQL tests skipped.
package modeltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	mysqldrv "github.com/go-sql-driver/mysql"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
)

// SQLite returns a fresh migrated SQLite database.
func SQLite(tb testing.TB, clock service.Clock) *model.DB {
	tb.Helper()
	return openMigrated(tb, "sqlite", "", filepath.Join(tb.TempDir(), "test.db"), clock)
}

// openMigrated opens the database of dsn (MySQL) or sqlitePath, closes it at
// cleanup and migrates it; what names it in failures.
func openMigrated(tb testing.TB, what, dsn, sqlitePath string, clock service.Clock) *model.DB {
	tb.Helper()
	db, err := model.Open(dsn, sqlitePath, clock)
	if err != nil {
		tb.Fatalf("open %s: %v", what, err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate %s: %v", what, err)
	}
	return db
}

// MySQLDSN returns TEST_MYSQL_DSN, skipping the test when it is unset (or
// failing it when REQUIRE_MYSQL=1).
func MySQLDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("TEST_MYSQL_DSN")
	if dsn == "" {
		if os.Getenv("REQUIRE_MYSQL") == "1" {
			tb.Fatalf("TEST_MYSQL_DSN is not set but REQUIRE_MYSQL=1")
		}
		tb.Skip("TEST_MYSQL_DSN not set")
	}
	return dsn
}

// MySQL returns a fresh migrated database on the server of TEST_MYSQL_DSN.
func MySQL(tb testing.TB, clock service.Clock) *model.DB {
	tb.Helper()
	return openMigrated(tb, "mysql", FreshMySQLDSN(tb), "", clock)
}

// FreshMySQLDSN creates an empty database and returns a DSN for it; the
// database is dropped at cleanup.
func FreshMySQLDSN(tb testing.TB) string {
	tb.Helper()
	cfg, err := mysqldrv.ParseDSN(MySQLDSN(tb))
	if err != nil {
		tb.Fatalf("TEST_MYSQL_DSN: %v", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := DBPrefix(tb) + strings.ToLower(hex.EncodeToString(b))
	admin, err := model.Open(cfg.FormatDSN(), "", service.SystemClock{})
	if err != nil {
		tb.Fatalf("open mysql: %v", err)
	}
	if err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci").Error; err != nil {
		tb.Fatalf("create database: %v", err)
	}
	tb.Cleanup(func() {
		admin.Exec("DROP DATABASE IF EXISTS " + name)
		admin.Close()
	})
	cfg.DBName = name
	return cfg.FormatDSN()
}

// DBPrefix is the name prefix of the per-test databases: TEST_DB_PREFIX
// (letters, digits and '_', at most 40 characters), default "t_". .ci/run
// sets one per run and drops only the databases that carry it, so parallel
// runs on one server do not drop each other's databases.
func DBPrefix(tb testing.TB) string {
	tb.Helper()
	p := os.Getenv("TEST_DB_PREFIX")
	if p == "" {
		return "t_"
	}
	if len(p) > 40 || strings.TrimLeft(strings.ToLower(p), "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		tb.Fatalf("TEST_DB_PREFIX %q: want at most 40 letters, digits or '_'", p)
	}
	return p
}

// Each runs fn against SQLite and against MySQL (when configured), as
// subtests named "sqlite" and "mysql": the store contract suite.
func Each(t *testing.T, clock service.Clock, fn func(t *testing.T, db *model.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, clock)) })
	t.Run("mysql", func(t *testing.T) { fn(t, MySQL(t, clock)) })
}
