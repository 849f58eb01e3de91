// Package childproc runs this executable again as a helper process (the
// bench's server under test, chaos's simulators). The child announces
// itself with "KEY value" lines on stdout and exits when its stdin closes,
// so it never outlives its parent.
package childproc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Proc is a running child.
type Proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
}

// Start runs this executable with args, env added to our environment and
// its stderr to stderr, and waits (at most limit, or until ctx ends) for
// one announcement line per key ("LISTEN 127.0.0.1:4711" for key
// "LISTEN"). It returns the announced values in the order of keys. A child
// that exits or stays silent is killed and its error names the first
// missing key.
func Start(ctx context.Context, args, env []string, stderr io.Writer, limit time.Duration, keys ...string) (*Proc, []string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = stderr
	p := &Proc{cmd: cmd, done: make(chan struct{})}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	vals, err := awaitKeys(ctx, lines, limit, keys)
	if err != nil {
		p.Kill()
		return nil, nil, err
	}
	go func() {
		for range lines {
		}
	}()
	return p, vals, nil
}

// awaitKeys reads lines until each key has been announced.
func awaitKeys(ctx context.Context, lines <-chan string, limit time.Duration, keys []string) ([]string, error) {
	vals := make([]string, len(keys))
	missing := func() string {
		for i, v := range vals {
			if v == "" {
				return keys[i]
			}
		}
		return ""
	}
	timeout := time.After(limit)
	for missing() != "" {
		select {
		case l, ok := <-lines:
			if !ok {
				return nil, fmt.Errorf("exited before announcing %s", missing())
			}
			for i, k := range keys {
				if v, ok := strings.CutPrefix(l, k+" "); ok {
					vals[i] = v
				}
			}
		case <-timeout:
			return nil, fmt.Errorf("did not announce %s within %s", missing(), limit)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return vals, nil
}

// Pid is the child's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the child has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Stop closes the child's stdin (it shuts down gracefully) and waits; after
// grace it is killed. Stopping a stopped child does nothing.
func (p *Proc) Stop(grace time.Duration) {
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Kill()
	}
}

// Kill kills the child and waits until it has exited.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// UntilStdinCloses returns a context cancelled when the parent closes our
// stdin (or dies): the child side of Start.
func UntilStdinCloses() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	return ctx
}
