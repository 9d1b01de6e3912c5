package memd_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A real `python -m memd serve` for the whole test binary, started like
// tests/server/daemon.py does: ephemeral ports, JSON logs on stderr, and the bound
// addresses read from the "listening" event. One daemon serves every test; each test
// uses its own namespace.

const startTimeout = 60 * time.Second

type daemon struct {
	cmd     *exec.Cmd
	tcp     string // host:port
	unix    string // unix:///path
	dir     string
	logMu   sync.Mutex
	log     []string
	done    chan struct{}
	skipMsg string
	err     error
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

// startDaemon starts a daemon on dataDir, or on a new temporary directory (removed by
// stop) when dataDir is empty.
func startDaemon(dataDir string) *daemon {
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
	dir, err := os.MkdirTemp("", "memd-go-test-")
	if err != nil {
		d.err = err
		return d
	}
	d.dir = dir
	if dataDir == "" {
		dataDir = filepath.Join(dir, "data")
	}
	d.cmd = exec.Command(py, "-m", "memd", "serve",
		"--data-dir", dataDir,
		"--listen", "127.0.0.1:0",
		"--listen", "unix://"+filepath.Join(dir, "memd.sock"),
		"--metrics-listen", "off",
		"--log-format", "json",
	)
	d.cmd.Dir = repoRoot()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MEMD_") {
			d.cmd.Env = append(d.cmd.Env, kv)
		}
	}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		d.err = err
		return d
	}
	if err := d.cmd.Start(); err != nil {
		d.err = fmt.Errorf("start memd: %w", err)
		return d
	}
	ready := make(chan []string, 1)
	go func() {
		defer close(d.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			d.logMu.Lock()
			d.log = append(d.log, line)
			d.logMu.Unlock()
			var ev struct {
				Event string   `json:"event"`
				GRPC  []string `json:"grpc"`
			}
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Event == "listening" {
				select {
				case ready <- ev.GRPC:
				default:
				}
			}
		}
		d.cmd.Wait()
	}()
	select {
	case addrs := <-ready:
		for _, a := range addrs {
			if strings.HasPrefix(a, "unix:") {
				d.unix = a
			} else {
				d.tcp = a
			}
		}
	case <-d.done:
		d.err = fmt.Errorf("memd exited before listening; log:\n%s", d.logText())
	case <-time.After(startTimeout):
		d.stop()
		d.err = fmt.Errorf("memd did not log \"listening\" in %s; log:\n%s", startTimeout, d.logText())
	}
	return d
}

func (d *daemon) logText() string {
	d.logMu.Lock()
	defer d.logMu.Unlock()
	return strings.Join(d.log, "\n")
}

// stop sends SIGTERM, waits for the exit (SIGKILL after 30 s) and removes the
// temporary directory (socket, and data unless startDaemon was given a data dir).
func (d *daemon) stop() {
	if d.cmd != nil && d.cmd.Process != nil {
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			d.cmd.Process.Kill()
			<-d.done
		}
	}
	if d.dir != "" {
		os.RemoveAll(d.dir)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.stop()
	}
	os.Exit(code)
}
