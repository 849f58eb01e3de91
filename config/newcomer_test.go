package config_test

import (
	"strings"
	"testing"

	"github.com/shebao/sipay/config"
)

// TestLogMetricsAndRedisSettings: LOG_FORMAT defaults by mode, METRICS_ADDR
// is off unless set, REDIS_ADDRS/REDIS_MASTER_NAME parse, and bad
// combinations are refused naming the variable.
func TestLogMetricsAndRedisSettings(t *testing.T) {
	c, err := config.Load(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.LogFormat != "text" || c.MetricsAddr != "" {
		t.Fatalf("simulator defaults: LOG_FORMAT=%q METRICS_ADDR=%q, want text and off", c.LogFormat, c.MetricsAddr)
	}
	c, err = config.Load(envOf(map[string]string{"REDIS_ADDRS": "10.0.0.1:26379, 10.0.0.2:26379", "REDIS_MASTER_NAME": "mymaster",
		"METRICS_ADDR": "127.0.0.1:9091", "LOG_FORMAT": "JSON"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Redis.Addrs) != 2 || c.Redis.Addrs[1] != "10.0.0.2:26379" || c.Redis.MasterName != "mymaster" || c.MetricsAddr != "127.0.0.1:9091" || c.LogFormat != "json" {
		t.Fatalf("got %+v", c.Redis)
	}
	for _, bad := range []map[string]string{
		{"LOG_FORMAT": "xml"},
		{"LOG_LEVEL": "loud"},
		{"METRICS_ADDR": "9091"},
		{"REDIS_ADDR": "a:6379", "REDIS_ADDRS": "b:6379"},
		{"REDIS_MASTER_NAME": "mymaster"},
		{"REDIS_ADDRS": "a:7000,b:7000", "REDIS_DB": "3"},
	} {
		_, err := config.Load(envOf(bad))
		named := false
		for k := range bad {
			if err != nil && strings.Contains(err.Error(), k) {
				named = true
			}
		}
		if !named {
			t.Errorf("%v: err=%v, want it refused naming the variable", bad, err)
		}
	}
}
