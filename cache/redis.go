// Package cache implements service interfaces on Redis: login sessions,
// rate limits, idempotency records and fast-path dedupe keys. Redis is never
// the only guard of a money state change; the database is.
package cache

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Config selects the Redis deployment: Addr for one node; Addrs with
// MasterName for Sentinel (Addrs are the sentinels); Addrs without it for
// Cluster (or one node when there is one address). Nothing set starts an
// in-process Redis.
type Config struct {
	Addr       string
	Addrs      []string
	MasterName string
	Password   string
	DB         int
}

// OpenConfig connects as cfg says (see Config) through go-redis's
// UniversalClient; every key the service uses is a single key per command
// or script, so it works unchanged on Redis Cluster.
func OpenConfig(ctx context.Context, cfg Config) (redis.UniversalClient, func(), error) {
	if len(cfg.Addrs) == 0 {
		return Open(ctx, cfg.Addr, cfg.Password, cfg.DB)
	}
	opts := &redis.UniversalOptions{Addrs: cfg.Addrs, MasterName: cfg.MasterName, Password: cfg.Password, DB: cfg.DB,
		DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second}
	if cfg.MasterName == "" && len(cfg.Addrs) > 1 {
		opts.IsClusterMode = true
	}
	rdb := redis.NewUniversalClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second) // sentinel discovery retries for long otherwise
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, nil, fmt.Errorf("redis %v (master %q): %w", cfg.Addrs, cfg.MasterName, err)
	}
	return rdb, func() { rdb.Close() }, nil
}

// Open connects to Redis at addr, or, when addr is empty, starts an
// in-process Redis (miniredis) and connects to it through the same client.
// The returned stop function closes both.
func Open(ctx context.Context, addr, password string, db int) (redis.UniversalClient, func(), error) {
	var mr *miniredis.Miniredis
	stopTick := func() {}
	if addr == "" {
		var err error
		mr, err = miniredis.Run()
		if err != nil {
			return nil, nil, fmt.Errorf("start in-process redis: %w", err)
		}
		addr = mr.Addr()
		// miniredis only expires keys when told time has passed.
		tctx, cancel := context.WithCancel(context.Background())
		stopTick = cancel
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-tctx.Done():
					return
				case <-t.C:
					mr.FastForward(time.Second)
				}
			}
		}()
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, Password: password, DB: db,
		DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		stopTick()
		if mr != nil {
			mr.Close()
		}
		return nil, nil, fmt.Errorf("redis %s: %w", addr, err)
	}
	stop := func() {
		rdb.Close()
		stopTick()
		if mr != nil {
			mr.Close()
		}
	}
	return rdb, stop, nil
}
