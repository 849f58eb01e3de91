package wechat

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisCache adapts go-redis v9 to silenceper's cache.Cache so the access
// token is shared by every instance.
type redisCache struct{ rdb redis.UniversalClient }

func (c *redisCache) Get(key string) interface{} {
	v, err := c.rdb.Get(context.Background(), "wx:"+key).Result()
	if err != nil {
		return nil
	}
	return v
}

func (c *redisCache) Set(key string, val interface{}, timeout time.Duration) error {
	return c.rdb.Set(context.Background(), "wx:"+key, val, timeout).Err()
}

func (c *redisCache) IsExist(key string) bool {
	n, err := c.rdb.Exists(context.Background(), "wx:"+key).Result()
	return err == nil && n > 0
}

func (c *redisCache) Delete(key string) error {
	return c.rdb.Del(context.Background(), "wx:"+key).Err()
}
