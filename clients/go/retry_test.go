package memd_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	memd "github.com/memd-dev/memd/clients/go"
)

// lateClient is a client of unix://sock (nothing there yet) that reconnects quickly;
// opts come after the defaults.
func lateClient(t *testing.T, sock string, opts ...grpc.DialOption) *memd.Client {
	t.Helper()
	fast := grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 100 * time.Millisecond},
		MinConnectTimeout: 5 * time.Second,
	})
	all := append(append(memd.DefaultDialOptions(), fast), opts...)
	conn, err := grpc.NewClient("unix://"+sock, all...)
	if err != nil {
		t.Fatal(err)
	}
	c := memd.NewClient(conn)
	t.Cleanup(func() { c.Close() })
	return c
}

// A call made while the daemon is unreachable fails with UNAVAILABLE and is retried
// with backoff until the daemon's socket appears (300 ms after the call starts: a link
// to the running test daemon's socket); without retries the same call fails at once.
func TestRetryOnUnavailable(t *testing.T) {
	d := getDaemon(t)
	if d.unix == "" {
		t.Skip("the daemon reported no unix socket")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()

	sock := filepath.Join(dir, "none.sock")
	t0 := time.Now()
	_, err := lateClient(t, sock, memd.WithoutRetry()).Stats(ctx, "")
	if !errors.Is(err, memd.ErrUnavailable) {
		t.Fatalf("Stats without retries and without a daemon: %v", err)
	}
	t.Logf("without retries: %v after %s", err, time.Since(t0))

	sock = filepath.Join(dir, "late.sock")
	// Full-jitter delays with these bounds: the four retries span far more than 300 ms.
	policy := memd.RetryPolicy{MaxAttempts: 5, InitialBackoff: time.Second, MaxBackoff: 2 * time.Second, Multiplier: 2}
	c := lateClient(t, sock, memd.WithRetry(policy))
	const late = 300 * time.Millisecond
	linked := make(chan error, 1)
	t0 = time.Now()
	go func() {
		time.Sleep(late)
		linked <- os.Symlink(strings.TrimPrefix(d.unix, "unix://"), sock)
	}()
	st, err := c.Stats(ctx, "")
	elapsed := time.Since(t0)
	if lerr := <-linked; lerr != nil {
		t.Fatal(lerr)
	}
	if err != nil {
		t.Fatalf("Stats with retries, the daemon reachable after %s: %v (after %s)", late, err, elapsed)
	}
	if elapsed < late || st == nil {
		t.Fatalf("Stats succeeded after %s, before the daemon was reachable (%s)", elapsed, late)
	}
	t.Logf("with retries: succeeded after %s", elapsed)
}

// The default policy is a valid service config that exempts StoreStream.
func TestRetryServiceConfig(t *testing.T) {
	sc := memd.DefaultRetryPolicy.ServiceConfig()
	want := `{"methodConfig":[{"name":[{"service":"memd.v1.MemoryService","method":"StoreStream"}]},` +
		`{"name":[{"service":"memd.v1.MemoryService"}],"retryPolicy":{"maxAttempts":4,"initialBackoff":"0.05s",` +
		`"maxBackoff":"2s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]}`
	if sc != want {
		t.Fatalf("ServiceConfig:\n%s\nwant\n%s", sc, want)
	}
	conn, err := grpc.NewClient("127.0.0.1:1", memd.DefaultDialOptions()...)
	if err != nil {
		t.Fatalf("grpc-go rejects the default service config: %v", err)
	}
	conn.Close()
}
