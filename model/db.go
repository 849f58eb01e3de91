// Package model stores the domain in MySQL/MariaDB (production) or pure-Go
// SQLite (the embedded default) through GORM. It holds the row structs, their
// converters to service types, the stores and the versioned migrations.
package model

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	mysqldrv "github.com/go-sql-driver/mysql"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/shebao/sipay/service"
)

// Dialect names.
const (
	MySQL  = "mysql"
	SQLite = "sqlite"
)

// DB is the database handle shared by the stores.
type DB struct {
	*gorm.DB
	Dialect string
	Clock   service.Clock
	// multiDB is a second MySQL pool that accepts several statements in one
	// round trip, used only by the fixed statements of the payment path
	// (model/paid.go); nil on SQLite, which has no round trips.
	multiDB *gorm.DB
}

// multi returns the handle for multi-statement writes.
func (db *DB) multi() *gorm.DB {
	if db.multiDB != nil {
		return db.multiDB
	}
	return db.DB
}

// Handles returns every GORM handle of db (the main pool and, on MySQL, the
// multi-statement pool), so callbacks can be registered on all of them.
func (db *DB) Handles() []*gorm.DB {
	if db.multiDB != nil {
		return []*gorm.DB{db.DB, db.multiDB}
	}
	return []*gorm.DB{db.DB}
}

// Open connects to MySQL when dsn is set, else to the SQLite file at
// sqlitePath. Times are stored in UTC; GORM's NowFunc is the injected clock.
func Open(dsn, sqlitePath string, clock service.Clock) (*DB, error) {
	cfg := &gorm.Config{
		NowFunc:        func() time.Time { return clock.Now().UTC() },
		TranslateError: true,
		Logger:         logger.Discard,
		PrepareStmt:    false,
		// Multi-statement writes use DB.Tx explicitly; a lone statement is
		// atomic, so GORM's implicit BEGIN/COMMIT would only add round trips.
		SkipDefaultTransaction: true,
	}
	if dsn != "" {
		parsed, err := MySQLConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("MYSQL_DSN: %w", err)
		}
		open := func(dsn string, conns int) (*gorm.DB, error) {
			c := *cfg // gorm.Open keeps and fills its config: one each
			gdb, err := gorm.Open(mysql.Open(dsn), &c)
			if err != nil {
				return nil, err
			}
			sqlDB, err := gdb.DB()
			if err != nil {
				return nil, err
			}
			SetPool(sqlDB, conns)
			registerConnErrors(gdb)
			return gdb, nil
		}
		gdb, err := open(parsed.FormatDSN(), 32)
		var me *mysqldrv.MySQLError
		if err != nil && errors.As(err, &me) && me.Number == 1049 {
			// Unknown database (the README's docker command starts an
			// empty server): create it once, then open again.
			if cerr := createMySQLDatabase(parsed); cerr != nil {
				return nil, fmt.Errorf("MYSQL_DSN: database %q does not exist on %s and could not be created (%v); create it with: CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
					parsed.DBName, parsed.Addr, oneLine(cerr), parsed.DBName)
			}
			gdb, err = open(parsed.FormatDSN(), 32)
		}
		if err != nil {
			return nil, mysqlOpenError(parsed, err)
		}
		// Multi-statement queries only on a pool of their own, used by
		// fixed statements with bound parameters (model/paid.go). It carries
		// every first-delivery payment notification, so it gets as many
		// connections as the main pool: with 16, a burst of notifications
		// queued for a connection while the database could have grouped
		// twice as many commits in one fsync.
		parsed.MultiStatements = true
		multi, err := open(parsed.FormatDSN(), 32)
		if err != nil {
			if sqlDB, derr := gdb.DB(); derr == nil {
				sqlDB.Close()
			}
			return nil, err
		}
		return &DB{DB: gdb, Dialect: MySQL, Clock: clock, multiDB: multi}, nil
	}
	if err := os.MkdirAll(filepath.Dir(sqlitePath), 0o700); err != nil {
		return nil, fmt.Errorf("DATA_DIR: %w", err)
	}
	// WAL and a busy timeout let readers and one writer share the file;
	// immediate transactions take the write lock up front so conditional
	// updates never deadlock on lock upgrades.
	gdb, err := gorm.Open(sqlite.Open("file:"+sqlitePath+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"), cfg)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(4)
	registerConnErrors(gdb)
	return &DB{DB: gdb, Dialect: SQLite, Clock: clock}, nil
}

// Ping checks the connection.
func (db *DB) Ping(ctx context.Context) error {
	sqlDB, err := db.DB.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Close closes the pools.
func (db *DB) Close() error {
	var errs []error
	for _, h := range db.Handles() {
		sqlDB, err := h.DB()
		if err == nil {
			err = sqlDB.Close()
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Now returns the clock's time in UTC, truncated to microseconds as stored.
func (db *DB) Now() time.Time { return db.Clock.Now().UTC().Truncate(time.Microsecond) }

// Tx runs fn in a transaction and retries it on deadlock or lock timeout.
func (db *DB) Tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return db.txOn(ctx, db.DB, fn)
}

// txOn is Tx on one of db's handles.
func (db *DB) txOn(ctx context.Context, h *gorm.DB, fn func(tx *gorm.DB) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = h.WithContext(ctx).Transaction(fn)
		if !retryable(err) {
			return unavailable(err)
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	return err
}

// retryable reports MySQL deadlock (1213), lock wait timeout (1205) and
// SQLite busy errors.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	var me *mysqldrv.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213 || me.Number == 1205
	}
	s := err.Error()
	return strings.Contains(s, "SQLITE_BUSY") || strings.Contains(s, "database is locked")
}

// storeErr translates GORM errors into the service sentinels.
func storeErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return fmt.Errorf("%s: %w", op, service.ErrNotFound)
	case errors.Is(err, gorm.ErrDuplicatedKey) || isDuplicate(err):
		return fmt.Errorf("%s: %w", op, service.ErrDuplicate)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func isDuplicate(err error) bool {
	var me *mysqldrv.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// unavailable wraps err as the user-facing error for a lost or refused database
// connection: 503 with a retry advice instead of an internal error.
func unavailable(err error) error {
	if err == nil || service.AsError(err) != nil || !isConnErr(err) {
		return err
	}
	return service.Unavailable("服务暂时繁忙，请稍后重试", 2*time.Second, err)
}

// isConnErr reports a lost, refused or broken database connection.
func isConnErr(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysqldrv.ErrInvalidConn) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	s := err.Error()
	for _, frag := range []string{"connection refused", "broken pipe", "connection reset", "invalid connection", "bad connection", "Too many connections", "database is closed"} {
		if strings.Contains(s, frag) {
			return true
		}
	}
	return false
}

// registerConnErrors turns connection failures of every statement into
// service.Unavailable, in one place for all stores.
func registerConnErrors(gdb *gorm.DB) {
	fix := func(db *gorm.DB) {
		if db.Error != nil {
			db.Error = unavailable(db.Error)
		}
	}
	cb := gdb.Callback()
	cb.Create().After("gorm:create").Register("sipay:conn_errors", fix)
	cb.Query().After("gorm:query").Register("sipay:conn_errors", fix)
	cb.Update().After("gorm:update").Register("sipay:conn_errors", fix)
	cb.Delete().After("gorm:delete").Register("sipay:conn_errors", fix)
	cb.Row().After("gorm:row").Register("sipay:conn_errors", fix)
	cb.Raw().After("gorm:raw").Register("sipay:conn_errors", fix)
}

// MySQLConfig parses a MySQL DSN and sets what every connection needs
// whatever the DSN says: parsed times in UTC, utf8mb4 with its unicode
// collation, the session time zone +00:00, and parameters interpolated on
// the client (one round trip a statement).
func MySQLConfig(dsn string) (*mysqldrv.Config, error) {
	cfg, err := mysqldrv.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["charset"] = "utf8mb4"
	cfg.Params["time_zone"] = "'+00:00'"
	cfg.Collation = "utf8mb4_unicode_ci"
	cfg.InterpolateParams = true
	return cfg, nil
}

// SetPool sizes a MySQL pool: conns open and idle connections, each
// recycled after 30 minutes.
func SetPool(db *sql.DB, conns int) {
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(30 * time.Minute)
}

// findDecoded loads the first row R that q selects and decodes it (the
// stores with encrypted columns decrypt here). Both a failed read
// (ErrNotFound for no row) and a failed decode are translated with storeErr
// under op.
func findDecoded[R any, T any](q *gorm.DB, op string, decode func(*R) (T, error)) (T, error) {
	var row R
	var zero T
	if err := q.First(&row).Error; err != nil {
		return zero, storeErr(op, err)
	}
	v, err := decode(&row)
	if err != nil {
		return zero, storeErr(op, err)
	}
	return v, nil
}

// findOne loads the first row R that q selects and converts it; no row is
// ErrNotFound, translated with storeErr under op like every failed read.
func findOne[R any, T any](q *gorm.DB, op string, conv func(*R) T) (*T, error) {
	return findDecoded(q, op, func(r *R) (*T, error) {
		v := conv(r)
		return &v, nil
	})
}

// findAll loads every row R that q selects, in q's order, and converts each.
func findAll[R any, T any](q *gorm.DB, op string, conv func(*R) T) ([]T, error) {
	return findAllDecoded(q, op, func(r *R) (T, error) { return conv(r), nil })
}

// findPage counts the rows R that q selects and loads one page of them,
// newest (highest id) first; what names them in errors ("count what",
// "find what").
func findPage[R any](q *gorm.DB, what string, offset, limit int) ([]R, int, error) {
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, storeErr("count "+what, err)
	}
	var rows []R
	if err := q.Order("id DESC").Offset(offset).Limit(limit).Find(&rows).Error; err != nil {
		return nil, 0, storeErr("find "+what, err)
	}
	return rows, int(total), nil
}

// findAllDecoded is findAll for rows whose decoding can fail (encrypted or
// JSON columns); the first failure ends it, translated with storeErr.
func findAllDecoded[R any, T any](q *gorm.DB, op string, decode func(*R) (T, error)) ([]T, error) {
	var rows []R
	if err := q.Find(&rows).Error; err != nil {
		return nil, storeErr(op, err)
	}
	out := make([]T, len(rows))
	for i := range rows {
		v, err := decode(&rows[i])
		if err != nil {
			return nil, storeErr(op, err)
		}
		out[i] = v
	}
	return out, nil
}

// updateLocked is the read-modify-write every store's Update* method
// shares: in one transaction it loads row R by id under a row lock,
// decodes it, lets fn change the domain value, and writes back the columns
// cols names. An *service.Error from fn reaches the caller unchanged; other
// errors are translated with storeErr under op.
func updateLocked[R any, T any](ctx context.Context, db *DB, op string, id int64,
	decode func(*R) (T, error), fn func(T) error, cols func(T) map[string]any) (T, error) {
	var out, zero T
	err := db.Tx(ctx, func(tx *gorm.DB) error {
		var row R
		if err := lockForUpdate(tx, db.Dialect).First(&row, id).Error; err != nil {
			return err
		}
		v, err := decode(&row)
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
		if err := tx.Model(new(R)).Where("id = ?", id).Updates(cols(v)).Error; err != nil {
			return err
		}
		out = v
		return nil
	})
	if err != nil {
		if service.AsError(err) != nil {
			return zero, err
		}
		return zero, storeErr(op, err)
	}
	return out, nil
}

// createMySQLDatabase creates the DSN's database on its server.
func createMySQLDatabase(parsed *mysqldrv.Config) error {
	if parsed.DBName == "" || strings.ContainsAny(parsed.DBName, "`\x00") {
		return fmt.Errorf("unusable database name")
	}
	server := parsed.Clone()
	server.DBName = ""
	sqlDB, err := sql.Open("mysql", server.FormatDSN())
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	_, err = sqlDB.Exec("CREATE DATABASE IF NOT EXISTS `" + parsed.DBName + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
	return err
}

// mysqlOpenError turns a failed connection into one line that names the
// setting and the server, without the password.
func mysqlOpenError(parsed *mysqldrv.Config, err error) error {
	var me *mysqldrv.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1045:
			return fmt.Errorf("MYSQL_DSN: MySQL at %s refused user %q: access denied (check the user and password)", parsed.Addr, parsed.User)
		case 1044:
			return fmt.Errorf("MYSQL_DSN: user %q may not use database %q on %s", parsed.User, parsed.DBName, parsed.Addr)
		}
		return fmt.Errorf("MYSQL_DSN: MySQL at %s: %s", parsed.Addr, oneLine(err))
	}
	return fmt.Errorf("MYSQL_DSN: cannot reach MySQL at %s: %s", parsed.Addr, oneLine(err))
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
