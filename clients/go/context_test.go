package memd_test

import (
	"testing"

	memd "github.com/memd-dev/memd/clients/go"
	memdv1 "github.com/memd-dev/memd/clients/go/gen/memd/v1"
)

// memoryContext: NewMemory.Context is stored, read back apart from the text, and
// searchable by its own words (issue 14's context-aware indexing).
func memoryContext(t *testing.T, cn conn) {
	c, ctx, ns := cn.client(t)
	res, err := c.Store(ctx, ns, []*memd.NewMemory{
		{Key: "turn", Text: "yes, the blue one", Context: "planning the kitchen renovation"},
		{Key: "other", Text: "the weather was grim"},
	})
	if err != nil || len(res.Errors) != 0 {
		t.Fatalf("Store: %v %v", err, res)
	}
	m, err := c.Get(ctx, ns, "turn")
	if err != nil {
		t.Fatal(err)
	}
	if m.GetText() != "yes, the blue one" || m.GetContext() != "planning the kitchen renovation" {
		t.Fatalf("Get: text %q context %q", m.GetText(), m.GetContext())
	}
	hits, err := c.SearchAll(ctx, &memd.SearchRequest{
		Namespace: ns, Query: "renovation", Mode: memdv1.SearchMode_SEARCH_MODE_KEYWORD,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0].GetMemory().GetKey() != "turn" ||
		hits[0].GetMemory().GetContext() != "planning the kitchen renovation" {
		t.Fatalf("Search(renovation) = %v", hits)
	}
}
