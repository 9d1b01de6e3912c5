// Package memd is a Go client for memd, the memory daemon for AI agents.
//
// It wraps the generated gRPC code of memd.v1 (package
// github.com/memd-dev/memd/clients/go/gen/memd/v1) with one method per operation,
// context.Context everywhere and errors that match sentinel errors by status code:
//
//	c, err := memd.Dial(ctx, "127.0.0.1:50051")
//	res, err := c.Store(ctx, "agent:demo", []*memd.NewMemory{{Text: "the user likes tea"}})
//	m, err := c.Get(ctx, "agent:demo", res.Keys[0])
//	if errors.Is(err, memd.ErrNotFound) { ... }
//
// Messages are the generated types (aliased here: NewMemory, Memory, SearchRequest, ...),
// so every field documented in proto/memd/v1 is available.
package memd

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	memdv1 "github.com/memd-dev/memd/clients/go/gen/memd/v1"
)

// The memd.v1 messages used by this package's methods.
type (
	NewMemory      = memdv1.NewMemory
	MemoryHistory  = memdv1.MemoryHistory // NewMemory.History: an imported memory's past
	Memory         = memdv1.Memory
	Tier           = memdv1.Tier
	SearchRequest  = memdv1.SearchRequest
	SearchHit      = memdv1.SearchHit
	ListRequest    = memdv1.ListRequest
	StatsResponse  = memdv1.StatsResponse
	NamespaceStats = memdv1.NamespaceStats
)

// Tiers, hottest first.
const (
	TierUnspecified = memdv1.Tier_TIER_UNSPECIFIED
	TierWorking     = memdv1.Tier_TIER_WORKING
	TierShortTerm   = memdv1.Tier_TIER_SHORT_TERM
	TierLongTerm    = memdv1.Tier_TIER_LONG_TERM
	TierArchive     = memdv1.Tier_TIER_ARCHIVE
)

// DefaultMaxRecvBytes is the largest response the client accepts by default: the
// server's default --max-message-bytes is 16 MiB, above grpc-go's 4 MiB default.
const DefaultMaxRecvBytes = 64 << 20

// Client is a connection to one memd daemon. It is safe for concurrent use.
type Client struct {
	conn   *grpc.ClientConn
	rpc    memdv1.MemoryServiceClient
	owners *ownerRouter // WithOwnerRouting; nil otherwise
}

// Dial connects to a memd daemon at target, "host:port" or "unix:///path/to/memd.sock",
// and waits until the connection is ready, ctx is done, or the first attempt fails
// (an *Error with codes.Unavailable, matching ErrUnavailable). The connection is
// plaintext unless opts supply transport credentials, and retries calls failing with
// UNAVAILABLE per DefaultRetryPolicy (WithRetry tunes it, WithoutRetry turns it off).
// With WithOwnerRouting among opts, namespace-scoped calls go straight to the owner of
// the namespace's partition in a memd cluster (owners.go).
// opts are passed to grpc.NewClient after DefaultDialOptions, so they override them.
func Dial(ctx context.Context, target string, opts ...grpc.DialOption) (*Client, error) {
	all := append(DefaultDialOptions(), opts...)
	conn, err := grpc.NewClient(target, all...)
	if err != nil {
		return nil, fmt.Errorf("memd: Dial %q: %w", target, err)
	}
	conn.Connect()
	for {
		s := conn.GetState()
		if s == connectivity.Ready {
			c := NewClient(conn)
			if wantsOwnerRouting(opts) {
				c.owners = newOwnerRouter(ctx, conn, all)
				c.rpc = memdv1.NewMemoryServiceClient(c.owners)
			}
			return c, nil
		}
		if s == connectivity.TransientFailure || s == connectivity.Shutdown {
			conn.Close()
			st := status.Newf(codes.Unavailable, "cannot connect to %s", target)
			return nil, &Error{Op: "Dial", Code: codes.Unavailable, Message: st.Message(), st: st}
		}
		if !conn.WaitForStateChange(ctx, s) {
			conn.Close()
			return nil, fmt.Errorf("memd: Dial %q: %w", target, ctx.Err())
		}
	}
}

// NewClient wraps an existing connection (for custom dialling, TLS, interceptors).
// Close then closes conn.
func NewClient(conn *grpc.ClientConn) *Client {
	return &Client{conn: conn, rpc: memdv1.NewMemoryServiceClient(conn)}
}

// Close closes the connection (and, with WithOwnerRouting, those to the owners).
func (c *Client) Close() error {
	if c.owners != nil {
		c.owners.close()
	}
	return c.conn.Close()
}

// Raw returns the generated gRPC client, for RPCs the wrapper does not cover
// (RetrieveStream, Sweep, Backup, ListNamespaces, DropNamespace).
func (c *Client) Raw() memdv1.MemoryServiceClient { return c.rpc }

// StoreResult is the outcome of Store or BulkStore: per item, in request order.
type StoreResult struct {
	// Keys are the stored keys (server-made for an empty key); for a failed item, the
	// key as sent.
	Keys []string
	// Versions are the versions after the store (1 for a new memory); 0 for a failed item.
	Versions []uint64
	// Tiers are the tiers the memories are in; TierUnspecified for a failed item.
	Tiers []Tier
	// Errors lists the failed items, in index order; empty when all were stored.
	Errors []ItemError
}

func (r *StoreResult) add(offset int, resp *memdv1.StoreResponse) {
	copy(r.Keys[offset:], resp.GetKeys())
	copy(r.Versions[offset:], resp.GetVersions())
	copy(r.Tiers[offset:], resp.GetTiers())
	for _, e := range resp.GetErrors() {
		r.Errors = append(r.Errors, ItemError{
			Index: offset + int(e.GetIndex()), Code: codes.Code(e.GetCode()), Message: e.GetMessage(),
		})
	}
}

func newStoreResult(n int) *StoreResult {
	return &StoreResult{Keys: make([]string, n), Versions: make([]uint64, n), Tiers: make([]Tier, n)}
}

// Store stores one batch in namespace and returns once it is committed. Invalid items
// are reported in StoreResult.Errors while the valid ones are stored; use StoreAtomic
// for all or nothing. Keep batches to at most a few thousand items; use BulkStore for more.
func (c *Client) Store(ctx context.Context, namespace string, memories []*NewMemory) (*StoreResult, error) {
	return c.store(ctx, "Store", namespace, memories, false)
}

// StoreAtomic stores one batch all or nothing: one invalid item fails the call with an
// error matching ErrInvalidArgument, and nothing is stored.
func (c *Client) StoreAtomic(ctx context.Context, namespace string, memories []*NewMemory) (*StoreResult, error) {
	return c.store(ctx, "StoreAtomic", namespace, memories, true)
}

func (c *Client) store(ctx context.Context, op, ns string, memories []*NewMemory, atomic bool) (*StoreResult, error) {
	resp, err := c.rpc.Store(withNamespace(ctx, ns), &memdv1.StoreRequest{Namespace: ns, Memories: memories, Atomic: atomic})
	if err != nil {
		return nil, wrap(op, err)
	}
	res := newStoreResult(len(memories))
	res.add(0, resp)
	return res, nil
}

// Get reads one memory; a missing or expired key is an error matching ErrNotFound.
// The read counts as an access (it may promote the memory).
func (c *Client) Get(ctx context.Context, namespace, key string) (*Memory, error) {
	ms, err := c.GetMany(ctx, namespace, []string{key})
	if err != nil {
		return nil, err
	}
	if ms[0] == nil {
		st := status.Newf(codes.NotFound, "key %q not found in namespace %q", key, namespace)
		return nil, &Error{Op: "Get", Code: codes.NotFound, Message: st.Message(), st: st}
	}
	return ms[0], nil
}

// GetMany reads a batch of keys: one entry per key, in order, nil where the key is
// missing or expired.
func (c *Client) GetMany(ctx context.Context, namespace string, keys []string) ([]*Memory, error) {
	resp, err := c.rpc.Retrieve(withNamespace(ctx, namespace), &memdv1.RetrieveRequest{Namespace: namespace, Keys: keys})
	if err != nil {
		return nil, wrap("Get", err)
	}
	out := make([]*Memory, len(keys))
	for i, r := range resp.GetResults() {
		if i < len(out) && r.GetFound() {
			out[i] = r.GetMemory()
		}
	}
	return out, nil
}

// Delete deletes keys from namespace and returns how many memories were removed.
// Unknown keys are not an error.
func (c *Client) Delete(ctx context.Context, namespace string, keys ...string) (int, error) {
	resp, err := c.rpc.Delete(withNamespace(ctx, namespace), &memdv1.DeleteRequest{Namespace: namespace, Keys: keys})
	if err != nil {
		return 0, wrap("Delete", err)
	}
	return int(resp.GetDeletedCount()), nil
}

// ListPage is one page of List.
type ListPage struct {
	Memories []*Memory
	// NextPageToken continues the listing (set it as the request's PageToken); empty
	// on the last page.
	NextPageToken string
}

// List returns one page of the live memories of req.Namespace, in key order.
func (c *Client) List(ctx context.Context, req *ListRequest) (*ListPage, error) {
	resp, err := c.rpc.List(withNamespace(ctx, req.GetNamespace()), req)
	if err != nil {
		return nil, wrap("List", err)
	}
	return &ListPage{Memories: resp.GetMemories(), NextPageToken: resp.GetNextPageToken()}, nil
}

// ListAll pages through every memory matching req (from req.PageToken on) and calls
// fn for each; it stops at the first error fn returns and returns it.
func (c *Client) ListAll(ctx context.Context, req *ListRequest, fn func(*Memory) error) error {
	r := &memdv1.ListRequest{
		Namespace: req.GetNamespace(), Tier: req.GetTier(), PageSize: req.GetPageSize(),
		PageToken: req.GetPageToken(), Reverse: req.GetReverse(),
		CreatedAfterMs: req.GetCreatedAfterMs(), CreatedBeforeMs: req.GetCreatedBeforeMs(),
	}
	for {
		page, err := c.List(ctx, r)
		if err != nil {
			return err
		}
		for _, m := range page.Memories {
			if err := fn(m); err != nil {
				return err
			}
		}
		if page.NextPageToken == "" {
			return nil
		}
		r.PageToken = page.NextPageToken
	}
}

// Stats returns counts, sizes and counters of one namespace, or of every namespace
// when namespace is empty.
func (c *Client) Stats(ctx context.Context, namespace string) (*StatsResponse, error) {
	resp, err := c.rpc.Stats(withNamespace(ctx, namespace), &memdv1.StatsRequest{Namespace: namespace})
	if err != nil {
		return nil, wrap("Stats", err)
	}
	return resp, nil
}

// SearchStream iterates over the hits of a Search, best first, like bufio.Scanner:
//
//	s, err := c.Search(ctx, &memd.SearchRequest{Namespace: ns, Query: "tea"})
//	if err != nil { ... }
//	defer s.Close()
//	for s.Next() {
//		hit := s.Hit()
//	}
//	if err := s.Err(); err != nil { ... }
type SearchStream struct {
	stream grpc.ServerStreamingClient[memdv1.SearchResponse]
	cancel context.CancelFunc
	page   []*SearchHit
	hit    *SearchHit
	err    error
	done   bool
}

// Search starts a search; hits arrive in pages from the server as Next is called.
// A hit's Memory.Embedding is empty unless req.IncludeEmbedding is set.
// Close the stream when stopping early: it cancels the RPC.
func (c *Client) Search(ctx context.Context, req *SearchRequest) (*SearchStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.rpc.Search(withNamespace(ctx, req.GetNamespace()), req)
	if err != nil {
		cancel()
		return nil, wrap("Search", err)
	}
	return &SearchStream{stream: stream, cancel: cancel}, nil
}

// Next advances to the next hit and reports whether there is one. It returns false at
// the end of the results or on an error (see Err).
func (s *SearchStream) Next() bool {
	for len(s.page) == 0 {
		if s.done {
			s.hit = nil
			return false
		}
		resp, err := s.stream.Recv()
		if err != nil {
			s.done = true
			s.cancel()
			if err != io.EOF {
				s.err = wrap("Search", err)
			}
			s.hit = nil
			return false
		}
		s.page = resp.GetHits()
	}
	s.hit, s.page = s.page[0], s.page[1:]
	return true
}

// Hit returns the current hit (valid after Next returned true).
func (s *SearchStream) Hit() *SearchHit { return s.hit }

// Err returns the error that ended the iteration, nil at a normal end. Request errors
// (e.g. ErrInvalidArgument for a search without query or embedding) surface here, at
// the first Next.
func (s *SearchStream) Err() error { return s.err }

// Close cancels the search if it is still running. It is safe to call more than once.
func (s *SearchStream) Close() error {
	if !s.done {
		s.done = true
		s.page = nil
		s.cancel()
	}
	return nil
}

// SearchAll runs a search and returns all its hits.
func (c *Client) SearchAll(ctx context.Context, req *SearchRequest) ([]*SearchHit, error) {
	s, err := c.Search(ctx, req)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var hits []*SearchHit
	for s.Next() {
		hits = append(hits, s.Hit())
	}
	return hits, s.Err()
}

// BulkOptions tunes BulkStore. The zero value is valid.
type BulkOptions struct {
	// BatchSize is the number of memories per streamed message; 0 means 1 000. It must
	// not exceed the server's --max-batch-items (default 10 000), and a batch must fit
	// in --max-message-bytes (default 16 MiB).
	BatchSize int
	// Window is how many batches may be sent before their acknowledgement arrives;
	// 0 means 4.
	Window int
}

// BulkStore stores memories over one StoreStream RPC in batches of opts.BatchSize,
// keeping up to opts.Window batches in flight. Each batch is committed per item like
// Store (failed items are in the result's Errors, with indexes into memories).
//
// On error, the result is still returned: acked is the number of leading memories
// whose batches were acknowledged (committed); resend memories[acked:]. Resending is
// safe when the memories carry their own keys.
func (c *Client) BulkStore(ctx context.Context, namespace string, memories []*NewMemory, opts *BulkOptions) (res *StoreResult, acked int, err error) {
	size, window := 1000, 4
	if opts != nil && opts.BatchSize > 0 {
		size = opts.BatchSize
	}
	if opts != nil && opts.Window > 0 {
		window = opts.Window
	}
	res = newStoreResult(len(memories))
	nb := (len(memories) + size - 1) / size
	if nb == 0 {
		return res, 0, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.StoreStream(withNamespace(ctx, namespace))
	if err != nil {
		return res, 0, wrap("BulkStore", err)
	}

	credit := make(chan struct{}, window)
	sent := make(chan error, 1)
	go func() {
		for i := 0; i < nb; i++ {
			select {
			case credit <- struct{}{}:
			case <-ctx.Done():
				sent <- ctx.Err()
				return
			}
			lo, hi := i*size, min((i+1)*size, len(memories))
			req := &memdv1.StoreRequest{Namespace: namespace, Memories: memories[lo:hi], BatchId: uint64(i)}
			if err := stream.Send(req); err != nil {
				sent <- err // io.EOF: the RPC ended; Recv returns its status
				return
			}
		}
		sent <- stream.CloseSend()
	}()
	fail := func(err error) (*StoreResult, int, error) {
		cancel()
		<-sent
		return res, acked, wrap("BulkStore", err)
	}
	for i := 0; i < nb; i++ {
		resp, err := stream.Recv()
		if err == io.EOF {
			err = status.Errorf(codes.Internal, "stream ended after %d of %d acknowledgements", i, nb)
		}
		if err != nil {
			return fail(err)
		}
		if resp.GetBatchId() != uint64(i) || len(resp.GetKeys()) != min(size, len(memories)-i*size) {
			return fail(status.Errorf(codes.Internal, "acknowledgement %d is for batch %d with %d keys",
				i, resp.GetBatchId(), len(resp.GetKeys())))
		}
		<-credit
		res.add(i*size, resp)
		acked = min((i+1)*size, len(memories))
	}
	if err := <-sent; err != nil {
		return res, acked, wrap("BulkStore", err)
	}
	if _, err := stream.Recv(); err != io.EOF {
		if err == nil {
			err = status.Error(codes.Internal, "unexpected extra acknowledgement")
		}
		return res, acked, wrap("BulkStore", err)
	}
	return res, acked, nil
}

// PackEmbedding encodes a vector the way memd expects it in NewMemory.Embedding and
// SearchRequest.Embedding: packed little-endian float32.
func PackEmbedding(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// UnpackEmbedding decodes Memory.Embedding; it returns nil for a malformed length.
func UnpackEmbedding(b []byte) []float32 {
	if len(b)%4 != 0 {
		return nil
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}
