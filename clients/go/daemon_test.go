package memd_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"

	memd "github.com/memd-dev/memd/clients/go"
)

// A real memd daemon for the tests, started by the launcher shared with the Python and
// TypeScript tests (tests/daemon_launcher.py, run with the repository's .venv Python):
// it starts `memd serve` on ephemeral ports and a Unix socket, prints the bound
// addresses as one JSON line, and stops the daemon when its stdin closes. One daemon
// per variant (below) serves most tests; each test uses its own namespace.

const startTimeout = 90 * time.Second

type daemon struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	tcp     string            // host:port
	unix    string            // unix:///path
	tokens  map[string]string // launcher --token NAME -> secret
	tls     memd.TLSFiles     // CA and client certificate; zero without --tls
	metrics string            // host:port of the Prometheus page
	peers   []peer            // launcher --cluster-peers: the other nodes
	logMu   sync.Mutex
	log     []string
	done    chan struct{}
	skipMsg string
	err     error
}

// ready is the launcher's JSON line.
type ready struct {
	Event      string            `json:"event"`
	TCP        string            `json:"tcp"`
	Unix       string            `json:"unix"`
	Tokens     map[string]string `json:"tokens"`
	CACert     string            `json:"ca_cert"`
	ClientCert string            `json:"client_cert"`
	ClientKey  string            `json:"client_key"`
	Metrics    string            `json:"metrics"`
	Peers      []peer            `json:"peers"`
}

// peer is one more node of the launcher's cluster (--cluster-peers).
type peer struct {
	NodeID  string `json:"node_id"`
	TCP     string `json:"tcp"`
	PID     int    `json:"pid"`
	Metrics string `json:"metrics"`
}

// The daemons shared by the tests, one per variant, each started on first use:
// "plain" in the clear without auth (the sidecar default), "tls" with mutual TLS and
// --auth required, "auth" with --auth required in the clear (tokens to loopback only).
// The suite's token opens the conformance tests' namespaces, "a" opens acl-a/* only.
var variants = map[string]*variant{
	"plain": {},
	"tls":   {args: append([]string{"--tls"}, tokenFlags...)},
	"auth":  {args: tokenFlags},
}

var tokenFlags = []string{"--token", "suite=go-test:*=read,write,delete", "--token", "a=acl-a/*=read,write,delete"}

type variant struct {
	args []string // launcher flags
	once sync.Once
	d    *daemon
}

// repoRoot is the memd checkout holding this module (clients/go -> ../..).
func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

// getDaemon returns the shared plain daemon (see daemonFor).
func getDaemon(t testing.TB) *daemon { return daemonFor(t, "plain") }

// daemonFor returns the shared daemon of a variant, starting it on first use; it skips
// the test when the repository's .venv has no Python (run `make install` at the root).
func daemonFor(t testing.TB, name string) *daemon {
	t.Helper()
	v := variants[name]
	v.once.Do(func() { v.d = launch(v.args, "") })
	if v.d.skipMsg != "" {
		t.Skip(v.d.skipMsg)
	}
	if v.d.err != nil {
		t.Fatal(v.d.err)
	}
	return v.d
}

// dialOptions are the Dial options reaching d: its TLS client certificate when it has
// TLS, and token when not empty.
func (d *daemon) dialOptions(t testing.TB, token string) []grpc.DialOption {
	t.Helper()
	var opts []grpc.DialOption
	if d.tls.CA != "" {
		cfg, err := memd.LoadTLS(d.tls)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, memd.WithTLS(cfg))
	}
	if token != "" {
		opts = append(opts, memd.WithToken(token))
	}
	return opts
}

// startDaemon runs the launcher: the daemon's store is dataDir, or a new temporary
// directory (removed at stop) when dataDir is empty; serveFlags are extra `memd serve`
// flags (a --listen among them replaces the default listeners).
func startDaemon(dataDir string, serveFlags ...string) *daemon {
	return launch(nil, dataDir, serveFlags...)
}

// launch is startDaemon with launcher flags (--tls, --auth, --token NAME=GRANTS).
func launch(launcherFlags []string, dataDir string, serveFlags ...string) *daemon {
	d := &daemon{done: make(chan struct{})}
	py := os.Getenv("MEMD_TEST_PYTHON")
	if py == "" {
		py = filepath.Join(repoRoot(), ".venv", "bin", "python")
	}
	if _, err := os.Stat(py); err != nil {
		d.skipMsg = fmt.Sprintf("no memd daemon to test against: %s does not exist "+
			"(run `make install` at the repository root, or set MEMD_TEST_PYTHON)", py)
		return d
	}
	args := []string{filepath.Join(repoRoot(), "tests", "daemon_launcher.py")}
	if dataDir != "" {
		args = append(args, "--data-dir", dataDir)
	}
	args = append(args, launcherFlags...)
	args = append(append(args, "--"), serveFlags...)
	d.cmd = exec.Command(py, args...)
	d.cmd.Dir = repoRoot()
	stdin, err := d.cmd.StdinPipe()
	if err != nil {
		d.err = err
		return d
	}
	d.stdin = stdin
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		d.err = err
		return d
	}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		d.err = err
		return d
	}
	if err := d.cmd.Start(); err != nil {
		d.err = fmt.Errorf("start the daemon launcher: %w", err)
		return d
	}
	logged := make(chan struct{})
	go func() { // the daemon's log, for error messages
		defer close(logged)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			d.logMu.Lock()
			d.log = append(d.log, sc.Text())
			d.logMu.Unlock()
		}
	}()
	readyc := make(chan ready, 1)
	go func() {
		defer close(d.done)
		sc := bufio.NewScanner(stdout)
		for first := true; sc.Scan(); first = false {
			var r ready
			if first && json.Unmarshal(sc.Bytes(), &r) == nil && r.Event == "ready" {
				readyc <- r
			}
		}
		<-logged
		d.cmd.Wait()
	}()
	select {
	case r := <-readyc:
		d.tcp, d.unix, d.tokens = r.TCP, r.Unix, r.Tokens
		d.metrics, d.peers = r.Metrics, r.Peers
		d.tls = memd.TLSFiles{CA: r.CACert, Cert: r.ClientCert, Key: r.ClientKey}
	case <-d.done:
		d.err = fmt.Errorf("memd did not start; log:\n%s", d.logText())
	case <-time.After(startTimeout):
		d.stop()
		d.err = fmt.Errorf("memd was not ready in %s; log:\n%s", startTimeout, d.logText())
	}
	return d
}

func (d *daemon) logText() string {
	d.logMu.Lock()
	defer d.logMu.Unlock()
	return strings.Join(d.log, "\n")
}

// stop closes the launcher's stdin, which stops the daemon gracefully (SIGTERM, then
// SIGKILL after 30 s) and removes its temporary directory, and waits for it. Idempotent.
func (d *daemon) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	d.stdin.Close()
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		d.cmd.Process.Signal(syscall.SIGKILL)
		<-d.done
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, v := range variants {
		if v.d != nil {
			v.d.stop()
		}
	}
	os.Exit(code)
}
