package memd

import (
	"context"
	"strconv"
	"time"

	"google.golang.org/grpc/metadata"
)

// Cluster mode's metadata (docs/cluster.md, "Routing" and "Follower reads").
const (
	// NamespaceHeader carries the namespace of every namespace-scoped call, set by the
	// client from the same argument as the request's namespace, so a proxy hashing a
	// header sends one namespace's calls to one node and a cluster node routes a read
	// without decoding it. A single node ignores it; a cluster node refuses a header that
	// differs from the body. gRPC headers carry printable ASCII only, so a namespace
	// with other bytes (or edge spaces) is sent without it and routed by its body.
	NamespaceHeader = "memd-namespace"
	// MaxStalenessHeader is the follower-read bound WithMaxStaleness sets.
	MaxStalenessHeader = "memd-max-staleness-ms"
)

// WithMaxStaleness returns a context whose reads (Get, GetMany, List, ListAll, Search,
// SearchAll) a cluster node following the namespace's partition may answer from its
// own copy when that copy is at most d behind the partition's owner, instead of going
// to the owner (read-your-writes). Writes ignore it, as does a single node. d is sent
// in whole milliseconds, from 0 to 24 hours (the server refuses others with
// ErrInvalidArgument).
func WithMaxStaleness(ctx context.Context, d time.Duration) context.Context {
	return metadata.AppendToOutgoingContext(ctx, MaxStalenessHeader, strconv.FormatInt(d.Milliseconds(), 10))
}

// withNamespace adds the NamespaceHeader for namespace, unless it cannot travel as a
// header value or ctx already carries one (the caller's own stays).
func withNamespace(ctx context.Context, namespace string) context.Context {
	if !routable(namespace) {
		return ctx
	}
	if md, ok := metadata.FromOutgoingContext(ctx); ok && len(md.Get(NamespaceHeader)) > 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, NamespaceHeader, namespace)
}

// routable reports whether namespace can be a gRPC header value: printable ASCII
// without leading or trailing spaces (which HTTP/2 may trim).
func routable(namespace string) bool {
	n := len(namespace)
	if n == 0 || namespace[0] == ' ' || namespace[n-1] == ' ' {
		return false
	}
	for i := 0; i < n; i++ {
		if namespace[i] < 0x20 || namespace[i] > 0x7e {
			return false
		}
	}
	return true
}
