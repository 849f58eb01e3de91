package model_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

// schema lists table → sorted column names.
func schema(t *testing.T, db *model.DB) map[string]string {
	t.Helper()
	tables, err := db.Migrator().GetTables()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, tbl := range tables {
		if strings.HasPrefix(tbl, "sqlite_") {
			continue
		}
		cols, err := db.Migrator().ColumnTypes(tbl)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range cols {
			names = append(names, c.Name())
		}
		sort.Strings(names)
		out[tbl] = strings.Join(names, ",")
	}
	return out
}

// TestMigrationsSameSchema checks that the MySQL and SQLite migrations
// produce the same tables and columns, and that both dialects carry the same
// migration versions.
func TestMigrationsSameSchema(t *testing.T) {
	my, err := model.Migrations(model.MySQL)
	if err != nil {
		t.Fatal(err)
	}
	lite, err := model.Migrations(model.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if len(my) != len(lite) {
		t.Fatalf("mysql has %d migrations, sqlite %d", len(my), len(lite))
	}
	for i := range my {
		if my[i].Name != lite[i].Name {
			t.Fatalf("migration %d: mysql %s, sqlite %s", i, my[i].Name, lite[i].Name)
		}
	}
	clock := service.NewManualClock(time.Now())
	a := schema(t, modeltest.SQLite(t, clock))
	b := schema(t, modeltest.MySQL(t, clock))
	for tbl, cols := range a {
		if b[tbl] != cols {
			t.Errorf("table %s: sqlite columns %s, mysql %s", tbl, cols, b[tbl])
		}
	}
	for tbl := range b {
		if _, ok := a[tbl]; !ok {
			t.Errorf("table %s exists only on mysql", tbl)
		}
	}
}

func TestMigrateTwiceIsNoop(t *testing.T) {
	modeltest.Each(t, service.SystemClock{}, func(t *testing.T, db *model.DB) {
		applied, err := db.Migrate(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != 0 {
			t.Fatalf("second migrate applied %v, want nothing", applied)
		}
	})
}

// emptyDB returns an opener of one empty database of the dialect (each call
// a new handle, as another instance would have), without migrating it.
func emptyDB(t *testing.T, dialect string) func() *model.DB {
	t.Helper()
	dsn, path := "", ""
	if dialect == model.MySQL {
		dsn = modeltest.FreshMySQLDSN(t)
	} else {
		path = filepath.Join(t.TempDir(), "legacy.db")
	}
	return func() *model.DB {
		db, err := model.Open(dsn, path, service.SystemClock{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
}

func eachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, model.SQLite) })
	t.Run("mysql", func(t *testing.T) {
		modeltest.MySQLDSN(t)
		fn(t, model.MySQL)
	})
}

// TestMigrateAdoptsLegacyRunner upgrades a database the former hand-written
// runner migrated (versions "0001".. in schema_migrations, no goose table):
// goose must take those versions as applied and run only the newer files.
func TestMigrateAdoptsLegacyRunner(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ctx := t.Context()
		db := emptyDB(t, dialect)()
		ms, err := model.Migrations(dialect)
		if err != nil {
			t.Fatal(err)
		}
		// The schema as of version 0021, then the bookkeeping the former
		// runner left: its table and rows, and no goose table.
		if _, err := db.MigrateTo(ctx, 21); err != nil {
			t.Fatal(err)
		}
		if err := db.Exec("DROP TABLE goose_db_version").Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Exec(`CREATE TABLE schema_migrations (
		version VARCHAR(16) NOT NULL PRIMARY KEY,
		name VARCHAR(255) NOT NULL,
		applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`).Error; err != nil {
			t.Fatal(err)
		}
		var old, newer []string
		for _, m := range ms {
			if m.Version <= "0021" {
				old = append(old, m.Version)
				if err := db.Exec("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", m.Version, m.Name).Error; err != nil {
					t.Fatal(err)
				}
			} else {
				newer = append(newer, m.Name)
			}
		}
		if len(old) == 0 || len(newer) == 0 {
			t.Fatalf("want migrations on both sides of 0021, got %v and %v", old, newer)
		}

		applied, err := db.Migrate(ctx)
		if err != nil {
			t.Fatalf("migrate a legacy database: %v", err)
		}
		if strings.Join(applied, ",") != strings.Join(newer, ",") {
			t.Fatalf("applied %v, want only %v", applied, newer)
		}
		var versions []int64
		if err := db.Raw("SELECT version_id FROM goose_db_version WHERE is_applied <> 0 AND version_id > 0 ORDER BY version_id").Scan(&versions).Error; err != nil {
			t.Fatal(err)
		}
		if len(versions) != len(ms) {
			t.Fatalf("goose records versions %v, want all %d migrations", versions, len(ms))
		}
		again, err := db.Migrate(ctx)
		if err != nil || len(again) != 0 {
			t.Fatalf("second migrate: applied %v, err %v", again, err)
		}
		var legacyRows int64
		if err := db.Raw("SELECT COUNT(*) FROM schema_migrations").Scan(&legacyRows).Error; err != nil || legacyRows != int64(len(old)) {
			t.Fatalf("schema_migrations has %d rows (err %v), want it untouched with %d", legacyRows, err, len(old))
		}
		// The adopted database has the schema of a fresh one.
		fresh := schema(t, openMigrated(t, dialect))
		got := schema(t, db)
		delete(got, "schema_migrations")
		if !reflect.DeepEqual(got, fresh) {
			t.Fatalf("adopted schema differs from a fresh one:\n%v\n%v", got, fresh)
		}
	})
}

func openMigrated(t *testing.T, dialect string) *model.DB {
	if dialect == model.MySQL {
		return modeltest.MySQL(t, service.SystemClock{})
	}
	return modeltest.SQLite(t, service.SystemClock{})
}

// TestMigrateConcurrentInstances starts several server processes' migrators
// on one empty MySQL database at once (separate processes, so only the
// database lock can serialize them): every migrator succeeds and each
// migration is applied exactly once.
func TestMigrateConcurrentInstances(t *testing.T) {
	if dsn := os.Getenv("SIPAY_MIGRATE_CHILD_DSN"); dsn != "" {
		db, err := model.Open(dsn, "", service.SystemClock{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		applied, err := db.Migrate(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("APPLIED:%s\n", strings.Join(applied, ","))
		return
	}
	dsn := modeltest.FreshMySQLDSN(t)
	ms, err := model.Migrations(model.MySQL)
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	outs := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestMigrateConcurrentInstances$", "-test.count=1")
			cmd.Env = append(os.Environ(), "SIPAY_MIGRATE_CHILD_DSN="+dsn)
			outs[i], errs[i] = cmd.CombinedOutput()
		})
	}
	wg.Wait()
	var all []string
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("migrator %d: %v\n%s", i, errs[i], outs[i])
		}
		for _, line := range strings.Split(string(outs[i]), "\n") {
			if names, ok := strings.CutPrefix(line, "APPLIED:"); ok && names != "" {
				all = append(all, strings.Split(names, ",")...)
			}
		}
	}
	sort.Strings(all)
	var want []string
	for _, m := range ms {
		want = append(want, m.Name)
	}
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("the %d migrators applied %v together, want each of %v once", n, all, want)
	}
}
