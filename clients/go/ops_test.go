package memd_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	memd "github.com/memd-dev/memd/clients/go"
)

// BatchSearch, pattern search, Transfer and Clear against a real daemon, in the clear
// and over mutual TLS with a token (TestOps/plain/..., TestOps/tls/...).

func TestOps(t *testing.T) {
	for _, v := range []string{"plain", "tls"} {
		t.Run(v, func(t *testing.T) {
			d := daemonFor(t, v)
			cn := conn{d: d, token: d.tokens["suite"]}
			t.Run("BatchSearch", func(t *testing.T) { batchSearch(t, cn) })
			t.Run("TransferClear", func(t *testing.T) { transferClear(t, cn) })
			t.Run("FusionOptions", func(t *testing.T) { fusionOptions(t, cn) })
		})
	}
}

func keysOf(hits []*memd.SearchHit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.GetMemory().GetKey()
	}
	return out
}

func batchSearch(t *testing.T, cn conn) {
	c, ctx, ns := cn.client(t)
	texts := map[string]string{
		"tea":    "the user likes green tea",
		"coffee": "the user drinks coffee at nine",
		"order":  "Order #1042 shipped to Paris",
		"trip":   "a trip to Tokyo in May",
	}
	var mems []*memd.NewMemory
	for k, text := range texts {
		mems = append(mems, &memd.NewMemory{Key: k, Text: text, Embedding: memd.PackEmbedding([]float32{float32(len(k)), 1})})
	}
	if _, err := c.Store(ctx, ns, mems); err != nil {
		t.Fatal(err)
	}
	queries := []*memd.SearchRequest{
		{Query: "user"},
		{Embedding: memd.PackEmbedding([]float32{5, 1})},
		{Pattern: "*#10??*"},
		{Pattern: `\bto (Paris|Tokyo)\b`, PatternSyntax: memd.PatternRegex, Mode: memd.SearchModePattern},
		{Query: "nothing-resembling-these"},
	}
	req := &memd.BatchSearchRequest{Namespace: ns, Shared: &memd.SearchRequest{Limit: 3}, Queries: queries}
	got, err := c.BatchSearch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(queries) {
		t.Fatalf("%d results for %d queries", len(got), len(queries))
	}
	for i, q := range queries {
		one := &memd.SearchRequest{Namespace: ns, Limit: 3, Query: q.Query, Embedding: q.Embedding,
			Pattern: q.Pattern, PatternSyntax: q.PatternSyntax, Mode: q.Mode}
		want, err := c.SearchAll(ctx, one)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(keysOf(got[i]), keysOf(want)) {
			t.Errorf("query %d: batch %v, alone %v", i, keysOf(got[i]), keysOf(want))
		}
	}
	if k := keysOf(got[2]); !slices.Equal(k, []string{"order"}) {
		t.Errorf("glob: %v", k)
	}
	if k := keysOf(got[3]); len(k) != 2 {
		t.Errorf("regex: %v", k)
	}
	if len(got[4]) != 0 {
		t.Errorf("no match: %v", keysOf(got[4]))
	}

	bad := &memd.BatchSearchRequest{Namespace: ns, Queries: []*memd.SearchRequest{{Query: "tea"}, {Pattern: "[oops"}}}
	if _, err := c.BatchSearch(ctx, bad); !errors.Is(err, memd.ErrInvalidArgument) {
		t.Fatalf("bad pattern: %v", err)
	} else if msg := status.Convert(err).Message(); len(msg) < 8 || msg[:8] != "query 1:" {
		t.Fatalf("bad pattern message %q", msg)
	}
}

func transferClear(t *testing.T, cn conn) {
	c, ctx, ns := cn.client(t)
	dst := ns + "/to"
	mems := []*memd.NewMemory{
		{Key: "a", Text: "alpha", Tier: memd.TierWorking},
		{Key: "b", Text: "beta", Tier: memd.TierLongTerm},
		{Key: "c", Text: "gamma", Tier: memd.TierArchive},
	}
	if _, err := c.Store(ctx, ns, mems); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Store(ctx, dst, []*memd.NewMemory{{Key: "b", Text: "theirs"}}); err != nil {
		t.Fatal(err)
	}
	copyAll := &memd.TransferRequest{Namespace: ns, TargetNamespace: dst, WholeNamespace: true}
	if _, err := c.Transfer(ctx, copyAll); !errors.Is(err, memd.ErrAlreadyExists) || status.Code(err) != codes.AlreadyExists {
		t.Fatalf("conflict: %v", err)
	}
	copyAll.OnConflict = memd.TransferConflictSkip
	r, err := c.Transfer(ctx, copyAll)
	if err != nil || r.GetTransferred() != 2 || r.GetSkippedExisting() != 1 {
		t.Fatalf("skip: %v %v", r, err)
	}
	move := &memd.TransferRequest{Namespace: ns, TargetNamespace: dst, Keys: []string{"b", "zz"},
		Move: true, OnConflict: memd.TransferConflictOverwrite}
	r, err = c.Transfer(ctx, move)
	if err != nil || r.GetTransferred() != 1 || r.GetOverwritten() != 1 || r.GetMissing() != 1 {
		t.Fatalf("move: %v %v", r, err)
	}
	if m, err := c.Get(ctx, dst, "b"); err != nil || m.GetText() != "beta" || m.GetTier() != memd.TierLongTerm {
		t.Fatalf("moved memory: %v %v", m, err)
	}
	if _, err := c.Get(ctx, ns, "b"); !errors.Is(err, memd.ErrNotFound) {
		t.Fatalf("b still in the source: %v", err)
	}
	same := &memd.TransferRequest{Namespace: ns, TargetNamespace: ns, Keys: []string{"a"}}
	if _, err := c.Transfer(ctx, same); !errors.Is(err, memd.ErrInvalidArgument) {
		t.Fatalf("same namespace: %v", err)
	}
	if cn.token != "" {
		// The suite's token cannot write into acl-a/*.
		out := &memd.TransferRequest{Namespace: ns, TargetNamespace: "acl-a/x", Keys: []string{"a"}}
		if _, err := c.Transfer(ctx, out); !errors.Is(err, memd.ErrPermissionDenied) {
			t.Fatalf("transfer to another tenant: %v", err)
		}
	}

	n, err := c.Clear(ctx, dst, memd.TierArchive)
	if err != nil || n != 1 {
		t.Fatalf("clear archive: %d %v", n, err)
	}
	n, err = c.Clear(ctx, dst, memd.TierUnspecified)
	if err != nil || n != 2 {
		t.Fatalf("clear all: %d %v", n, err)
	}
	if _, err := c.Clear(ctx, ns+"/none", memd.TierUnspecified); !errors.Is(err, memd.ErrNotFound) {
		t.Fatalf("clear unknown: %v", err)
	}
}

// fusionOptions: the keyword share and cosine rescaling reorder a hybrid search, and
// RRF's rank cut drops what is below it (as tests/server/test_fusion_options.py).
// near: cosine 0.95 to the query vector, no query word; word: cosine 0.85 and the
// word; far: 0.80 (a narrow band, as e5 gives).
func fusionOptions(t *testing.T, cn conn) {
	c, ctx, ns := cn.client(t)
	unit := func(cos float64) []byte {
		return memd.PackEmbedding([]float32{float32(cos), float32(math.Sqrt(1 - cos*cos))})
	}
	mems := []*memd.NewMemory{
		{Key: "near", Text: "an alpha report", Embedding: unit(0.95)},
		{Key: "word", Text: "a zebra report", Embedding: unit(0.85)},
		{Key: "far", Text: "nothing related", Embedding: unit(0.8)},
	}
	if _, err := c.Store(ctx, ns, mems); err != nil {
		t.Fatal(err)
	}
	search := func(r *memd.SearchRequest) []string {
		r.Namespace, r.Query, r.Embedding, r.Mode = ns, "zebra", unit(1), memd.SearchModeHybrid
		hits, err := c.SearchAll(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return keysOf(hits)
	}
	share := func(a float64) *float64 { return &a }
	if k := search(&memd.SearchRequest{CosineScale: memd.CosineScaleNone, KeywordWeight: share(0.2)}); k[0] != "word" {
		t.Errorf("raw cosines, share 0.2: %v", k)
	}
	if k := search(&memd.SearchRequest{CosineScale: memd.CosineScaleMinMax, KeywordWeight: share(0.2)}); k[0] != "near" {
		t.Errorf("min-max, share 0.2: %v", k)
	}
	if k := search(&memd.SearchRequest{CosineScale: memd.CosineScaleMinMax, KeywordWeight: share(0.9)}); k[0] != "word" {
		t.Errorf("min-max, share 0.9: %v", k)
	}
	if k := search(&memd.SearchRequest{Fusion: memd.FusionRRF, RrfDepth: 1}); len(k) != 2 {
		t.Errorf("RRF cut at 1: %v", k)
	}
	if k := search(&memd.SearchRequest{Fusion: memd.FusionRRF}); len(k) != 3 {
		t.Errorf("RRF: %v", k)
	}
	if _, err := c.SearchAll(ctx, &memd.SearchRequest{Namespace: ns, Query: "zebra", KeywordWeight: share(2)}); !errors.Is(err, memd.ErrInvalidArgument) {
		t.Errorf("share 2: %v", err)
	}
}
