package memd_test

import (
	"testing"

	memd "github.com/memd-dev/memd/clients/go"
	memdv1 "github.com/memd-dev/memd/clients/go/gen/memd/v1"
)

// A Go agent with no embedding model of its own stores plain text and finds it by
// meaning: the daemon embeds both (issue 14). The daemon runs with its default
// configuration: the launcher's --default-embedding passes no --embed-* flag, so the
// embedder is the default one, `local` wherever the daemon's model package is
// installed (the repository's .venv has it: the dev extra).
func TestSemanticSearchOfPlainText(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own daemon")
	}
	getDaemon(t) // skips without a Python
	d := launch([]string{"--default-embedding"}, "")
	t.Cleanup(d.stop)
	if d.err != nil {
		t.Fatal(d.err)
	}
	c, ctx := dial(t, d.tcp)
	texts := []string{
		"By the way, my sister Clara just moved to Lisbon for work.",
		"I'm allergic to shellfish, so please keep that in mind for recipes.",
		"My dog Mochi is a corgi and she hates thunderstorms.",
		"Work has been busy lately.",
	}
	mems := make([]*memd.NewMemory, len(texts))
	for i, text := range texts {
		mems[i] = &memd.NewMemory{Text: text}
	}
	res, err := c.Store(ctx, "go-embed", mems)
	if err != nil {
		t.Fatalf("Store: %v", err)
	}
	questions := map[string]int{
		"Where does my sibling live now?": 0,
		"Which seafood can't I eat?":      1,
		"What kind of pet do I have?":     2,
	}
	for question, answer := range questions {
		hits, err := c.SearchAll(ctx, &memd.SearchRequest{
			Namespace: "go-embed",
			Query:     question,
			Mode:      memdv1.SearchMode_SEARCH_MODE_SEMANTIC,
			Limit:     1,
		})
		if err != nil {
			t.Fatalf("Search(%q): %v", question, err)
		}
		if len(hits) != 1 || hits[0].Memory.Key != res.Keys[answer] {
			t.Errorf("Search(%q) = %v, want the memory %q", question, hits, texts[answer])
		}
	}
	m, err := c.Get(ctx, "go-embed", res.Keys[0])
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if m == nil || len(m.Embedding) != 384*4 {
		t.Errorf("the stored memory has no 384-dimensional vector: %v", m)
	}
}
