package memd_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	memd "github.com/memd-dev/memd/clients/go"
	memdv1 "github.com/memd-dev/memd/clients/go/gen/memd/v1"
)

// The daemon of the "cluster" variant is the one node of a cluster (the launcher's
// --cluster: one JetStream nats-server): it checks the memd-namespace header against
// the body and reports bounded-staleness reads in the trailing metadata, so what the
// client sends is seen by a real server.
func init() {
	variants["cluster"] = &variant{args: []string{"--cluster", "--no-unix"}}
}

// TestClusterHeaders: the client sends the namespace header on a namespace-scoped call
// (a body renamed after the client built the call is refused INVALID_ARGUMENT), and
// WithMaxStaleness sends a follower-read bound (the node reports where it read from).
func TestClusterHeaders(t *testing.T) {
	d := daemonFor(t, "cluster")
	var rename atomic.Bool
	var readFrom atomic.Value
	// The test's own interceptor runs after the client set the call's metadata.
	observe := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
		invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if r, ok := req.(*memdv1.RetrieveRequest); ok && rename.Load() {
			req = &memdv1.RetrieveRequest{Namespace: "elsewhere", Keys: r.GetKeys()}
		}
		var trailer metadata.MD
		err := invoker(ctx, method, req, reply, cc, append(opts, grpc.Trailer(&trailer))...)
		readFrom.Store(strings.Join(trailer.Get("memd-read-from"), ","))
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := memd.Dial(ctx, d.tcp, grpc.WithChainUnaryInterceptor(observe))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ns := "go-cluster:headers"
	if res, err := c.Store(ctx, ns, []*memd.NewMemory{{Key: "k", Text: "tea"}}); err != nil || len(res.Errors) != 0 {
		t.Fatalf("Store: %v %v", err, res)
	}
	if _, err := c.Get(ctx, ns, "k"); err != nil {
		t.Fatal(err)
	}
	if got := readFrom.Load(); got != "" {
		t.Fatalf("a read without a bound reported %q", got)
	}
	rename.Store(true)
	_, err = c.Get(ctx, ns, "k")
	rename.Store(false)
	if !errors.Is(err, memd.ErrInvalidArgument) || !strings.Contains(err.Error(), "memd-namespace") {
		t.Fatalf("a body disagreeing with the header: %v, want INVALID_ARGUMENT", err)
	}
	stale := memd.WithMaxStaleness(ctx, time.Minute)
	if _, err := c.Get(stale, ns, "k"); err != nil {
		t.Fatal(err)
	}
	if got := readFrom.Load(); got != "owner" {
		t.Fatalf("a bounded read reported memd-read-from %q, want owner (the only node)", got)
	}
	readFrom.Store("")
	page, err := c.List(stale, &memd.ListRequest{Namespace: ns})
	if err != nil || len(page.Memories) != 1 || readFrom.Load() != "owner" {
		t.Fatalf("List with a bound: %v %v %q", err, page, readFrom.Load())
	}
	if _, err := c.Get(memd.WithMaxStaleness(ctx, -time.Second), ns, "k"); !errors.Is(err, memd.ErrInvalidArgument) {
		t.Fatalf("a negative bound: %v, want INVALID_ARGUMENT", err)
	}
}
