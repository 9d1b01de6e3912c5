package memd_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	memd "github.com/memd-dev/memd/clients/go"
)

// The shared conformance scenarios of issue 5, against a real daemon: run twice, in the
// clear without auth and over mutual TLS with a token (TestConformance/plain/...,
// TestConformance/tls/...).

func dial(t *testing.T, target string, opts ...grpc.DialOption) (*memd.Client, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	c, err := memd.Dial(ctx, target, opts...)
	if err != nil {
		t.Fatalf("Dial(%s): %v", target, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, ctx
}

// conn is how a scenario reaches its variant's daemon.
type conn struct {
	d     *daemon
	token string // "" without auth
}

// client dials the daemon's TCP address; the namespace is the test's own.
func (cn conn) client(t *testing.T) (*memd.Client, context.Context, string) {
	t.Helper()
	c, ctx := dial(t, cn.d.tcp, cn.d.dialOptions(t, cn.token)...)
	return c, ctx, "go-test:" + t.Name()
}

var scenarios = []struct {
	name string
	run  func(*testing.T, conn)
}{
	{"RoundTrip", roundTrip},
	{"BulkStore10k", bulkStore10k},
	{"MissingKey", missingKey},
	{"History", history},
	{"InvalidRequests", invalidRequests},
	{"SearchStream", searchStream},
	{"UnixSocket", unixSocket},
	{"Context", memoryContext},
}

func TestConformance(t *testing.T) {
	for _, v := range []string{"plain", "tls"} {
		t.Run(v, func(t *testing.T) {
			d := daemonFor(t, v)
			cn := conn{d: d, token: d.tokens["suite"]}
			for _, s := range scenarios {
				t.Run(s.name, func(t *testing.T) { s.run(t, cn) })
			}
		})
	}
}

func roundTrip(t *testing.T, cn conn) {
	c, ctx, ns := cn.client(t)
	res, err := c.Store(ctx, ns, []*memd.NewMemory{
		{Key: "pref-1", Text: "the user likes green tea", Tags: []string{"pref"},
			Importance: proto.Float64(0.75), Value: []byte(`{"v":1}`)},
		{Text: "the meeting is on Tuesday", Metadata: map[string]string{"type": "event"}},
		{Text: "coffee makes the user nervous", Embedding: memd.PackEmbedding([]float32{1, 0, 0})},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 0 {
		t.Fatalf("item errors: %v", res.Errors)
	}
	if res.Keys[0] != "pref-1" || len(res.Keys[1]) != 26 || res.Versions[0] != 1 {
		t.Fatalf("keys %q versions %v", res.Keys, res.Versions)
	}
	for i, tier := range res.Tiers {
		if tier != memd.TierShortTerm {
			t.Errorf("item %d tier %v", i, tier)
		}
	}

	m, err := c.Get(ctx, ns, "pref-1")
	if err != nil {
		t.Fatal(err)
	}
	if m.GetText() != "the user likes green tea" || string(m.GetValue()) != `{"v":1}` ||
		m.GetImportance() != 0.75 || m.GetNamespace() != ns || m.GetVersion() != 1 {
		t.Fatalf("Get: %v", m)
	}
	ms, err := c.GetMany(ctx, ns, []string{res.Keys[2], res.Keys[1]})
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].GetText() != "coffee makes the user nervous" || ms[1].GetMetadata()["type"] != "event" {
		t.Fatalf("GetMany: %v", ms)
	}
	if v := memd.UnpackEmbedding(ms[0].GetEmbedding()); len(v) != 3 || v[0] != 1 {
		t.Fatalf("embedding %v", v)
	}

	hits, err := c.SearchAll(ctx, &memd.SearchRequest{Namespace: ns, Query: "tea", Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0].GetMemory().GetKey() != "pref-1" || hits[0].GetExplain().GetBm25() <= 0 {
		t.Fatalf("search tea: %v", hits)
	}
	hits, err = c.SearchAll(ctx, &memd.SearchRequest{
		Namespace: ns, Embedding: memd.PackEmbedding([]float32{0.9, 0.1, 0})})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0].GetMemory().GetKey() != res.Keys[2] {
		t.Fatalf("semantic search: %v", hits)
	}
	// Hits carry their vector only when asked.
	if len(hits[0].GetMemory().GetEmbedding()) != 0 {
		t.Fatalf("a default hit carried a vector: %v", hits[0])
	}
	hits, err = c.SearchAll(ctx, &memd.SearchRequest{Namespace: ns, IncludeEmbedding: true,
		Embedding: memd.PackEmbedding([]float32{0.9, 0.1, 0})})
	if err != nil {
		t.Fatal(err)
	}
	if v := memd.UnpackEmbedding(hits[0].GetMemory().GetEmbedding()); len(v) != 3 || v[0] != 1 {
		t.Fatalf("include_embedding: %v", v)
	}

	var listed []string
	err = c.ListAll(ctx, &memd.ListRequest{Namespace: ns, PageSize: 2}, func(m *memd.Memory) error {
		listed = append(listed, m.GetKey())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 3 {
		t.Fatalf("listed %q", listed)
	}
	page, err := c.List(ctx, &memd.ListRequest{Namespace: ns, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Memories) != 2 || page.NextPageToken == "" {
		t.Fatalf("first page: %d memories, token %q", len(page.Memories), page.NextPageToken)
	}

	st, err := c.Stats(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.GetNamespaces()) != 1 || st.GetNamespaces()[0].GetDimension() != 3 || count(st) != 3 {
		t.Fatalf("stats: %v", st)
	}

	n, err := c.Delete(ctx, ns, res.Keys...)
	if err != nil || n != 3 {
		t.Fatalf("Delete: %d, %v", n, err)
	}
	if _, err := c.Get(ctx, ns, "pref-1"); !errors.Is(err, memd.ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
	page, err = c.List(ctx, &memd.ListRequest{Namespace: ns})
	if err != nil || len(page.Memories) != 0 {
		t.Fatalf("List after Delete: %v, %v", page, err)
	}
}

// count sums the live memories over every tier of a Stats answer.
func count(st *memd.StatsResponse) uint64 {
	var n uint64
	for _, ns := range st.GetNamespaces() {
		for _, tier := range ns.GetTiers() {
			n += tier.GetCount()
		}
	}
	return n
}

func bulkStore10k(t *testing.T, cn conn) {
	c, ctx, ns := cn.client(t)
	const total = 10_000
	mems := make([]*memd.NewMemory, total)
	for i := range mems {
		mems[i] = &memd.NewMemory{
			Key:  fmt.Sprintf("k%05d", i),
			Text: fmt.Sprintf("memory number %d about topic %d", i, i%17),
			Tier: memd.TierLongTerm, // capacity 100 000: nothing is demoted or evicted
		}
	}
	res, acked, err := c.BulkStore(ctx, ns, mems, &memd.BulkOptions{BatchSize: 500, Window: 3})
	if err != nil {
		t.Fatalf("BulkStore: %v (acked %d)", err, acked)
	}
	if acked != total || len(res.Errors) != 0 {
		t.Fatalf("acked %d, errors %v", acked, res.Errors)
	}
	for i, k := range res.Keys {
		if k != mems[i].GetKey() || res.Versions[i] != 1 || res.Tiers[i] != memd.TierLongTerm {
			t.Fatalf("item %d: key %q version %d tier %v", i, k, res.Versions[i], res.Tiers[i])
		}
	}
	st, err := c.Stats(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	if n := count(st); n != total {
		t.Fatalf("stats count %d, want %d", n, total)
	}
	seen := 0
	err = c.ListAll(ctx, &memd.ListRequest{Namespace: ns, PageSize: 1000}, func(m *memd.Memory) error {
		if want := fmt.Sprintf("k%05d", seen); m.GetKey() != want {
			return fmt.Errorf("listed %q at %d, want %q", m.GetKey(), seen, want)
		}
		seen++
		return nil
	})
	if err != nil || seen != total {
		t.Fatalf("ListAll: %d memories, %v", seen, err)
	}
	ms, err := c.GetMany(ctx, ns, []string{"k00000", "k04999", "k09999"})
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if m == nil {
			t.Fatalf("key %d missing after bulk store", i)
		}
	}

	// Server-made keys and the default options (batches of 1 000) in a second namespace.
	fresh := make([]*memd.NewMemory, 2500)
	for i := range fresh {
		// Distinct texts: the daemon merges identical ones (dedup.exact).
		fresh[i] = &memd.NewMemory{Text: fmt.Sprintf("auto %d", i), Tier: memd.TierLongTerm}
	}
	res, acked, err = c.BulkStore(ctx, ns+"/auto", fresh, nil)
	if err != nil || acked != len(fresh) {
		t.Fatalf("BulkStore defaults: %d, %v", acked, err)
	}
	uniq := map[string]bool{}
	for _, k := range res.Keys {
		uniq[k] = true
	}
	if len(uniq) != len(fresh) {
		t.Fatalf("%d distinct server-made keys for %d memories", len(uniq), len(fresh))
	}
}

func missingKey(t *testing.T, cn conn) {
	c, ctx, ns := cn.client(t)
	_, err := c.Get(ctx, ns, "no-such-key")
	if !errors.Is(err, memd.ErrNotFound) || errors.Is(err, memd.ErrInvalidArgument) {
		t.Fatalf("Get missing: %v", err)
	}
	var me *memd.Error
	if !errors.As(err, &me) || me.Code != codes.NotFound || status.Code(err) != codes.NotFound {
		t.Fatalf("Get missing: %#v", err)
	}
	ms, err := c.GetMany(ctx, ns, []string{"a", "b"})
	if err != nil || len(ms) != 2 || ms[0] != nil || ms[1] != nil {
		t.Fatalf("GetMany missing: %v, %v", ms, err)
	}
	n, err := c.Delete(ctx, ns, "no-such-key")
	if err != nil || n != 0 {
		t.Fatalf("Delete missing: %d, %v", n, err)
	}
}

// history: a memory stored with its past keeps it (List reads without counting an
// access); a creation time an hour ahead of the server's clock is INVALID_ARGUMENT.
func history(t *testing.T, cn conn) {
	c, ctx, ns := cn.client(t)
	created := uint64(time.Now().Add(-30 * 24 * time.Hour).UnixMilli())
	past := &memd.MemoryHistory{CreatedMs: created, LastAccessMs: created + 5, AccessCount: 4, Version: 2}
	res, err := c.Store(ctx, ns, []*memd.NewMemory{{Key: "old", Text: "imported", History: past}})
	if err != nil || len(res.Errors) != 0 || res.Versions[0] != 2 {
		t.Fatalf("Store: %v, %v", res, err)
	}
	page, err := c.List(ctx, &memd.ListRequest{Namespace: ns})
	if err != nil || len(page.Memories) != 1 {
		t.Fatalf("List: %v, %v", page, err)
	}
	m := page.Memories[0]
	got := []uint64{m.GetCreatedMs(), m.GetUpdatedMs(), m.GetLastAccessMs(), m.GetAccessCount(), m.GetVersion()}
	if want := []uint64{created, created, created + 5, 4, 2}; !slices.Equal(got, want) {
		t.Fatalf("history read back as %v, want %v", got, want)
	}
	ahead := &memd.MemoryHistory{CreatedMs: uint64(time.Now().Add(time.Hour).UnixMilli())}
	res, err = c.Store(ctx, ns, []*memd.NewMemory{{Key: "future", Text: "x", History: ahead}})
	if err != nil || len(res.Errors) != 1 || codes.Code(res.Errors[0].Code) != codes.InvalidArgument ||
		!strings.Contains(res.Errors[0].Message, "is in the future") {
		t.Fatalf("future history: %v, %v", res, err)
	}
}

func invalidRequests(t *testing.T, cn conn) {
	c, ctx, ns := cn.client(t)
	isInvalid := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, memd.ErrInvalidArgument) || status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: got %v, want INVALID_ARGUMENT", what, err)
		}
	}

	_, err := c.Store(ctx, "", []*memd.NewMemory{{Text: "x"}})
	isInvalid("Store with empty namespace", err)
	_, err = c.Get(ctx, ns+strings.Repeat("n", 200), "k")
	isInvalid("Get with a 200-byte namespace", err)

	nan := memd.PackEmbedding([]float32{float32(math.NaN()), 1})
	res, err := c.Store(ctx, ns, []*memd.NewMemory{{Key: "good", Text: "ok"}, {Key: "bad", Embedding: nan}})
	if err != nil {
		t.Fatalf("per-item Store: %v", err)
	}
	if len(res.Errors) != 1 || res.Errors[0].Index != 1 || !errors.Is(&res.Errors[0], memd.ErrInvalidArgument) {
		t.Fatalf("item errors: %v", res.Errors)
	}
	if res.Versions[0] != 1 || res.Versions[1] != 0 {
		t.Fatalf("versions %v", res.Versions)
	}

	_, err = c.StoreAtomic(ctx, ns, []*memd.NewMemory{{Key: "a1", Text: "ok"}, {Key: "a2", Embedding: nan}})
	isInvalid("atomic Store with a NaN embedding", err)
	if _, err := c.Get(ctx, ns, "a1"); !errors.Is(err, memd.ErrNotFound) {
		t.Fatalf("atomic Store stored a1: %v", err)
	}

	s, err := c.Search(ctx, &memd.SearchRequest{Namespace: ns})
	if err == nil {
		for s.Next() {
			t.Fatal("hit for a search without query or embedding")
		}
		err = s.Err()
	}
	isInvalid("Search without query or embedding", err)

	// More items in one streamed message than --max-batch-items (10 000).
	big := make([]*memd.NewMemory, 10_001)
	for i := range big {
		big[i] = &memd.NewMemory{Text: "x"}
	}
	_, acked, err := c.BulkStore(ctx, ns, big, &memd.BulkOptions{BatchSize: len(big)})
	if !errors.Is(err, memd.ErrResourceExhausted) || acked != 0 {
		t.Fatalf("oversized batch: acked %d, %v", acked, err)
	}
}

func searchStream(t *testing.T, cn conn) {
	c, ctx, ns := cn.client(t)
	const total = 450 // five pages of at most 100 hits
	mems := make([]*memd.NewMemory, total)
	for i := range mems {
		mems[i] = &memd.NewMemory{
			Key: fmt.Sprintf("s%03d", i),
			// ~500 bytes a hit, so all the hits (~225 KB) cannot fit in one flow-control
			// window: the cancellation below lands while the server is still sending.
			Text: "apple " + strings.Repeat("pie ", i%7) + fmt.Sprint(i) + " " + strings.Repeat("filler ", 60),
			Tier: memd.TierLongTerm,
		}
	}
	if _, _, err := c.BulkStore(ctx, ns, mems, nil); err != nil {
		t.Fatal(err)
	}
	req := &memd.SearchRequest{Namespace: ns, Query: "apple", Limit: 1000}

	// Consumed fully: every hit, best first.
	s, err := c.Search(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	n, last := 0, math.Inf(1)
	seen := map[string]bool{}
	for s.Next() {
		h := s.Hit()
		if h.GetScore() > last {
			t.Fatalf("hit %d score %v after %v", n, h.GetScore(), last)
		}
		last = h.GetScore()
		seen[h.GetMemory().GetKey()] = true
		n++
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if n != total || len(seen) != total {
		t.Fatalf("%d hits (%d distinct), want %d", n, len(seen), total)
	}

	// Stopped midway with Close: no error, and the connection stays usable.
	s, err = c.Search(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 150 && s.Next(); i++ {
	}
	s.Close()
	if s.Next() || s.Err() != nil {
		t.Fatalf("after Close: err %v", s.Err())
	}

	// Cancelled midway through its context: the error matches context.Canceled. Fixed
	// 64 KiB windows (they turn off grpc-go's window growth) keep the server from
	// having sent every page before the cancel arrives.
	small, _ := dial(t, cn.d.tcp, append(cn.d.dialOptions(t, cn.token),
		grpc.WithInitialWindowSize(1<<16), grpc.WithInitialConnWindowSize(1<<16))...)
	cctx, cancel := context.WithCancel(ctx)
	s, err = small.Search(cctx, req)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for s.Next() {
		got++
		if got == 150 {
			cancel()
		}
	}
	cancel()
	if got >= total || !errors.Is(s.Err(), context.Canceled) || status.Code(s.Err()) != codes.Canceled {
		t.Fatalf("cancelled search: %d hits, err %v", got, s.Err())
	}

	hits, err := c.SearchAll(ctx, &memd.SearchRequest{Namespace: ns, Query: "apple", Limit: 5})
	if err != nil || len(hits) != 5 {
		t.Fatalf("search after cancellations: %d hits, %v", len(hits), err)
	}
}

func unixSocket(t *testing.T, cn conn) {
	if cn.d.unix == "" {
		t.Skip("daemon reported no unix socket")
	}
	// The daemon serves TLS on TCP only (its Unix socket is guarded by file
	// permissions): the token goes over the socket in the clear.
	var opts []grpc.DialOption
	if cn.token != "" {
		opts = append(opts, memd.WithToken(cn.token))
	}
	c, ctx := dial(t, cn.d.unix, opts...)
	ns := "go-test:" + t.Name()
	res, err := c.Store(ctx, ns, []*memd.NewMemory{{Text: "over a unix socket"}})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := c.Get(ctx, ns, res.Keys[0]); err != nil || m.GetText() != "over a unix socket" {
		t.Fatalf("Get: %v, %v", m, err)
	}
}

func TestDialUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Port 1 on loopback: nothing listens there (connection refused).
	_, err := memd.Dial(ctx, "127.0.0.1:1")
	if !errors.Is(err, memd.ErrUnavailable) {
		t.Fatalf("Dial to a closed port: %v", err)
	}
}

// A daemon stopped during BulkStore: the error matches ErrUnavailable, and exactly the
// acknowledged memories are committed (checked after a restart on the same store).
func TestBulkStoreDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own daemon twice")
	}
	getDaemon(t) // skips without a Python
	dataDir := t.TempDir()
	d := startDaemon(dataDir)
	t.Cleanup(d.stop)
	if d.err != nil {
		t.Fatal(d.err)
	}
	c, ctx := dial(t, d.tcp)
	const total = 400_000
	mems := make([]*memd.NewMemory, total)
	for i := range mems {
		mems[i] = &memd.NewMemory{Key: fmt.Sprintf("d%06d", i), Text: fmt.Sprintf("x%d", i), Tier: memd.TierArchive}
	}
	type outcome struct {
		acked int
		err   error
	}
	out := make(chan outcome, 1)
	go func() {
		_, acked, err := c.BulkStore(ctx, "drain", mems, &memd.BulkOptions{BatchSize: 1000})
		out <- outcome{acked, err}
	}()
	time.Sleep(700 * time.Millisecond)
	d.stop()
	o := <-out
	if o.err == nil {
		t.Skipf("the bulk store of %d memories finished before the daemon stopped", total)
	}
	if !errors.Is(o.err, memd.ErrUnavailable) || o.acked >= total || o.acked%1000 != 0 {
		t.Fatalf("BulkStore during shutdown: acked %d, err %v\nlog:\n%s", o.acked, o.err, d.logText())
	}
	t.Logf("acked %d of %d before the drain: %v", o.acked, total, o.err)

	d2 := startDaemon(dataDir)
	t.Cleanup(d2.stop)
	if d2.err != nil {
		t.Fatal(d2.err)
	}
	c2, ctx2 := dial(t, d2.tcp)
	st, err := c2.Stats(ctx2, "drain")
	if err != nil {
		t.Fatal(err)
	}
	if n := count(st); n != uint64(o.acked) {
		t.Fatalf("%d memories committed after the restart, %d acknowledged", n, o.acked)
	}
}
