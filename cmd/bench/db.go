package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
)

// benchDB is the fresh database bench_<rand> the run creates and drops.
type benchDB struct {
	adminDSN string
	Name     string
	DSN      string  // DSN of bench_<rand>, given to the server child
	SQL      *sql.DB // database/sql pool on it, same settings as model.Open
}

// openSQL opens database/sql with the settings model.Open gives GORM
// (UTC, utf8mb4, interpolated parameters, 32 connections).
func openSQL(dsn string) (*sql.DB, error) {
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
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	db.SetConnMaxLifetime(30 * time.Minute)
	return db, nil
}

// createBenchDB creates bench_<rand> on the server of dsn and applies the
// project's migrations with the project's runner.
func createBenchDB(ctx context.Context, dsn string) (*benchDB, error) {
	cfg, err := mysqldrv.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("-mysql: %w", err)
	}
	if err := loopbackOnly(cfg.Addr); err != nil {
		return nil, fmt.Errorf("-mysql: %w", err)
	}
	b := make([]byte, 5)
	rand.Read(b)
	name := "bench_" + hex.EncodeToString(b)
	admin, err := openSQL(dsn)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	cfg.DBName = name
	d := &benchDB{adminDSN: dsn, Name: name, DSN: cfg.FormatDSN()}
	mdb, err := model.Open(d.DSN, "", service.SystemClock{})
	if err != nil {
		d.Drop()
		return nil, err
	}
	_, err = mdb.Migrate(ctx)
	mdb.Close()
	if err != nil {
		d.Drop()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if d.SQL, err = openSQL(d.DSN); err != nil {
		d.Drop()
		return nil, err
	}
	return d, nil
}

// Drop drops the bench database.
func (d *benchDB) Drop() error {
	if d.SQL != nil {
		d.SQL.Close()
	}
	admin, err := openSQL(d.adminDSN)
	if err != nil {
		return err
	}
	defer admin.Close()
	_, err = admin.Exec("DROP DATABASE IF EXISTS " + d.Name)
	return err
}

// count returns SELECT COUNT(*) of a table.
func (d *benchDB) count(ctx context.Context, table string) (int64, error) {
	var n int64
	err := d.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n)
	return n, err
}

// Seeded orders have one batch each. Their numbers are prefix + 11 digits;
// the batch's out_trade_no is service.OutTradeNo(orderNo, 1). Everything a
// notification must match is derived from the index.

func orderNo(prefix string, i int) string { return fmt.Sprintf("%s%011d", prefix, i) }

func seedAmount(i int) int64 { return 140000 + int64(i%97)*100 }

func seedOpenID(i int) string { return fmt.Sprintf("obench%022d", i%5000) }

// seedMonth is the month of the i-th order of users taking turns: each user's
// k-th order is for the k-th month back from the current one, so no user
// (person) has two orders for one month.
func seedMonth(i, users int) string {
	now := time.Now().In(service.Shanghai)
	return time.Date(now.Year(), now.Month()-time.Month(i/users), 1, 0, 0, 0, 0, service.Shanghai).Format("2006-01")
}

// seededOrders counts the orders seeded in this run, so that each call's
// orders take months no earlier call used.
var seededOrders atomic.Int64

// seedSpec describes a range of orders to insert.
type seedSpec struct {
	Prefix  string
	From, N int
	Paid    bool // history: posted with a transaction id; else pending_payment with a prepay_id
	UserID  func(i int) int64
}

// seedOrders bulk-inserts orders and their single batch with multi-row
// INSERTs (chunk rows per statement) from workers goroutines.
func seedOrders(ctx context.Context, db *sql.DB, s seedSpec, workers int) error {
	const chunk = 2000
	// Orders of every call get month slots of their own.
	base := int(seededOrders.Add(int64(s.N))) - s.N - s.From
	now := time.Now().UTC().Truncate(time.Microsecond)
	expire := now.Add(2 * time.Hour)
	jobs := make(chan int)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ob, bb strings.Builder
			var oargs, bargs []any
			for start := range jobs {
				end := min(start+chunk, s.From+s.N)
				ob.Reset()
				bb.Reset()
				oargs, bargs = oargs[:0], bargs[:0]
				ob.WriteString("INSERT INTO orders (order_no,user_id,person_id,quote_id,region,amount_fen,status,created_at,updated_at) VALUES ")
				bb.WriteString("INSERT INTO batches (order_no,seq,out_trade_no,amount_fen,from_month,to_month,status,prepay_id,prepay_at,expire_at,payer_open_id,transaction_id,paid_at,updated_at) VALUES ")
				for i := start; i < end; i++ {
					if i > start {
						ob.WriteByte(',')
						bb.WriteByte(',')
					}
					ob.WriteString("(?,?,?,?,?,?,?,?,?)")
					bb.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
					no := orderNo(s.Prefix, i)
					uid := int64(1 + (base+i)%5000)
					month := seedMonth(base+i, 5000) // user (and person) uid orders each month once
					if s.UserID != nil {
						uid = s.UserID(i)
					}
					status := string(service.StatusPendingPayment)
					var txID, paidAt any
					if s.Paid {
						status = string(service.StatusPosted)
						txID = fmt.Sprintf("42%s%015d", s.Prefix, i)
						paidAt = now
					}
					oargs = append(oargs, no, uid, uid, "q"+no, "jiangsu", seedAmount(i), status, now, now)
					bargs = append(bargs, no, 1, service.OutTradeNo(no, 1), seedAmount(i), month, month, status,
						"wx"+no, now, expire, seedOpenID(i), txID, paidAt, now)
				}
				err := func() error {
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						return err
					}
					defer tx.Rollback()
					if _, err := tx.ExecContext(ctx, ob.String(), oargs...); err != nil {
						return fmt.Errorf("insert orders: %w", err)
					}
					if _, err := tx.ExecContext(ctx, bb.String(), bargs...); err != nil {
						return fmt.Errorf("insert batches: %w", err)
					}
					return tx.Commit()
				}()
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for start := s.From; start < s.From+s.N; start += chunk {
		select {
		case jobs <- start:
		case err = <-errc:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return err
}
