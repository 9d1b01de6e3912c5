package validate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// repoRoot is the repository, from deploy/kubernetes/validate.
const repoRoot = "../../.."

// python is the interpreter with memd installed: MEMD_TEST_PYTHON (the make target
// sets it) or the repository's .venv. Without one the tests fail rather than skip:
// a check that silently does not run is worse than none.
func python(t *testing.T) string {
	t.Helper()
	py := os.Getenv("MEMD_TEST_PYTHON")
	if py == "" {
		py = filepath.Join(repoRoot, ".venv", "bin", "python")
	}
	abs, err := filepath.Abs(py)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("no Python with memd at %s (run `make install` at the repository root, or set MEMD_TEST_PYTHON): %v", abs, err)
	}
	return abs
}

func runMemd(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python(t), append([]string{"-m", "memd"}, args...)...)
	cmd.Env = append(baseEnv(), env...)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// baseEnv is the test's environment without any MEMD_* variable, so only the
// manifest's configure memd.
func baseEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MEMD_") {
			out = append(out, kv)
		}
	}
	return out
}

var envName = regexp.MustCompile(`\bMEMD_[A-Z0-9_]*[A-Z0-9]\b`)

// knownEnv is every MEMD_* variable memd reads, from its own --help: the daemon's
// options (serve) and the token commands' (which run in the shared pod).
func knownEnv(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	for _, args := range [][]string{{"serve", "--help"}, {"token", "create", "--help"}} {
		out, err := runMemd(t, nil, args...)
		if err != nil {
			t.Fatalf("memd %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		for _, name := range envName.FindAllString(out, -1) {
			known[name] = true
		}
	}
	for _, must := range []string{"MEMD_LISTEN", "MEMD_DATA_DIR", "MEMD_AUTH", "MEMD_TARGET"} {
		if !known[must] {
			t.Fatalf("memd --help no longer names %s: the parsing here is out of date (found %d names)", must, len(known))
		}
	}
	return known
}

type podOf struct {
	file string
	spec corev1.PodSpec
}

func pods(t *testing.T) []podOf {
	t.Helper()
	var out []podOf
	for file, objs := range loadAll(t) {
		for _, o := range objs {
			switch v := o.Obj.(type) {
			case *appsv1.Deployment:
				out = append(out, podOf{file, v.Spec.Template.Spec})
			case *appsv1.StatefulSet:
				out = append(out, podOf{file, v.Spec.Template.Spec})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].file < out[j].file })
	return out
}

func allContainers(spec corev1.PodSpec) []corev1.Container {
	return append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
}

func TestEnvNamesAreMemdOptions(t *testing.T) {
	known := knownEnv(t)
	seen := 0
	for _, p := range pods(t) {
		for _, c := range allContainers(p.spec) {
			for _, e := range c.Env {
				if !strings.HasPrefix(e.Name, "MEMD_") {
					continue
				}
				seen++
				if !known[e.Name] {
					t.Errorf("%s: container %s: %s is not a memd option (memd ignores unknown MEMD_* variables)", p.file, c.Name, e.Name)
				}
				if e.ValueFrom != nil {
					t.Errorf("%s: %s: use a literal value (files for secrets), so it can be checked here", p.file, e.Name)
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no MEMD_* variable found in any manifest")
	}
}

// memdEnv is the memd container's MEMD_* environment, as KEY=VALUE.
func memdEnv(c corev1.Container) []string {
	var out []string
	for _, e := range c.Env {
		if strings.HasPrefix(e.Name, "MEMD_") {
			out = append(out, e.Name+"="+e.Value)
		}
	}
	return out
}

// TestMemdAcceptsTheConfiguration: memd parses each manifest's MEMD_* values
// (serve --print-config exits 2 on a bad value) to what the manifest means.
func TestMemdAcceptsTheConfiguration(t *testing.T) {
	for _, p := range pods(t) {
		memd := memdContainer(t, allContainers(p.spec))
		if got := strings.Join(memd.Command, " "); got != "memd serve" || len(memd.Args) != 0 {
			t.Errorf("%s: memd runs %q %q; want command [memd serve] and configuration by env", p.file, memd.Command, memd.Args)
		}
		out, err := runMemd(t, memdEnv(memd), "serve", "--print-config")
		if err != nil {
			t.Errorf("%s: memd rejects the configuration: %v\n%s", p.file, err, out)
			continue
		}
		var cfg map[string]any
		if err := json.Unmarshal([]byte(out), &cfg); err != nil {
			t.Fatalf("%s: --print-config output: %v", p.file, err)
		}
		env := envMap(memd)
		want := map[string]string{
			"data_dir":         env["MEMD_DATA_DIR"],
			"metrics_listen":   env["MEMD_METRICS_LISTEN"],
			"auth":             orDefault(env["MEMD_AUTH"], "off"),
			"admin_token_file": env["MEMD_ADMIN_TOKEN_FILE"],
			"tls_cert":         env["MEMD_TLS_CERT"],
			"tls_key":          env["MEMD_TLS_KEY"],
			"backup_dir":       env["MEMD_BACKUP_DIR"],
		}
		for key, value := range want {
			if fmt.Sprint(cfg[key]) != value {
				t.Errorf("%s: memd resolved %s = %v, want %q", p.file, key, cfg[key], value)
			}
		}
		if got, want := fmt.Sprint(cfg["listen"]), fmt.Sprint(strings.Split(env["MEMD_LISTEN"], ",")); got != want {
			t.Errorf("%s: memd resolved listen = %s, want %s", p.file, got, want)
		}
		if grace := parseFloat(t, orDefault(env["MEMD_GRACE_S"], "10")); cfg["grace_s"] != grace {
			t.Errorf("%s: memd resolved grace_s = %v, want %v", p.file, cfg["grace_s"], grace)
		}
	}
}

// TestProbesAgainstMemd runs each pod's memd with the manifest's environment (mount
// paths moved into a temporary directory, TCP on an ephemeral loopback port, metrics
// off) and runs its probe commands against it, as the kubelet would.
func TestProbesAgainstMemd(t *testing.T) {
	for _, p := range pods(t) {
		t.Run(strings.TrimSuffix(p.file, ".yaml"), func(t *testing.T) {
			memd := memdContainer(t, allContainers(p.spec))
			tmp := t.TempDir()
			remap := mountRemap(memd, tmp)
			seedSecrets(t, p.spec, memd, remap)
			var env []string
			for _, kv := range memdEnv(memd) {
				name, value, _ := strings.Cut(kv, "=")
				switch name {
				case "MEMD_METRICS_LISTEN":
					value = "off"
				default:
					value = remapValue(value, remap)
				}
				env = append(env, name+"="+value)
			}
			daemon := startMemd(t, env)
			// The probe's command, with memd run by the test's Python and the socket moved.
			probe := func(pr *corev1.Probe, service string) error {
				args := []string{"-m", "memd"}
				for _, arg := range pr.Exec.Command[1:] {
					if target, ok := strings.CutPrefix(arg, "--target="); ok {
						arg = "--target=" + remapValue(target, remap)
					}
					if service != "" && strings.HasPrefix(arg, "--service=") {
						arg = "--service=" + service
					}
					args = append(args, arg)
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(pr.TimeoutSeconds)*time.Second)
				defer cancel()
				out, err := exec.CommandContext(ctx, python(t), args...).CombinedOutput()
				if err != nil {
					return fmt.Errorf("%w: %s", err, out)
				}
				return nil
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				err := probe(memd.StartupProbe, "")
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("startup probe never passed: %v\nmemd log:\n%s", err, daemon.log())
				}
				time.Sleep(300 * time.Millisecond)
			}
			for name, pr := range map[string]*corev1.Probe{"readiness": memd.ReadinessProbe, "liveness": memd.LivenessProbe} {
				if err := probe(pr, ""); err != nil {
					t.Errorf("%s probe fails against a serving memd: %v", name, err)
				}
			}
			if err := probe(memd.ReadinessProbe, "no.such.Service"); err == nil {
				t.Error("the probe passes for a service memd does not have: it cannot fail")
			}
			if e := envMap(memd); e["MEMD_TARGET"] != "" {
				// The token commands the README gives, with no flags but the grant.
				out, err := runMemd(t, env, "token", "create", "--label", "deploy-test", "--grant", "team:alpha/*=read")
				if err != nil || !strings.Contains(out, "memd_") {
					t.Errorf("memd token create with the pod's environment: %v\n%s", err, out)
				}
			}
			daemon.stop(t)
		})
	}
}

// mountRemap maps each of c's mount paths to a fresh directory under tmp.
func mountRemap(c corev1.Container, tmp string) map[string]string {
	out := map[string]string{}
	for _, m := range c.VolumeMounts {
		dir := filepath.Join(tmp, m.Name)
		_ = os.MkdirAll(dir, 0o700)
		out[m.MountPath] = dir
	}
	return out
}

// remapValue rewrites the paths in a (comma-separated) MEMD_* value that lie under a
// mount, and moves TCP listeners to an ephemeral loopback port.
func remapValue(value string, remap map[string]string) string {
	parts := strings.Split(value, ",")
	for i, part := range parts {
		prefix, path := "", part
		if strings.HasPrefix(part, "unix://") {
			prefix, path = "unix://", strings.TrimPrefix(part, "unix://")
		}
		if !strings.HasPrefix(path, "/") {
			if _, port, ok := strings.Cut(part, ":"); ok {
				if _, err := strconv.Atoi(port); err == nil {
					parts[i] = "127.0.0.1:0"
				}
			}
			continue
		}
		best := ""
		for mp := range remap {
			if (path == mp || strings.HasPrefix(path, mp+"/")) && len(mp) > len(best) {
				best = mp
			}
		}
		if best != "" {
			parts[i] = prefix + remap[best] + strings.TrimPrefix(path, best)
		}
	}
	return strings.Join(parts, ",")
}

// seedSecrets writes what the Secrets documented in shared.yaml hold: an admin
// token, and a server certificate and key (tests/daemon_tls.py) with the CA.
func seedSecrets(t *testing.T, pod corev1.PodSpec, c corev1.Container, remap map[string]string) {
	t.Helper()
	for _, m := range c.VolumeMounts {
		v := volumeFor(pod, c, m.MountPath)
		if v == nil || v.Secret == nil {
			continue
		}
		dir := remap[m.MountPath]
		switch v.Secret.SecretName {
		case "memd-admin-token":
			write(t, filepath.Join(dir, "admin.token"), "deploy-test-admin-token-0123456789\n")
		case "memd-tls":
			code := "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);" +
				"from daemon_tls import make_tls; make_tls(Path(sys.argv[2]))"
			tests, _ := filepath.Abs(filepath.Join(repoRoot, "tests"))
			if out, err := exec.Command(python(t), "-c", code, tests, dir).CombinedOutput(); err != nil {
				t.Fatalf("making TLS files: %v\n%s", err, out)
			}
			for from, to := range map[string]string{"server.pem": corev1.TLSCertKey, "server.key": corev1.TLSPrivateKeyKey, "ca.pem": "ca.crt"} {
				if err := os.Rename(filepath.Join(dir, from), filepath.Join(dir, to)); err != nil {
					t.Fatal(err)
				}
			}
		default:
			t.Fatalf("Secret %s: the test does not know what it holds", v.Secret.SecretName)
		}
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

type daemon struct {
	cmd  *exec.Cmd
	path string
	done chan error
}

func startMemd(t *testing.T, env []string) *daemon {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "memd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python(t), "-m", "memd", "serve")
	cmd.Env = append(baseEnv(), env...)
	cmd.Dir = t.TempDir()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, path: logPath, done: make(chan error, 1)}
	go func() { d.done <- cmd.Wait(); logFile.Close() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-d.done
		}
	})
	return d
}

func (d *daemon) log() string {
	b, _ := os.ReadFile(d.path)
	return string(b)
}

// stop sends SIGTERM, as the kubelet does, and wants a clean exit (0).
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		var exit *exec.ExitError
		if errors.As(err, &exit) || err != nil {
			t.Errorf("memd did not exit cleanly on SIGTERM: %v\n%s", err, d.log())
		}
	case <-time.After(60 * time.Second):
		t.Errorf("memd did not stop within 60 s of SIGTERM\n%s", d.log())
	}
}

func parseFloat(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return f
}
