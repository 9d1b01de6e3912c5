// The partition of a namespace in a memd cluster (docs/cluster.md, "Design"): BLAKE2b
// with an 8-byte digest of the UTF-8 name, read big-endian, modulo the partition count.
// Part of the wire contract, so a client can send a namespace's calls straight to its
// partition's owner. BLAKE2b (RFC 7693) is written out here (Node's crypto offers only
// the 64-byte digest, and an 8-byte digest is not a truncated one: the digest length
// is part of the initial state), over BigInt: slow per call, hence the cache.

const MASK = (1n << 64n) - 1n;
const IV = [
  0x6a09e667f3bcc908n, 0xbb67ae8584caa73bn, 0x3c6ef372fe94f82bn, 0xa54ff53a5f1d36f1n,
  0x510e527fade682d1n, 0x9b05688c2b3e6c1fn, 0x1f83d9abfb41bd6bn, 0x5be0cd19137e2179n,
];
const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
];

const rotr = (x: bigint, n: bigint) => ((x >> n) | (x << (64n - n))) & MASK;

function compress(h: bigint[], block: Buffer, t: bigint, last: boolean): void {
  const m = Array.from({ length: 16 }, (_, i) => block.readBigUInt64LE(8 * i));
  const v = [...h, ...IV];
  v[12] = v[12]! ^ t; // names are far below 2^64 bytes: the counter's high word stays 0
  if (last) v[14] = v[14]! ^ MASK;
  const g = (a: number, b: number, c: number, d: number, x: bigint, y: bigint) => {
    v[a] = (v[a]! + v[b]! + x) & MASK;
    v[d] = rotr(v[d]! ^ v[a]!, 32n);
    v[c] = (v[c]! + v[d]!) & MASK;
    v[b] = rotr(v[b]! ^ v[c]!, 24n);
    v[a] = (v[a]! + v[b]! + y) & MASK;
    v[d] = rotr(v[d]! ^ v[a]!, 16n);
    v[c] = (v[c]! + v[d]!) & MASK;
    v[b] = rotr(v[b]! ^ v[c]!, 63n);
  };
  for (const s of SIGMA) {
    g(0, 4, 8, 12, m[s[0]!]!, m[s[1]!]!);
    g(1, 5, 9, 13, m[s[2]!]!, m[s[3]!]!);
    g(2, 6, 10, 14, m[s[4]!]!, m[s[5]!]!);
    g(3, 7, 11, 15, m[s[6]!]!, m[s[7]!]!);
    g(0, 5, 10, 15, m[s[8]!]!, m[s[9]!]!);
    g(1, 6, 11, 12, m[s[10]!]!, m[s[11]!]!);
    g(2, 7, 8, 13, m[s[12]!]!, m[s[13]!]!);
    g(3, 4, 9, 14, m[s[14]!]!, m[s[15]!]!);
  }
  for (let i = 0; i < 8; i++) h[i] = h[i]! ^ v[i]! ^ v[i + 8]!;
}

/** BLAKE2b of `data` with an 8-byte digest, no key, as a big-endian 64-bit number. */
export function blake2b64(data: Buffer): bigint {
  const h = [...IV];
  h[0] = h[0]! ^ 0x01010008n; // digest length 8, no key, fanout 1, depth 1
  let t = 0n;
  let offset = 0;
  for (;;) {
    const block = Buffer.alloc(128);
    const n = data.copy(block, 0, offset, offset + 128);
    offset += n;
    t += BigInt(n);
    const last = offset >= data.length;
    compress(h, block, t, last);
    if (last) break;
  }
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(h[0]!);
  return out.readBigUInt64BE();
}

const cache = new Map<string, bigint>();
const CACHE_MAX = 10_000;

/** The partition of `namespace` among `count` partitions, as the daemon computes it. */
export function partitionOf(namespace: string, count: number): number {
  let hash = cache.get(namespace);
  if (hash === undefined) {
    hash = blake2b64(Buffer.from(namespace, "utf8"));
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(namespace, hash);
  }
  return Number(hash % BigInt(count));
}
