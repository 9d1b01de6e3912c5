package memd_test

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	memd "github.com/memd-dev/memd/clients/go"
)

// What a token opens and what it does not, over mutual TLS and in the clear (loopback):
// the token "a" opens acl-a/* (read, write, delete) and nothing else.
func TestAccessControl(t *testing.T) {
	for _, v := range []string{"tls", "auth"} {
		t.Run(v, func(t *testing.T) {
			d := daemonFor(t, v)
			a, b := "acl-a/go-"+v, "acl-b/go-"+v
			c, ctx := dial(t, d.tcp, d.dialOptions(t, d.tokens["a"])...)
			if _, err := c.Store(ctx, a, []*memd.NewMemory{{Key: "k", Text: "tea for a"}}); err != nil {
				t.Fatal(err)
			}
			if m, err := c.Get(ctx, a, "k"); err != nil || m.GetText() != "tea for a" {
				t.Fatalf("Get on the token's namespace: %v, %v", m, err)
			}
			if hits, err := c.SearchAll(ctx, &memd.SearchRequest{Namespace: a, Query: "tea"}); err != nil || len(hits) != 1 {
				t.Fatalf("Search on the token's namespace: %v, %v", hits, err)
			}
			st, err := c.Stats(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range st.GetNamespaces() {
				if n.GetNamespace() != a {
					t.Errorf("Stats over all namespaces shows %q to a token for acl-a/*", n.GetNamespace())
				}
			}

			calls := map[string]func(*memd.Client, string) error{
				"Store": func(c *memd.Client, ns string) error {
					_, err := c.Store(ctx, ns, []*memd.NewMemory{{Text: "x"}})
					return err
				},
				"Retrieve": func(c *memd.Client, ns string) error { _, err := c.GetMany(ctx, ns, []string{"k"}); return err },
				"Search": func(c *memd.Client, ns string) error {
					_, err := c.SearchAll(ctx, &memd.SearchRequest{Namespace: ns, Query: "tea"})
					return err
				},
				"List": func(c *memd.Client, ns string) error {
					_, err := c.List(ctx, &memd.ListRequest{Namespace: ns})
					return err
				},
				"Delete": func(c *memd.Client, ns string) error { _, err := c.Delete(ctx, ns, "k"); return err },
				"Stats":  func(c *memd.Client, ns string) error { _, err := c.Stats(ctx, ns); return err },
				"StoreStream": func(c *memd.Client, ns string) error {
					_, _, err := c.BulkStore(ctx, ns, []*memd.NewMemory{{Text: "x"}}, nil)
					return err
				},
			}
			for name, call := range calls {
				err := call(c, b)
				if !errors.Is(err, memd.ErrPermissionDenied) || status.Code(err) != codes.PermissionDenied {
					t.Errorf("%s on another namespace: %v, want PERMISSION_DENIED", name, err)
				}
			}
			for label, token := range map[string]string{"no token": "", "a bogus token": "memd_" + bogus} {
				anon, _ := dial(t, d.tcp, d.dialOptions(t, token)...)
				for _, name := range []string{"Store", "Retrieve", "Search"} {
					err := calls[name](anon, a)
					if !errors.Is(err, memd.ErrUnauthenticated) || errors.Is(err, memd.ErrPermissionDenied) {
						t.Errorf("%s with %s: %v, want UNAUTHENTICATED", name, label, err)
					}
				}
			}
		})
	}
}

const bogus = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" // 43 characters, like a real token

// A token is sent in the clear only to a loopback address: grpc-go's per-RPC credentials
// allow insecure connections, so the client checks the target itself.
func TestTokenNotSentInTheClearToARemoteHost(t *testing.T) {
	for uri, local := range map[string]bool{
		"https://127.0.0.1:50051/memd.v1.MemoryService":     true,
		"https://localhost/memd.v1.MemoryService":           true,
		"https://[::1]:50051/memd.v1.MemoryService":         true,
		"https://10.0.0.7:50051/memd.v1.MemoryService":      false,
		"https://memd.internal:50051/memd.v1.MemoryService": false,
	} {
		if got := memd.IsLocalURIForTest(uri); got != local {
			t.Errorf("%s: local %v, want %v", uri, got, local)
		}
	}
}
