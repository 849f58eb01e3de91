package main

import (
	"errors"
	"sync/atomic"
	"testing"
)

func TestParallelCallsEveryIndexOnce(t *testing.T) {
	const n = 1000
	var seen [n]atomic.Int32
	if err := parallel(7, n, func(i int) error { seen[i].Add(1); return nil }); err != nil {
		t.Fatalf("err = %v, want nil", err)
	}
	for i := range seen {
		if got := seen[i].Load(); got != 1 {
			t.Fatalf("index %d called %d times, want 1", i, got)
		}
	}
}

func TestParallelReturnsAWorkersErrorAndThatWorkerStops(t *testing.T) {
	boom := errors.New("boom")
	var calls atomic.Int32
	// One worker: it stops at its first error (index 3) and never calls 4.
	err := parallel(1, 10, func(i int) error {
		calls.Add(1)
		if i == 3 || i == 4 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if got := calls.Load(); got != 4 {
		t.Fatalf("calls = %d, want 4 (0..3, stopping at the error)", got)
	}
}
