// The shared conformance scenarios of issue 5, against a real daemon: run twice, in the
// clear without auth and over mutual TLS with a token; then access control (issue 10).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  CancelledError,
  DeadlineExceededError,
  InvalidArgumentError,
  MemdClient,
  MemdError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  SearchMode,
  Tier,
  UnauthenticatedError,
  UnavailableError,
  packEmbedding,
  unpackEmbedding,
  type MemdClientOptions,
  type MemoryInput,
} from "../src/index";
import { isLocalTarget } from "../src/security";
import { clientOptions, daemonPython, launch, type Daemon } from "./daemon";
import { status } from "@grpc/grpc-js";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const skip = daemonPython() === undefined ? "no .venv/bin/python (run `make install`)" : false;

// One daemon per variant, started on first use and shared by the describes using it:
// "plain" in the clear without auth (the sidecar default), "tls" with mutual TLS and
// --auth required, "auth" with --auth required in the clear (tokens to loopback only).
// The suite's token opens the conformance namespaces (ts-test:*), "a" opens acl-a/* only.
const TOKENS = ["--token", "suite=ts-test:*=read,write,delete", "--token", "a=acl-a/*=read,write,delete"];
const VARIANTS: Record<string, string[]> = { plain: [], tls: ["--tls", ...TOKENS], auth: TOKENS };
const daemons = new Map<string, Promise<Daemon>>();
function daemonFor(variant: string): Promise<Daemon> {
  let d = daemons.get(variant);
  if (d === undefined) {
    d = launch(VARIANTS[variant] ?? []);
    daemons.set(variant, d);
  }
  return d;
}
after(async () => {
  await Promise.allSettled([...daemons.values()].map(async (d) => (await d).stop()));
});

for (const variant of ["plain", "tls"]) describe(`memd TypeScript client (${variant})`, { skip }, () => {
  let d: Daemon;
  let c: MemdClient;
  let opts: MemdClientOptions;

  before(async () => {
    d = await daemonFor(variant);
    opts = clientOptions(d, variant === "plain" ? undefined : "suite");
    c = await MemdClient.connect(d.tcp, opts);
  });
  after(() => {
    c?.close();
  });

  const countOf = async (ns: string): Promise<bigint> => {
    const st = await c.stats(ns);
    let n = 0n;
    for (const s of st.namespaces) for (const t of s.tiers) n += t.count;
    return n;
  };

  test("store -> get -> search -> list -> delete round trip", async () => {
    const ns = "ts-test:roundtrip";
    const res = await c.store(ns, [
      { key: "pref-1", text: "the user likes green tea", tags: ["pref"], importance: 0.75, value: '{"v":1}' },
      { text: "the meeting is on Tuesday", metadata: { type: "event" } },
      { text: "coffee makes the user nervous", embedding: [1, 0, 0] },
    ]);
    assert.deepEqual(res.errors, []);
    assert.equal(res.keys[0], "pref-1");
    assert.equal(res.keys[1]?.length, 26);
    assert.deepEqual(res.versions, [1n, 1n, 1n]);
    assert.deepEqual(res.tiers, [Tier.TIER_SHORT_TERM, Tier.TIER_SHORT_TERM, Tier.TIER_SHORT_TERM]);

    const m = await c.get(ns, "pref-1");
    assert.equal(m.text, "the user likes green tea");
    assert.equal(Buffer.from(m.value).toString(), '{"v":1}');
    assert.equal(m.importance, 0.75);
    assert.equal(m.namespace, ns);
    assert.equal(m.version, 1n);
    assert.deepEqual(m.tags, ["pref"]);

    const [coffee, meeting] = await c.getMany(ns, [res.keys[2]!, res.keys[1]!], { peek: true });
    assert.equal(coffee?.text, "coffee makes the user nervous");
    assert.deepEqual(unpackEmbedding(coffee!.embedding), [1, 0, 0]);
    assert.equal(meeting?.metadata["type"], "event");

    const hits = await c.search(ns, { query: "tea", explain: true }).toArray();
    assert.equal(hits.length, 1);
    assert.equal(hits[0]?.memory?.key, "pref-1");
    assert.ok((hits[0]?.explain?.bm25 ?? 0) > 0);

    const sem = await c.search(ns, { embedding: [0.9, 0.1, 0] }).toArray();
    assert.deepEqual(sem.map((h) => h.memory?.key), [res.keys[2]]);
    // Hits carry their vector only when asked.
    assert.equal(sem[0]?.memory?.embedding.length, 0);
    const full = await c.search(ns, { embedding: [0.9, 0.1, 0], includeEmbedding: true }).toArray();
    assert.deepEqual(unpackEmbedding(full[0]!.memory!.embedding), [1, 0, 0]);

    const listed: string[] = [];
    for await (const mem of c.list(ns, { pageSize: 2 })) listed.push(mem.key);
    assert.deepEqual(listed, [...res.keys].sort());
    const page = await c.listPage(ns, { pageSize: 2 });
    assert.equal(page.memories.length, 2);
    assert.notEqual(page.nextPageToken, "");

    const st = await c.stats(ns);
    assert.equal(st.namespaces.length, 1);
    assert.equal(st.namespaces[0]?.dimension, 3);
    assert.equal(await countOf(ns), 3n);

    assert.equal(await c.delete(ns, res.keys), 3);
    await assert.rejects(c.get(ns, "pref-1"), NotFoundError);
    assert.equal((await c.listPage(ns)).memories.length, 0);
  });

  test("bulk store of 10 000 memories in batches", async () => {
    const ns = "ts-test:bulk";
    const total = 10_000;
    const key = (i: number) => `k${String(i).padStart(5, "0")}`;
    function* gen(): Generator<MemoryInput> {
      for (let i = 0; i < total; i++) {
        yield { key: key(i), text: `memory number ${i} about topic ${i % 17}`, tier: Tier.TIER_LONG_TERM };
      }
    }
    const res = await c.bulkStore(ns, gen(), { batchSize: 500, window: 3 });
    assert.equal(res.acked, total);
    assert.deepEqual(res.errors, []);
    assert.equal(res.keys.length, total);
    for (let i = 0; i < total; i++) {
      if (res.keys[i] !== key(i) || res.versions[i] !== 1n || res.tiers[i] !== Tier.TIER_LONG_TERM) {
        assert.fail(`item ${i}: ${res.keys[i]} ${res.versions[i]} ${res.tiers[i]}`);
      }
    }
    assert.equal(await countOf(ns), BigInt(total));
    let seen = 0;
    for await (const m of c.list(ns, { pageSize: 1000 })) {
      if (m.key !== key(seen)) assert.fail(`listed ${m.key} at ${seen}`);
      seen++;
    }
    assert.equal(seen, total);
    const ms = await c.getMany(ns, ["k00000", "k04999", "k09999"]);
    assert.ok(ms.every((m) => m !== undefined));

    // Server-made keys, default batch size, from an async iterable, with a failed item.
    async function* agen(): AsyncGenerator<MemoryInput> {
      for (let i = 0; i < 2500; i++) {
        // Distinct texts: the daemon merges identical ones (dedup.exact).
        yield i === 1700 ? { text: "bad", embedding: [NaN, 1] } : { text: `auto ${i}`, tier: Tier.TIER_LONG_TERM };
      }
    }
    const res2 = await c.bulkStore(ns + "/auto", agen());
    assert.equal(res2.acked, 2500);
    assert.equal(new Set(res2.keys.filter((k) => k !== "")).size, 2499);
    assert.equal(res2.errors.length, 1);
    assert.equal(res2.errors[0]?.index, 1700);
    assert.equal(res2.errors[0]?.code, status.INVALID_ARGUMENT);
    assert.equal(res2.versions[1700], 0n);
  });

  test("a missing key", async () => {
    const ns = "ts-test:missing";
    const err = await c.get(ns, "no-such-key").then(
      () => assert.fail("resolved"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof NotFoundError);
    assert.ok(err instanceof MemdError);
    assert.ok(!(err instanceof InvalidArgumentError));
    assert.equal(err.code, status.NOT_FOUND);
    assert.deepEqual(await c.getMany(ns, ["a", "b"]), [undefined, undefined]);
    assert.equal(await c.delete(ns, "no-such-key"), 0);
  });

  test("a memory stored with its history keeps it; times from the future are INVALID_ARGUMENT", async () => {
    const ns = "ts-test:history";
    const created = BigInt(Date.now()) - 30n * 86_400_000n;
    const history = { createdMs: created, lastAccessMs: created + 5n, accessCount: 4, version: 2 };
    const res = await c.store(ns, [{ key: "old", text: "imported", history }]);
    assert.deepEqual(res.versions, [2n]);
    const m = await c.get(ns, "old", { peek: true });
    assert.deepEqual(
      [m.createdMs, m.updatedMs, m.lastAccessMs, m.accessCount, m.version],
      [created, created, created + 5n, 4n, 2n],
    );
    const ahead = { createdMs: BigInt(Date.now()) + 3_600_000n };
    const bad = await c.store(ns, [{ key: "future", text: "x", history: ahead }]);
    assert.equal(bad.errors[0]?.code, status.INVALID_ARGUMENT);
    assert.match(bad.errors[0]?.message ?? "", /history\.created_ms .* is in the future/);
  });

  test("a memory's context is read back apart from its text and searched with it", async () => {
    const ns = "ts-test:context";
    const context = "planning the kitchen renovation";
    await c.store(ns, [
      { key: "turn", text: "yes, the blue one", context },
      { key: "other", text: "the weather was grim" },
    ]);
    const m = await c.get(ns, "turn");
    assert.deepEqual([m.text, m.context], ["yes, the blue one", context]);
    assert.equal((await c.get(ns, "other")).context, "");
    const hits = await c.search(ns, { query: "renovation", mode: SearchMode.SEARCH_MODE_KEYWORD }).toArray();
    assert.deepEqual(hits.map((h) => [h.memory?.key, h.memory?.context]), [["turn", context]]);
  });

  test("invalid requests get the right error class", async () => {
    const ns = "ts-test:invalid";
    const invalid = (e: unknown) => e instanceof InvalidArgumentError && e.code === status.INVALID_ARGUMENT;
    // With auth the grant is checked first, and no grant matches "".
    await assert.rejects(c.store("", [{ text: "x" }]), invalid);
    await assert.rejects(c.get(ns + "n".repeat(200), "k"), invalid);

    const res = await c.store(ns, [{ key: "good", text: "ok" }, { key: "bad", embedding: [NaN, 1] }]);
    assert.equal(res.errors.length, 1);
    assert.equal(res.errors[0]?.index, 1);
    assert.equal(res.errors[0]?.code, status.INVALID_ARGUMENT);
    assert.deepEqual(res.versions, [1n, 0n]);

    await assert.rejects(c.store(ns, [{ key: "a1", text: "ok" }, { key: "a2", embedding: [NaN, 1] }], { atomic: true }), invalid);
    await assert.rejects(c.get(ns, "a1"), NotFoundError);

    await assert.rejects(c.search(ns, {}).toArray(), invalid);

    // More items in one streamed message than --max-batch-items (10 000).
    const big = Array.from({ length: 10_001 }, () => ({ text: "x" }));
    const err = await c.bulkStore(ns, big, { batchSize: big.length }).then(
      () => assert.fail("resolved"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ResourceExhaustedError, String(err));
    assert.equal(err.acked, 0);
  });

  test("a server-streamed search consumed fully and cancelled midway", async () => {
    const ns = "ts-test:search";
    const total = 450; // five pages of at most 100 hits
    const mems = Array.from({ length: total }, (_, i) => ({
      key: `s${String(i).padStart(3, "0")}`,
      // ~500 bytes a hit, so the hits (~225 KB) outgrow the flow-control window: a
      // cancel arrives while the server is still sending.
      text: "apple " + "pie ".repeat(i % 7) + i + " " + "filler ".repeat(60),
      tier: Tier.TIER_LONG_TERM,
    }));
    await c.bulkStore(ns, mems);
    const req = { query: "apple", limit: 1000 };

    // Consumed fully: every hit, best first.
    let n = 0;
    let last = Infinity;
    const seen = new Set<string>();
    for await (const h of c.search(ns, req)) {
      assert.ok(h.score <= last, `hit ${n} score ${h.score} after ${last}`);
      last = h.score;
      seen.add(h.memory!.key);
      n++;
    }
    assert.equal(n, total);
    assert.equal(seen.size, total);

    // Left midway with break: the RPC is cancelled, no error.
    n = 0;
    for await (const _ of c.search(ns, req)) if (++n === 150) break;
    assert.equal(n, 150);

    // Stopped midway with cancel(): the iteration ends quietly.
    const s = c.search(ns, req);
    n = 0;
    for await (const _ of s) if (++n === 150) s.cancel();
    assert.ok(n >= 150 && n < total, `${n} hits after cancel()`);

    // Cancelled midway through an AbortSignal: rejects with CancelledError.
    const ac = new AbortController();
    n = 0;
    const err = await (async () => {
      for await (const _ of c.search(ns, { ...req, signal: ac.signal })) if (++n === 150) ac.abort();
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof CancelledError, String(err));
    assert.ok(n < total);

    // The connection still works.
    assert.equal((await c.search(ns, { query: "apple", limit: 5 }).toArray()).length, 5);
  });

  if (variant === "plain") test("per-call deadlines", async () => {
    const ns = "ts-test:deadline";
    await c.store(ns, [{ text: "apple" }]);
    assert.equal((await c.stats(ns, { timeoutMs: 5000 })).namespaces.length, 1);
    assert.equal((await c.search(ns, { query: "apple", timeoutMs: 5000 }).toArray()).length, 1);
    // A peer that accepts TCP but never speaks HTTP/2: only the deadline ends the call.
    const sockets = new Set<Socket>();
    const silent = createServer((sock) => {
      sockets.add(sock);
      sock.on("error", () => {});
    });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as AddressInfo).port;
    const b = new MemdClient(`127.0.0.1:${port}`);
    try {
      const t0 = Date.now();
      await assert.rejects(b.stats(ns, { timeoutMs: 300 }), DeadlineExceededError);
      assert.ok(Date.now() - t0 < 5000);
      await assert.rejects(b.search(ns, { query: "apple", timeoutMs: 300 }).toArray(), DeadlineExceededError);
      await assert.rejects(b.bulkStore(ns, [{ text: "x" }], { timeoutMs: 300 }), DeadlineExceededError);
    } finally {
      b.close();
      for (const sock of sockets) sock.destroy();
      silent.close();
    }
  });

  test("unix socket", async (t) => {
    if (d.unix === "") return t.skip("daemon reported no unix socket");
    // The daemon serves TLS on TCP only (its Unix socket is guarded by file
    // permissions): the token goes over the socket in the clear.
    const u = await MemdClient.connect(d.unix, { token: opts.token });
    try {
      const { keys } = await u.store("ts-test:unix", [{ text: "over a unix socket" }]);
      assert.equal((await u.get("ts-test:unix", keys[0]!)).text, "over a unix socket");
    } finally {
      u.close();
    }
  });

  if (variant === "plain") test("a call failing with UNAVAILABLE is retried with backoff until the daemon is reachable", async () => {
    assert.notEqual(d.unix, "", "the daemon reported no unix socket");
    const dir = mkdtempSync(join(tmpdir(), "memd-ts-retry-"));
    // Reconnect quickly after a failed connection (grpc-js waits 1 s by default).
    const channelOptions = { "grpc.initial_reconnect_backoff_ms": 50, "grpc.max_reconnect_backoff_ms": 100 };
    const none = new MemdClient(`unix://${join(dir, "none.sock")}`, { retry: false, channelOptions });
    const sock = join(dir, "late.sock");
    // Full-jitter delays with these bounds: the four retries span far more than 300 ms.
    const retry = { maxAttempts: 5, initialBackoffMs: 1000, maxBackoffMs: 2000, backoffMultiplier: 2 };
    const late = new MemdClient(`unix://${sock}`, { retry, channelOptions });
    try {
      await assert.rejects(none.stats("", { timeoutMs: 10_000 }), UnavailableError); // nothing there, no retries
      const t0 = Date.now();
      // The daemon's socket appears 300 ms after the call starts (a link to the test daemon's).
      const linked = new Promise<void>((r) => setTimeout(() => r(symlinkSync(d.unix.slice("unix://".length), sock)), 300));
      const st = await late.stats("", { timeoutMs: 20_000 });
      await linked;
      assert.ok(Date.now() - t0 >= 300, `succeeded after ${Date.now() - t0} ms, before the daemon was reachable`);
      assert.ok(Array.isArray(st.namespaces));
    } finally {
      none.close();
      late.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  if (variant === "plain") test("the README example runs as written", async () => {
    // The ```ts block of README.md, with only the address changed, as an ES module in a
    // directory where `@memd-dev/client` resolves to this package (node_modules link).
    const pkg = resolve(__dirname, "..", "..");
    const readme = readFileSync(join(pkg, "README.md"), "utf8");
    const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, "README.md has no ```ts block");
    assert.equal(block.split('"127.0.0.1:50051"').length, 2, "the example names the address once");
    const dir = mkdtempSync(join(tmpdir(), "memd-ts-readme-"));
    try {
      mkdirSync(join(dir, "node_modules", "@memd-dev"), { recursive: true });
      symlinkSync(pkg, join(dir, "node_modules", "@memd-dev", "client"), "dir");
      writeFileSync(join(dir, "example.mjs"), block.replace('"127.0.0.1:50051"', JSON.stringify(d.tcp)));
      const { stdout } = await promisify(execFile)(process.execPath, ["example.mjs"], { cwd: dir, timeout: 60_000 });
      const lines = stdout.trim().split("\n");
      assert.equal(lines[0], "the user likes green tea");
      assert.match(lines[1] ?? "", /^[0-9.e-]+ tea$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  if (variant === "plain") test("embedding packing", () => {
    const b = packEmbedding([1, -2.5, 0.1]);
    assert.equal(b.length, 12);
    assert.equal(b.readFloatLE(4), -2.5);
    assert.deepEqual(unpackEmbedding(b).slice(0, 2), [1, -2.5]);
    assert.deepEqual(packEmbedding(new Float32Array([1, 2])), packEmbedding([1, 2]));
  });
});

test("connect to a closed port rejects with UnavailableError", async () => {
  await assert.rejects(MemdClient.connect("127.0.0.1:1", { connectTimeoutMs: 2000 }), UnavailableError);
  const c = new MemdClient("127.0.0.1:1");
  try {
    await assert.rejects(c.stats("", { timeoutMs: 5000 }), (e: unknown) => e instanceof UnavailableError || e instanceof DeadlineExceededError);
  } finally {
    c.close();
  }
});

// What a token opens and what it does not, over mutual TLS and in the clear (loopback):
// the token "a" opens acl-a/* (read, write, delete) and nothing else.
for (const variant of ["tls", "auth"]) describe(`access control (${variant})`, { skip }, () => {
  test("a token for acl-a/* is PERMISSION_DENIED on acl-b; no or a bogus token UNAUTHENTICATED", async () => {
    const d = await daemonFor(variant);
    const a = `acl-a/ts-${variant}`;
    const b = `acl-b/ts-${variant}`;
    const outcomes = async (calls: Record<string, () => Promise<unknown>>) => {
      const out: Record<string, string> = {};
      for (const [name, call] of Object.entries(calls)) {
        out[name] = await call().then(
          () => "ok",
          (e: unknown) => (e instanceof MemdError ? e.name : String(e)),
        );
      }
      return out;
    };
    const calls = (c: MemdClient, ns: string): Record<string, () => Promise<unknown>> => ({
      Store: () => c.store(ns, [{ key: "k", text: "tea" }]),
      Retrieve: () => c.getMany(ns, ["k"]),
      Search: () => c.search(ns, "tea").toArray(),
      List: () => c.listPage(ns),
      Delete: () => c.delete(ns, "k"),
      Stats: () => c.stats(ns),
      StoreStream: () => c.bulkStore(ns, [{ text: "x" }]),
    });
    const c = await MemdClient.connect(d.tcp, clientOptions(d, "a"));
    try {
      await c.store(a, [{ key: "k", text: "tea for a" }]);
      assert.equal((await c.get(a, "k")).text, "tea for a");
      assert.equal((await c.search(a, "tea").toArray()).length, 1);
      assert.deepEqual((await c.stats()).namespaces.map((n) => n.namespace), [a]);
      const denied = calls(c, b);
      const want = Object.fromEntries(Object.keys(denied).map((k) => [k, PermissionDeniedError.name]));
      assert.deepEqual(await outcomes(denied), want);
      // raw calls carry the token too
      const raw = await new Promise<unknown>((r) => c.raw.listNamespaces({}, (e) => r(e?.code ?? "ok")));
      assert.equal(raw, "ok");
    } finally {
      c.close();
    }
    for (const token of [undefined, "memd_" + "x".repeat(43)]) {
      const anon = new MemdClient(d.tcp, clientOptions(d, token));
      try {
        const { Store, Retrieve, Search } = calls(anon, a);
        const got = await outcomes({ Store: Store!, Retrieve: Retrieve!, Search: Search! });
        assert.deepEqual(got, { Store: UnauthenticatedError.name, Retrieve: UnauthenticatedError.name, Search: UnauthenticatedError.name }, token);
      } finally {
        anon.close();
      }
    }
  });
});

test("a token goes in the clear only to a loopback address or a Unix socket", () => {
  for (const t of ["127.0.0.1:50051", "localhost:1", "[::1]:50051", "unix:///run/memd.sock", "dns:///localhost:5"]) {
    assert.ok(isLocalTarget(t), t);
  }
  for (const t of ["10.0.0.7:50051", "memd.internal:50051", "[fe80::1]:5"]) assert.ok(!isLocalTarget(t), t);
  assert.throws(() => new MemdClient("memd.internal:50051", { token: "memd_x" }), /in the clear/);
  new MemdClient("memd.internal:50051", { token: "memd_x", tls: true }).close();
  assert.throws(() => new MemdClient("127.0.0.1:1", { token: "two words" }), TypeError);
});
