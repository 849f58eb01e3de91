package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

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
	Fsync      string // 4 KiB write+fdatasync latency in TMPDIR
	BufferPool string // innodb_buffer_pool_size, human
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
				if v == "innodb_buffer_pool_size" {
					n, _ := strconv.ParseInt(val, 10, 64)
					m.BufferPool = fmt.Sprintf("%d MB", n>>20)
				}
			}
		}
		m.DBSettings = strings.Join(parts, " ")
		db.Close()
	}
	if p50, p99, err := fsyncLatency(os.TempDir(), 300); err == nil {
		m.Fsync = fmt.Sprintf("p50 %.2f ms, p99 %.2f ms (300 × 4 KiB write+fdatasync in %s)", float64(p50)/1e6, float64(p99)/1e6, os.TempDir())
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

// fsyncLatency writes 4 KiB and fdatasyncs it n times in a temporary file
// under dir and returns the median and 99th percentile of one write+sync:
// the floor under every durable commit when dir is on the database's disk.
func fsyncLatency(dir string, n int) (p50, p99 time.Duration, err error) {
	f, err := os.CreateTemp(dir, "bench-fsync-")
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	lat := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if _, err := f.WriteAt(buf, int64(i%64)*4096); err != nil {
			return 0, 0, err
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return 0, 0, err
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return percentile(lat, 0.5), percentile(lat, 0.99), nil
}
