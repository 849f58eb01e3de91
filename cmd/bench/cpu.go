package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The machine is shared: the database, Redis, the bench (load generator),
// the server child and whatever else runs. cpuSnapshot records where the
// CPU time of a run went, so a result can be read against the load that
// other processes put on the machine at the same time.

// cpuSnapshot is CPU time (seconds) per component at one instant.
type cpuSnapshot struct {
	at      time.Time
	busy    float64 // all CPUs, non-idle (from /proc/stat)
	server  float64
	db      float64
	redis   float64
	bench   float64
	loadavg string
}

// cpuUse is CPU cores used on average per component over a run.
type cpuUse struct {
	Server, DB, Redis, Bench, Other, Total float64
	LoadAvg                                string // 1-minute load average at the end
}

func (u cpuUse) String() string {
	return fmt.Sprintf("server %.2f, db %.2f, redis %.2f, bench %.2f, other %.2f (of %.2f busy cores; loadavg %s)",
		u.Server, u.DB, u.Redis, u.Bench, u.Other, u.Total, u.LoadAvg)
}

// pids are the processes accounted for.
type pids struct {
	server, db, redis int
}

// findPids finds the database and Redis server processes by name.
func findPids() pids {
	var p pids
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/comm")
		if err != nil {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		switch strings.TrimSpace(string(b)) {
		case "mariadbd", "mysqld":
			p.db = pid
		case "redis-server":
			p.redis = pid
		}
	}
	return p
}

// systemBusy returns the non-idle CPU seconds of all CPUs since boot.
func systemBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy float64
	for i, v := range f[1:9] { // user nice system idle iowait irq softirq steal
		if i == 3 || i == 4 {
			continue // idle, iowait
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy / clockTicks
}

func cpuOf(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	s, err := readCPU(pid)
	if err != nil {
		return 0
	}
	return s
}

func snapshot(p pids) cpuSnapshot {
	la, _ := os.ReadFile("/proc/loadavg")
	first, _, _ := strings.Cut(string(la), " ")
	return cpuSnapshot{at: time.Now(), busy: systemBusy(), server: cpuOf(p.server), db: cpuOf(p.db),
		redis: cpuOf(p.redis), bench: cpuOf(os.Getpid()), loadavg: first}
}

// use returns the average cores per component between a and b.
func use(a, b cpuSnapshot) cpuUse {
	d := b.at.Sub(a.at).Seconds()
	if d <= 0 {
		return cpuUse{}
	}
	u := cpuUse{Server: (b.server - a.server) / d, DB: (b.db - a.db) / d, Redis: (b.redis - a.redis) / d,
		Bench: (b.bench - a.bench) / d, Total: (b.busy - a.busy) / d, LoadAvg: b.loadavg}
	u.Other = max(0, u.Total-u.Server-u.DB-u.Redis-u.Bench)
	return u
}
