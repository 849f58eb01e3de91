package model_test

import (
	"sort"
	"strings"
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
