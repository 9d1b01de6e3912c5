// BatchSearch, pattern search, Transfer and Clear against a real daemon, in the clear
// and over mutual TLS with a token (the token opens ts-test:* only).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  AlreadyExistsError,
  CosineScale,
  Fusion,
  InvalidArgumentError,
  MemdClient,
  NotFoundError,
  PatternSyntax,
  PermissionDeniedError,
  SearchMode,
  Tier,
  TransferConflict,
  TransferDimension,
  type SearchHit,
  type SearchOptions,
} from "../src/index";
import { clientOptions, daemonPython, launch, type Daemon } from "./daemon";

const skip = daemonPython() === undefined ? "no .venv/bin/python (run `make install`)" : false;
const TOKENS = ["--token", "suite=ts-test:*=read,write,delete"];

const keys = (hits: SearchHit[]): string[] => hits.map((h) => h.memory?.key ?? "");

for (const variant of ["plain", "tls"]) describe(`batch search, transfer, clear (${variant})`, { skip }, () => {
  let d: Daemon;
  let c: MemdClient;

  before(async () => {
    d = await launch(variant === "plain" ? [] : ["--tls", ...TOKENS]);
    c = await MemdClient.connect(d.tcp, clientOptions(d, variant === "plain" ? undefined : "suite"));
  });
  after(async () => {
    c?.close();
    await d?.stop();
  });

  test("batchSearch answers each query as its own search would", async () => {
    const ns = "ts-test:batch";
    await c.store(ns, [
      { key: "tea", text: "the user likes green tea", embedding: [1, 0] },
      { key: "coffee", text: "the user drinks coffee at nine", embedding: [0, 1] },
      { key: "order", text: "Order #1042 shipped to Paris", embedding: [1, 1] },
    ]);
    const queries: (string | SearchOptions)[] = [
      "user",
      { embedding: [0.1, 1] },
      { pattern: "*#10??*" },
      { pattern: "(?i)^THE", patternSyntax: PatternSyntax.PATTERN_SYNTAX_REGEX, mode: SearchMode.SEARCH_MODE_PATTERN },
      "nothing-resembling-these", // no stored word, nor its English stem ("like": "likes")
    ];
    const got = await c.batchSearch(ns, queries, { shared: { limit: 2 } });
    assert.equal(got.length, queries.length);
    for (const [i, q] of queries.entries()) {
      const one: SearchOptions = typeof q === "string" ? { query: q, limit: 2 } : { ...q, limit: 2 };
      assert.deepEqual(keys(got[i]!), keys(await c.search(ns, one).toArray()), `query ${i}`);
    }
    assert.deepEqual(keys(got[2]!), ["order"]);
    assert.equal(got[3]!.length, 2);
    assert.deepEqual(got[4], []);
    await assert.rejects(
      c.batchSearch(ns, ["tea", { pattern: "[oops" }]),
      (e: unknown) => e instanceof InvalidArgumentError && e.details.startsWith("query 1:"),
    );
  });

  test("fuzzy keyword terms find a misspelt word, and only when asked", async () => {
    const ns = "ts-test:fuzzy";
    await c.store(ns, [{ key: "dog", text: "Yuki adopted a beagle last spring" }]);
    assert.deepEqual(keys(await c.search(ns, { query: "beaglr" }).toArray()), []);
    assert.deepEqual(keys(await c.search(ns, { query: "beaglr", fuzzy: true }).toArray()), ["dog"]);
    await assert.rejects(
      c.search(ns, { phrase: "beaglr", fuzzy: true }).toArray(),
      (e: unknown) => e instanceof InvalidArgumentError,
    );
  });

  test("fusion options: keyword share, cosine rescaling, RRF's rank cut", async () => {
    // near: cosine 0.95 to the query vector, no query word; word: cosine 0.85 and the word.
    const ns = "ts-test:fusion";
    const unit = (cos: number): number[] => [cos, Math.sqrt(1 - cos * cos)];
    await c.store(ns, [
      { key: "near", text: "an alpha report", embedding: unit(0.95) },
      { key: "word", text: "a zebra report", embedding: unit(0.85) },
      { key: "far", text: "nothing related", embedding: unit(0.8) },
    ]);
    const hybrid = async (o: SearchOptions): Promise<string[]> =>
      keys(await c.search(ns, { query: "zebra", embedding: [1, 0], mode: SearchMode.SEARCH_MODE_HYBRID, ...o }).toArray());
    assert.equal((await hybrid({ cosineScale: CosineScale.COSINE_SCALE_NONE, keywordWeight: 0.2 }))[0], "word");
    assert.equal((await hybrid({ cosineScale: CosineScale.COSINE_SCALE_MINMAX, keywordWeight: 0.2 }))[0], "near");
    assert.equal((await hybrid({ cosineScale: CosineScale.COSINE_SCALE_MINMAX, keywordWeight: 0.9 }))[0], "word");
    assert.equal((await hybrid({ fusion: Fusion.FUSION_RRF, rrfDepth: 1 })).length, 2);
    assert.equal((await hybrid({ fusion: Fusion.FUSION_RRF })).length, 3);
    await assert.rejects(hybrid({ keywordWeight: 1.5 }), (e: unknown) => e instanceof InvalidArgumentError);
  });

    test("transfer and clear", async () => {
    const src = "ts-test:src";
    const dst = "ts-test:dst";
    await c.store(src, [
      { key: "a", text: "alpha", tier: Tier.TIER_WORKING, embedding: [1, 0] },
      { key: "b", text: "beta", tier: Tier.TIER_LONG_TERM },
      { key: "c", text: "gamma", tier: Tier.TIER_ARCHIVE },
    ]);
    await c.store(dst, [{ key: "b", text: "theirs", embedding: [1, 0, 0] }]);
    await assert.rejects(c.transfer(src, dst, { keys: ["b"] }), AlreadyExistsError);
    await assert.rejects(
      c.transfer(src, dst, { keys: ["a"] }),
      (e: unknown) => e instanceof InvalidArgumentError && /dimension/.test(e.details),
    );
    const r = await c.transfer(src, dst, {
      wholeNamespace: true,
      move: true,
      onConflict: TransferConflict.TRANSFER_CONFLICT_OVERWRITE,
      onDimensionMismatch: TransferDimension.TRANSFER_DIMENSION_DROP_EMBEDDING,
    });
    assert.deepEqual([r.transferred, r.overwritten, r.droppedEmbeddings], [3n, 1n, 1n]);
    assert.equal((await c.get(dst, "b")).text, "beta");
    assert.equal((await c.get(dst, "a")).embedding.length, 0);
    await assert.rejects(c.get(src, "a"), NotFoundError);
    if (variant !== "plain") {
      await assert.rejects(c.transfer(dst, "acl-a/x", { keys: ["a"] }), PermissionDeniedError);
    }
    assert.equal(await c.clear(dst, Tier.TIER_ARCHIVE), 1);
    assert.equal(await c.clear(dst), 2);
    await assert.rejects(c.clear("ts-test:none"), NotFoundError);
  });
});
