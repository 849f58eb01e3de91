package model

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed migrations
var migrations embed.FS

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

// Migrate applies every embedded migration not yet recorded in
// schema_migrations, each in order. It returns the names applied.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	ms, err := Migrations(db.Dialect)
	if err != nil {
		return nil, err
	}
	if err := db.WithContext(ctx).Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version VARCHAR(16) NOT NULL PRIMARY KEY,
		name VARCHAR(255) NOT NULL,
		applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`).Error; err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	if db.Dialect == MySQL {
		// Serialize concurrent migrators (several instances starting at once).
		var got int
		if err := db.WithContext(ctx).Raw("SELECT GET_LOCK('sipay_migrate', 60)").Scan(&got).Error; err != nil || got != 1 {
			return nil, fmt.Errorf("migration lock: %v", err)
		}
		defer db.WithContext(ctx).Exec("SELECT RELEASE_LOCK('sipay_migrate')")
	}
	var done []string
	if err := db.WithContext(ctx).Raw("SELECT version FROM schema_migrations").Scan(&done).Error; err != nil {
		return nil, err
	}
	applied := map[string]bool{}
	for _, v := range done {
		applied[v] = true
	}
	var names []string
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		// MySQL DDL commits implicitly, so statements run one by one and the
		// version row is written last: a failed migration is re-run whole.
		for _, stmt := range splitSQL(m.SQL) {
			if err := db.WithContext(ctx).Exec(stmt).Error; err != nil {
				return names, fmt.Errorf("migration %s: %w", m.Name, err)
			}
		}
		if err := db.WithContext(ctx).Exec("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", m.Version, m.Name).Error; err != nil {
			return names, fmt.Errorf("record migration %s: %w", m.Name, err)
		}
		names = append(names, m.Name)
	}
	return names, nil
}

// splitSQL splits a migration on semicolons at line ends, dropping comments.
func splitSQL(s string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, strings.TrimSpace(cur.String()))
	}
	return out
}
