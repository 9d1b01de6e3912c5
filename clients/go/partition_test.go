package memd_test

import (
	"strings"
	"testing"

	memd "github.com/memd-dev/memd/clients/go"
)

// TestPartitionOf: the daemon's hash (Python's hashlib.blake2b(name, digest_size=8),
// big-endian), for names of 0, 1, 11, 12, 200 (two blocks) and multi-byte characters.
func TestPartitionOf(t *testing.T) {
	for _, c := range []struct {
		ns   string
		want int
	}{
		{"", 4}, {"a", 15}, {"go-owners:0", 7}, {"team:1/agent", 2},
		{strings.Repeat("x", 200), 13}, {"ünï", 7},
	} {
		if got := memd.PartitionOf(c.ns, 16); got != c.want {
			t.Errorf("PartitionOf(%.20q, 16) = %d, want %d", c.ns, got, c.want)
		}
	}
	// The whole 64-bit value, through moduli that keep more of it.
	if got := memd.PartitionOf("a", 1<<31-1); got != int(uint64(4681665781835383343)%(1<<31-1)) {
		t.Errorf("PartitionOf(a) modulo 2^31-1 = %d", got)
	}
}
