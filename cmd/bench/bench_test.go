package main

import (
	"io"
	"testing"
	"time"
)

func TestPercentileIsNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0, 1 * time.Millisecond}, {0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {0.999, 100 * time.Millisecond}, {1, 100 * time.Millisecond}} {
		if got := percentile(d, c.q); got != c.want {
			t.Errorf("percentile(1..100ms, %v): got %v, want %v", c.q, got, c.want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile(nil): got %v, want 0", got)
	}
	if got := percentile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("percentile(one sample): got %v, want 7ns", got)
	}
}

func TestQuickShortensRunsUnlessSetExplicitly(t *testing.T) {
	o, err := parseFlags([]string{"-quick"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Duration != 3*time.Second || o.Scale {
		t.Errorf("-quick: got duration %v scale %v, want 3s false", o.Duration, o.Scale)
	}
	o, err = parseFlags([]string{"-quick", "-duration", "7s", "-scale"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Duration != 7*time.Second || !o.Scale {
		t.Errorf("-quick -duration 7s -scale: got duration %v scale %v, want 7s true", o.Duration, o.Scale)
	}
	o, err = parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Duration != 10*time.Second || !o.Scale || o.Conc != 64 || o.LatConc != 16 {
		t.Errorf("defaults: got %+v, want 10s, scale on, c=64, lc=16", o)
	}
}

func TestFlagsRefuseNonLoopbackRedis(t *testing.T) {
	if _, err := parseFlags([]string{"-redis", "10.0.0.5:6379"}, io.Discard); err == nil {
		t.Error("-redis 10.0.0.5:6379: got no error, want a loopback refusal")
	}
	if _, err := parseFlags([]string{"-duration", "0s"}, io.Discard); err == nil {
		t.Error("-duration 0s: got no error, want one")
	}
}
