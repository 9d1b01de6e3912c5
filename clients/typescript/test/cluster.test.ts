// What the client sends for cluster mode, seen by a real server: the launcher's
// --cluster daemon is the one node of a cluster (one JetStream nats-server), so it
// checks the memd-namespace header against the body and reports bounded-staleness
// reads in the trailing metadata.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import type { StatusObject } from "@grpc/grpc-js";

import { InvalidArgumentError, MemdClient } from "../src/index";
import { daemonPython, launch, type Daemon } from "./daemon";

const skip = daemonPython() === undefined ? "no .venv/bin/python (run `make install`)" : false;
const NS = "ts-cluster:headers";

describe("cluster headers (a one-node cluster)", { skip }, () => {
  let d: Daemon;
  let c: MemdClient;
  let rename = false;
  let readFrom: string[] = [];

  before(async () => {
    d = await launch(["--cluster", "--no-unix"]);
    c = await MemdClient.connect(d.tcp);
    // The test's own wrappers of the generated calls, under the client: a Retrieve's
    // body renamed after the client built its metadata, and the server's trailers kept.
    for (const name of ["retrieve", "list"] as const) {
      const raw = c.raw as unknown as Record<string, (...a: unknown[]) => { on(e: string, f: (s: StatusObject) => void): void }>;
      const original = raw[name]!.bind(c.raw);
      raw[name] = (req: unknown, md: unknown, o: unknown, cb: unknown) => {
        const body = rename ? { ...(req as object), namespace: "elsewhere" } : req;
        const call = original(body, md, o, cb);
        call.on("status", (s) => (readFrom = s.metadata.get("memd-read-from").map(String)));
        return call;
      };
    }
  });
  after(async () => {
    c?.close();
    await d?.stop();
  });

  test("the namespace header is sent: a body that disagrees is refused", async () => {
    await c.store(NS, [{ key: "k", text: "tea" }]);
    assert.equal((await c.get(NS, "k")).text, "tea");
    rename = true;
    try {
      await assert.rejects(c.getMany(NS, ["k"]), (e: unknown) => e instanceof InvalidArgumentError && /memd-namespace/.test(String(e)));
    } finally {
      rename = false;
    }
  });

  test("maxStalenessMs is sent: the node says where it read from", async () => {
    await c.store(NS, [{ key: "s", text: "coffee" }]);
    readFrom = [];
    await c.getMany(NS, ["s"]);
    assert.deepEqual(readFrom, [], "no bound, nothing reported");
    await c.getMany(NS, ["s"], { maxStalenessMs: 60_000 });
    assert.deepEqual(readFrom, ["owner"]);
    readFrom = [];
    const page = await c.listPage(NS, { maxStalenessMs: 60_000 });
    assert.ok(page.memories.length >= 1);
    assert.deepEqual(readFrom, ["owner"]);
    await assert.rejects(c.getMany(NS, ["s"], { maxStalenessMs: -1 }), RangeError);
  });
});
