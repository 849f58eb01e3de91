package main

import (
	"context"
	"os"
	"runtime"
	"strings"

	"github.com/redis/go-redis/v9"
)

// machine describes where the bench ran.
type machine struct {
	CPUs       int
	CPUModel   string
	MemTotal   string
	GoVersion  string
	DBVersion  string
	DBSettings string
	RedisVer   string
	Kernel     string
	GOMAXPROCS int
	GOOSGOARCH string
}

func describeMachine(ctx context.Context, o *options) machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		GOOSGOARCH: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				m.MemTotal = strings.TrimSpace(v)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if db, err := openSQL(o.MySQL); err == nil {
		db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&m.DBVersion)
		var parts []string
		for _, v := range []string{"innodb_buffer_pool_size", "innodb_flush_log_at_trx_commit", "sync_binlog", "log_bin"} {
			var name, val string
			if err := db.QueryRowContext(ctx, "SHOW VARIABLES LIKE '"+v+"'").Scan(&name, &val); err == nil {
				parts = append(parts, name+"="+val)
			}
		}
		m.DBSettings = strings.Join(parts, " ")
		db.Close()
	}
	rdb := redis.NewClient(&redis.Options{Addr: o.Redis})
	if info, err := rdb.Info(ctx, "server").Result(); err == nil {
		for _, l := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "redis_version:"); ok {
				m.RedisVer = v
			}
		}
	}
	rdb.Close()
	return m
}
