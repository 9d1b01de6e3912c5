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
)

// A real memd daemon for the tests, started by the launcher shared with the Python and
// TypeScript tests (tests/daemon_launcher.py, run with the repository's .venv Python):
// it starts `memd serve` on ephemeral ports and a Unix socket, prints the bound
// addresses as one JSON line, and stops the daemon when its stdin closes. One daemon
// serves most tests; each test uses its own namespace.

const startTimeout = 90 * time.Second

type daemon struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	tcp     string // host:port
	unix    string // unix:///path
	logMu   sync.Mutex
	log     []string
	done    chan struct{}
	skipMsg string
	err     error
}

// ready is the launcher's JSON line.
type ready struct {
	Event string `json:"event"`
	TCP   string `json:"tcp"`
	Unix  string `json:"unix"`
}

var (
	shared     *daemon
	sharedOnce sync.Once
)

// repoRoot is the memd checkout holding this module (clients/go -> ../..).
func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

// getDaemon returns the shared daemon, starting it on first use; it skips the test
// when the repository's .venv has no Python (run `make install` at the repo root).
func getDaemon(t testing.TB) *daemon {
	t.Helper()
	sharedOnce.Do(func() { shared = startDaemon("") })
	if shared.skipMsg != "" {
		t.Skip(shared.skipMsg)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared
}

// startDaemon runs the launcher: the daemon's store is dataDir, or a new temporary
// directory (removed at stop) when dataDir is empty; serveFlags are extra `memd serve`
// flags (a --listen among them replaces the default listeners).
func startDaemon(dataDir string, serveFlags ...string) *daemon {
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
		d.tcp, d.unix = r.TCP, r.Unix
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
	if shared != nil {
		shared.stop()
	}
	os.Exit(code)
}
