package memd_test

import (
	"context"
	"fmt"
	"log"

	memd "github.com/memd-dev/memd/clients/go"
)

// The README example. It is compiled by `go test` but not run (it needs a daemon on
// 127.0.0.1:50051); the conformance tests run the same calls against a real one.
func Example() {
	ctx := context.Background()
	c, err := memd.Dial(ctx, "127.0.0.1:50051") // or "unix:///run/memd/memd.sock"
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	res, err := c.Store(ctx, "agent:demo", []*memd.NewMemory{{Text: "the user likes tea"}})
	if err != nil {
		log.Fatal(err)
	}
	m, err := c.Get(ctx, "agent:demo", res.Keys[0])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.GetText())

	hits, err := c.Search(ctx, &memd.SearchRequest{Namespace: "agent:demo", Query: "tea"})
	if err != nil {
		log.Fatal(err)
	}
	defer hits.Close()
	for hits.Next() {
		fmt.Printf("%.3f %s\n", hits.Hit().GetScore(), hits.Hit().GetMemory().GetText())
	}
	if err := hits.Err(); err != nil {
		log.Fatal(err)
	}
}
