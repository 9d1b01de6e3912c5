package memd

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	memdv1 "github.com/memd-dev/memd/clients/go/gen/memd/v1"
)

// Owner routing (WithOwnerRouting): any node of a memd cluster answers any call,
// forwarding it to the owner of the namespace's partition, one more gRPC hop that costs
// a read about what the read itself costs (docs/cluster.md, "Figures"). A client that
// knows the placement map skips it: it reads ClusterService/Cluster (the partition
// count, each partition's owner, the nodes' addresses), computes a namespace's
// partition itself (PartitionOf) and sends the call on a connection to the owner.
//
// The map may be stale: a node that no longer owns the partition still answers (it
// forwards), and a call that fails UNAVAILABLE (the owner died, or is handing the
// partition over) makes the client read the map again and retry the call once, on the
// owner the new map names, or on the configured address when it names none. A map
// older than ownerMaxAge, or without an owner for the partition, is read again by the
// next call (at most once per ownerRefreshMin), so a partition that moved is found
// even when nothing failed. A daemon without ClusterService (a single node) leaves
// every call on the configured address. The same rules as the Python client's
// route_to_owner (clients/python/memd_client/_owners.py).

const (
	ownerRefreshMin = 200 * time.Millisecond // at most one map read per this long
	ownerMaxAge     = 5 * time.Second        // a map this old is read again by the next call
)

// ownerRouting marks Dial's options; it changes nothing in the connection itself.
type ownerRouting struct{ grpc.EmptyDialOption }

// WithOwnerRouting is a Dial option for a memd cluster: each namespace-scoped call goes
// straight to its partition's owner instead of through the node at Dial's target (see
// the comment above). Calls whose namespace cannot travel as a header (non-ASCII, edge
// spaces), and calls without a namespace, stay on the target. Connections to the owners
// are made with the same options as the target's and reused.
func WithOwnerRouting() grpc.DialOption { return ownerRouting{} }

func wantsOwnerRouting(opts []grpc.DialOption) bool {
	for _, o := range opts {
		if _, ok := o.(ownerRouting); ok {
			return true
		}
	}
	return false
}

// ownerRouter is a grpc.ClientConnInterface that picks, per call, the connection to the
// owner of the namespace in the call's memd-namespace header.
type ownerRouter struct {
	target  *grpc.ClientConn
	opts    []grpc.DialOption
	cluster memdv1.ClusterServiceClient

	mu     sync.Mutex
	conns  map[string]*grpc.ClientConn // address -> connection
	owners []string                    // partition -> owner's address ("" unknown)
	readAt time.Time                   // last map read (attempt)
	single bool                        // no ClusterService: route nothing
}

func newOwnerRouter(ctx context.Context, target *grpc.ClientConn, opts []grpc.DialOption) *ownerRouter {
	r := &ownerRouter{
		target: target, opts: opts, cluster: memdv1.NewClusterServiceClient(target),
		conns: map[string]*grpc.ClientConn{},
	}
	r.refresh(ctx)
	return r
}

// Invoke sends a unary call to the owner, and retries it once after reading the map
// again when the owner answered UNAVAILABLE.
func (r *ownerRouter) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	ns := headerNamespace(ctx)
	conn := r.connFor(ctx, ns)
	err := conn.Invoke(ctx, method, args, reply, opts...)
	if err == nil || ns == "" || status.Code(err) != codes.Unavailable || ctx.Err() != nil {
		return err
	}
	r.refresh(ctx)
	return r.connFor(ctx, ns).Invoke(ctx, method, args, reply, opts...)
}

// NewStream opens a stream on the owner; a stream that cannot open UNAVAILABLE is
// opened again after reading the map (a stream that fails later is not replayed).
func (r *ownerRouter) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	ns := headerNamespace(ctx)
	s, err := r.connFor(ctx, ns).NewStream(ctx, desc, method, opts...)
	if err == nil || ns == "" || status.Code(err) != codes.Unavailable || ctx.Err() != nil {
		return s, err
	}
	r.refresh(ctx)
	return r.connFor(ctx, ns).NewStream(ctx, desc, method, opts...)
}

// connFor is the connection for a call about ns: its owner's, read from the map
// (reading it again when it is old or names no owner), else the target.
func (r *ownerRouter) connFor(ctx context.Context, ns string) *grpc.ClientConn {
	if ns == "" {
		return r.target
	}
	if conn, ok := r.known(ns); ok {
		return conn
	}
	r.refresh(ctx)
	conn, _ := r.known(ns)
	return conn
}

// known is the connection for ns if the map settles it now (ok false: read the map;
// the connection is then the one the map gives, or the target).
func (r *ownerRouter) known(ns string) (*grpc.ClientConn, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.single || len(r.owners) == 0 {
		return r.target, r.single
	}
	address := r.owners[PartitionOf(ns, len(r.owners))]
	if address == "" {
		return r.target, false
	}
	return r.conns[address], time.Since(r.readAt) < ownerMaxAge
}

// refresh reads the placement map, at most once per ownerRefreshMin. A failed read
// keeps the map it had (UNIMPLEMENTED: a single node, routing stops).
func (r *ownerRouter) refresh(ctx context.Context) {
	r.mu.Lock()
	if r.single || time.Since(r.readAt) < ownerRefreshMin {
		r.mu.Unlock()
		return
	}
	r.readAt = time.Now()
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	reply, err := r.cluster.Cluster(ctx, &memdv1.ClusterRequest{})
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.single = status.Code(err) == codes.Unimplemented
		return
	}
	// Every registered node's address, live or not: "live" is the entry node's view of
	// a heartbeat a third of a lease apart, which a loaded machine can miss for a
	// moment; an owner that really died fails UNAVAILABLE, and the call is retried.
	addresses := map[string]string{}
	for _, n := range reply.GetNodes() {
		addresses[n.GetId()] = n.GetAddress()
	}
	owners := make([]string, len(reply.GetPartitions()))
	for i, p := range reply.GetPartitions() {
		address := addresses[p.GetOwner()]
		if address != "" && r.conns[address] == nil {
			conn, err := grpc.NewClient(address, r.opts...)
			if err != nil {
				address = "" // unusable address: that partition's calls stay on the target
			} else {
				r.conns[address] = conn
			}
		}
		owners[i] = address
	}
	r.owners = owners
}

// close closes the connections to the owners (not the target's).
func (r *ownerRouter) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for address, conn := range r.conns {
		conn.Close()
		delete(r.conns, address)
	}
	r.owners = nil
}

// headerNamespace is the memd-namespace header the client put on the call ("" none).
func headerNamespace(ctx context.Context) string {
	md, ok := metadata.FromOutgoingContext(ctx)
	if !ok {
		return ""
	}
	if v := md.Get(NamespaceHeader); len(v) > 0 {
		return v[0]
	}
	return ""
}
