package memd_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	memd "github.com/memd-dev/memd/clients/go"
	memdv1 "github.com/memd-dev/memd/clients/go/gen/memd/v1"
)

// A three-node cluster over one nats-server (the launcher's --cluster-peers 2: the node
// the clients enter at is drained, the two peers own every partition), its own daemon:
// the test kills one of its nodes.
func init() {
	variants["owners"] = &variant{args: []string{"--cluster", "--cluster-peers", "2", "--no-unix"}}
}

// forwards reads memd_cluster_forwards_total{method} from a node's Prometheus page.
func forwards(t *testing.T, metrics, method string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	prefix := fmt.Sprintf("memd_cluster_forwards_total{method=%q} ", method)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, prefix) {
			v, err := strconv.ParseFloat(strings.TrimPrefix(line, prefix), 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	return 0 // no call forwarded yet
}

// settledMap waits until the placement map has an owner for every partition and has
// not changed for three leases (the join's rebalancing is over), and returns it.
func settledMap(t *testing.T, ctx context.Context, target string) *memdv1.ClusterResponse {
	t.Helper()
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rpc := memdv1.NewClusterServiceClient(conn)
	owners, since := "", time.Now()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		m, err := rpc.Cluster(ctx, &memdv1.ClusterRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var now []string
		for _, p := range m.GetPartitions() {
			now = append(now, p.GetOwner())
		}
		joined := strings.Join(now, ",")
		if joined != owners || strings.Contains(","+joined+",", ",,") {
			owners, since = joined, time.Now()
		} else if time.Since(since) > 3*time.Second {
			return m
		}
	}
	t.Fatalf("the placement map did not settle: %s", owners)
	return nil
}

// TestOwnerRouting: with WithOwnerRouting a client entering the cluster at one node sends
// a namespace's calls straight to the partition's owner (the entry node forwards none,
// while a client without it is forwarded), and goes on after kill -9 of that owner.
func TestOwnerRouting(t *testing.T) {
	d := daemonFor(t, "owners")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	m := settledMap(t, ctx, d.tcp)
	// A namespace whose partition a peer owns (not the node the clients enter at).
	var ns string
	var owner *peer
	for i := 0; i < 100 && owner == nil; i++ {
		ns = fmt.Sprintf("go-owners:%d", i)
		id := m.GetPartitions()[memd.PartitionOf(ns, len(m.GetPartitions()))].GetOwner()
		for j := range d.peers {
			if d.peers[j].NodeID == id {
				owner = &d.peers[j]
			}
		}
	}
	if owner == nil {
		t.Fatalf("no partition owned by a peer: %v", m)
	}
	routed, err := memd.Dial(ctx, d.tcp, memd.WithOwnerRouting())
	if err != nil {
		t.Fatal(err)
	}
	defer routed.Close()
	plain, err := memd.Dial(ctx, d.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := routed.Store(ctx, ns, []*memd.NewMemory{{Key: "k", Text: "routed"}}); err != nil {
		t.Fatal(err)
	}
	before := forwards(t, d.metrics, "Retrieve")
	for i := 0; i < 5; i++ {
		if _, err := routed.Get(ctx, ns, "k"); err != nil {
			t.Fatal(err)
		}
	}
	if got := forwards(t, d.metrics, "Retrieve"); got != before {
		t.Fatalf("routed reads were forwarded by the entry node: %v -> %v", before, got)
	}
	// The same read without routing is forwarded (so the check above can fail).
	if _, err := plain.Get(ctx, ns, "k"); err != nil {
		t.Fatal(err)
	}
	if got := forwards(t, d.metrics, "Retrieve"); got != before+1 {
		t.Fatalf("a plain read: forwards %v -> %v, want one more", before, got)
	}
	// The owner dies: the call to it fails UNAVAILABLE, the client reads the map again
	// and retries; once a node took the partition over, calls succeed again.
	if err := syscall.Kill(owner.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		call, stop := context.WithTimeout(ctx, 2*time.Second)
		m, err := routed.Get(call, ns, "k")
		stop()
		if err == nil {
			if m.GetText() != "routed" {
				t.Fatalf("after the failover: %v", m)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer 30 s after the owner was killed: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := routed.Store(ctx, ns, []*memd.NewMemory{{Key: "k2", Text: "after"}}); err != nil {
		t.Fatalf("a write after the failover: %v", err)
	}
}
