package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shebao/sipay/internal/childproc"
)

// child is a server process started by the bench (this binary re-executed
// in -serve or -hello mode). Its RSS and CPU are read from /proc/<pid>.
type child struct {
	name    string
	proc    *childproc.Proc
	Addr    string // HTTP listener, 127.0.0.1:port
	Debug   string // pprof listener, 127.0.0.1:port
	logPath string
}

// startChild runs this executable with mode ("-serve" or "-hello") and env
// added to the environment, and waits until it prints its listen addresses.
// The child exits when its stdin closes, so it never outlives the bench.
func startChild(ctx context.Context, name, mode string, env []string, logDir string) (*child, error) {
	c := &child{name: name, logPath: filepath.Join(logDir, name+".log")}
	logf, err := os.Create(c.logPath)
	if err != nil {
		return nil, err
	}
	p, addrs, err := childproc.Start(ctx, []string{mode}, env, logf, 60*time.Second, "LISTEN", "DEBUG")
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: %w; see %s", name, err, c.logPath)
	}
	go func() { <-p.Done(); logf.Close() }()
	c.proc, c.Addr, c.Debug = p, addrs[0], addrs[1]
	return c, nil
}

// startReady starts a child as startChild does and waits until its
// /readyz answers; on failure the error ends with the tail of its log.
func startReady(ctx context.Context, name, mode string, env []string, logDir string) (*child, error) {
	c, err := startChild(ctx, name, mode, env, logDir)
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, c.URL()); err != nil {
		c.Stop()
		return nil, fmt.Errorf("%w; %s log: %s", err, name, tailFile(c.logPath, 2000))
	}
	return c, nil
}

// URL returns the child's base URL.
func (c *child) URL() string { return "http://" + c.Addr }

// Stop closes the child's stdin (it shuts down gracefully) and waits; after
// 20 s it is killed.
func (c *child) Stop() {
	if c == nil {
		return
	}
	c.proc.Stop(20 * time.Second)
}

// Pid is the child's process id.
func (c *child) Pid() int { return c.proc.Pid() }

// procStats are a process's figures over one load run.
type procStats struct {
	PeakRSSKB int64   // highest VmRSS sampled during the run
	EndRSSKB  int64   // VmRSS at the end
	HWMKB     int64   // VmHWM (peak since start) at the end
	CPUSec    float64 // user+system CPU seconds used during the run
}

// readStatus returns VmRSS and VmHWM of pid in kB.
func readStatus(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss, _ = strconv.ParseInt(f[1], 10, 64)
		case "VmHWM:":
			hwm, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return rss, hwm, nil
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times. It is 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// readCPU returns user+system CPU seconds of pid (children excluded).
func readCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields overall, i.e. 12th and 13th after ") ".
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / clockTicks, nil
}

// sampler records a process's RSS every 100 ms until stopped.
type sampler struct {
	pid     int
	cpu0    float64
	stop    chan struct{}
	done    sync.WaitGroup
	peakRSS int64
}

func startSampler(pid int) *sampler {
	s := &sampler{pid: pid, stop: make(chan struct{})}
	s.cpu0, _ = readCPU(pid)
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, _, err := readStatus(pid); err == nil && rss > s.peakRSS {
				s.peakRSS = rss
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) Stop() *procStats {
	close(s.stop)
	s.done.Wait()
	cpu1, _ := readCPU(s.pid)
	rss, hwm, _ := readStatus(s.pid)
	if rss > s.peakRSS {
		s.peakRSS = rss
	}
	return &procStats{PeakRSSKB: s.peakRSS, EndRSSKB: rss, HWMKB: hwm, CPUSec: cpu1 - s.cpu0}
}

// cpuProfile fetches a CPU profile of seconds from the child's pprof
// listener into path. It blocks for the profile's duration.
func (c *child) cpuProfile(ctx context.Context, seconds int, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", c.Debug, seconds), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: HTTP %d", resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// goroutines reads the child's goroutine count from its pprof listener.
func (c *child) goroutines(ctx context.Context) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.Debug+"/debug/pprof/goroutine?debug=1", nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		return 0, err
	}
	// "goroutine profile: total 42"
	f := strings.Fields(line)
	if len(f) == 0 {
		return 0, fmt.Errorf("goroutine profile: %q", line)
	}
	return strconv.ParseInt(f[len(f)-1], 10, 64)
}
