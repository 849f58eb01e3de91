package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shebao/sipay/internal/childproc"
	"github.com/shebao/sipay/wxpay"
)

// moduleRoot finds the directory holding go.mod, from the working directory
// up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above the working directory: run from the repository")
		}
		dir = parent
	}
}

// buildServer builds ./cmd/server into dir once.
func buildServer(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "server")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/server")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/server: %v\n%s", err, out)
	}
	return bin, nil
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// keyFiles are the development keys as the server reads them from files.
type keyFiles struct {
	Dir            string
	Keys           *wxpay.DevKeys
	MerchantKeyPEM string // path
	PlatformPubPEM string // path
}

// prepareKeys generates the shared development keys in dir (read by the
// simulator process with the same call) and writes the PEM files the server
// reads.
func prepareKeys(dir string) (*keyFiles, error) {
	keys, err := wxpay.LoadOrCreateDevKeys(dir)
	if err != nil {
		return nil, err
	}
	kf := &keyFiles{Dir: dir, Keys: keys, MerchantKeyPEM: filepath.Join(dir, "merchant_key.pem"),
		PlatformPubPEM: filepath.Join(dir, "wechatpay_public_key.pem")}
	priv, err := wxpay.EncodePrivateKeyPEM(keys.MerchantKey)
	if err != nil {
		return nil, err
	}
	pub, err := wxpay.EncodePublicKeyPEM(&keys.PlatformKey.PublicKey)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(kf.MerchantKeyPEM, priv, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(kf.PlatformPubPEM, pub, 0o600); err != nil {
		return nil, err
	}
	return kf, nil
}

// simsProc is the simulator process.
type simsProc struct {
	URL  string
	proc *childproc.Proc
}

// startSims re-executes this binary as `chaos sims` and waits for READY.
func startSims(keysDir, callback, logPath string, seed int64) (*simsProc, error) {
	p, urls, err := childproc.Start(context.Background(), []string{"sims", "-keys", keysDir, "-callback", callback, "-scale", "0.02",
		"-seed", strconv.FormatInt(seed, 10), "-log", logPath}, nil, os.Stderr, 20*time.Second, "READY")
	if err != nil {
		return nil, fmt.Errorf("simulator process: %w", err)
	}
	return &simsProc{URL: urls[0], proc: p}, nil
}

// stop closes the simulator's stdin (it exits) and waits a little.
func (s *simsProc) stop() { s.proc.Stop(5 * time.Second) }

// serverProc is one server process, restartable on the same port.
type serverProc struct {
	Name    string
	Port    int
	bin     string
	env     []string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	Starts  int
	Kills   int
}

// URL is the server's base URL.
func (s *serverProc) URL() string { return "http://127.0.0.1:" + strconv.Itoa(s.Port) }

// serverEnv is everything the server needs with SIMULATOR=off, pointing
// every client at the simulator process.
type serverEnv struct {
	MySQLDSN string
	Redis    string
	RedisDB  int
	SimURL   string
	Keys     *keyFiles
	PIIKey   string
	DataDir  string
}

func randomPIIKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func (e serverEnv) vars(port int) []string {
	k := e.Keys.Keys
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir(),
		"HTTP_ADDR=127.0.0.1:" + strconv.Itoa(port),
		"PUBLIC_BASE_URL=" + base,
		"ALLOW_INSECURE_NOTIFY_URL=on",
		"ALLOW_DEV_BACKENDS=on",     // the simulators answer on http://127.0.0.1
		"QUOTE_REQUIRE_SOURCED=off", // most region figures are still illustrative
		"SIMULATOR=off",
		"DATA_DIR=" + filepath.Join(e.DataDir, "data-"+strconv.Itoa(port)),
		"MYSQL_DSN=" + e.MySQLDSN,
		"AUTO_MIGRATE=off",
		"REDIS_ADDR=" + e.Redis,
		"REDIS_DB=" + strconv.Itoa(e.RedisDB),
		"WECHAT_APPID=" + k.AppID,
		"WECHAT_SECRET=" + simWeChatSecret,
		"WECHAT_API_BASE=" + e.SimURL,
		"WECHATPAY_MCHID=" + k.MchID,
		"WECHATPAY_MCH_CERT_SERIAL=" + k.MerchantSerial,
		"WECHATPAY_MCH_PRIVATE_KEY_FILE=" + e.Keys.MerchantKeyPEM,
		"WECHATPAY_APIV3_KEY=" + k.APIv3Key,
		"WECHATPAY_PUBLIC_KEY_ID=" + k.PublicKeyID,
		"WECHATPAY_PUBLIC_KEY_FILE=" + e.Keys.PlatformPubPEM,
		"WECHATPAY_API_BASE=" + e.SimURL,
		"PLATFORM_BASE_URL=" + e.SimURL,
		"PLATFORM_APP_ID=" + simPlatformAppID,
		"PLATFORM_SECRET=" + simPlatformSecret,
		"PII_KEY=" + e.PIIKey,
		"ADMIN_TOKEN=chaos-admin-token",
		"LOG_LEVEL=warn",
	}
}

// migrate runs `server migrate` once.
func migrate(ctx context.Context, bin string, env []string) error {
	cmd := exec.CommandContext(ctx, bin, "migrate")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("server migrate: %v\n%s", err, out)
	}
	return nil
}

func newServer(name string, port int, bin string, env serverEnv, logDir string) *serverProc {
	return &serverProc{Name: name, Port: port, bin: bin, env: env.vars(port),
		logPath: filepath.Join(logDir, "server-"+name+".log")}
}

// start starts the process and waits until /readyz answers 200 (at most
// 30 s).
func (s *serverProc) start(ctx context.Context) error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "---- start %d at %s\n", s.Starts+1, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(s.bin)
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	s.Starts++
	go func(c *exec.Cmd, done chan struct{}) {
		_ = c.Wait()
		logf.Close()
		close(done)
	}(cmd, s.exited)
	return s.waitReady(ctx, 30*time.Second)
}

// waitReady polls /readyz until 200, the process exits, or limit passes.
func (s *serverProc) waitReady(ctx context.Context, limit time.Duration) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("server %s exited during start (log: %s)%s", s.Name, s.logPath, tail(s.logPath, 15))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := hc.Get(s.URL() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("server %s not ready within %s (log: %s)%s", s.Name, limit, s.logPath, tail(s.logPath, 15))
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *serverProc) kill() {
	if !s.alive() {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s.Kills++
}

// stop sends SIGTERM (graceful drain) and kills after 20 s.
func (s *serverProc) stop() {
	if !s.alive() {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.exited
	}
}

// alive reports whether the process is running. cmd and exited are set
// together once the process has started.
func (s *serverProc) alive() bool {
	if s.exited == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// tail returns the last n lines of a file, indented, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\n    " + strings.Join(lines, "\n    ")
}

// redisProc is the throw-away redis-server of scenario 2.
type redisProc struct {
	Port   int
	cmd    *exec.Cmd
	exited chan struct{}
}

// startRedis starts redis-server on a loopback port with persistence off.
func startRedis(port int, logPath string) (*redisProc, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("redis-server not found: %w", err)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	r := &redisProc{Port: port, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(r.exited) }()
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("tcp", r.addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return r, nil
		}
		select {
		case <-r.exited:
			return nil, fmt.Errorf("redis-server on port %d exited at start (is the port taken? use -redis-port)%s", port, tail(logPath, 5))
		case <-time.After(50 * time.Millisecond):
		}
	}
	r.kill()
	return nil, fmt.Errorf("redis-server on port %d not reachable", port)
}

func (r *redisProc) addr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// shutdown runs `redis-cli -p PORT shutdown nosave` and waits for the exit.
func (r *redisProc) shutdown() error {
	out, err := exec.Command("redis-cli", "-p", strconv.Itoa(r.Port), "shutdown", "nosave").CombinedOutput()
	select {
	case <-r.exited:
		return nil
	case <-time.After(5 * time.Second):
		r.kill()
		return fmt.Errorf("redis-cli shutdown nosave: %v %s", err, out)
	}
}

func (r *redisProc) kill() {
	select {
	case <-r.exited:
	default:
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}
