package memd_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The README's example, run as written: its ```go block is copied into a new module
// (this module's requirements and go.sum, plus a replace directive pointing at this
// directory) with only the address changed to the test daemon's, and run with `go run`.
func TestReadmeExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a program")
	}
	d := getDaemon(t)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)```go\n(.*?)```").FindSubmatch(readme)
	if block == nil {
		t.Fatal("README.md has no ```go block")
	}
	const addr = `"127.0.0.1:50051"`
	if n := bytes.Count(block[1], []byte(addr)); n != 1 {
		t.Fatalf("the README example names %s %d times, want once", addr, n)
	}
	src := bytes.Replace(block[1], []byte(addr), []byte(strconv.Quote(d.tcp)), 1)

	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod := regexp.MustCompile(`(?m)^module .*$`).ReplaceAll(gomod, []byte("module memdreadme"))
	mod = append(mod, []byte("\nrequire github.com/memd-dev/memd/clients/go v0.0.0\n"+
		"\nreplace github.com/memd-dev/memd/clients/go => "+strconv.Quote(here)+"\n")...)
	gosum, err := os.ReadFile("go.sum")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{"go.mod": mod, "go.sum": gosum, "main.go": src} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go run of the README example: %v\n%s%s", err, out, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 2 || lines[0] != "the user likes tea" || !strings.HasSuffix(lines[1], " the user likes tea") {
		t.Fatalf("README example printed:\n%s", out)
	}
}
