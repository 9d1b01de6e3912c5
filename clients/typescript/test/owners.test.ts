// Owner routing (routeToOwner) against a three-node cluster over one nats-server (the
// launcher's --cluster-peers 2: the node the clients enter at is drained, the two peers
// own every partition): calls go straight to the owner (the entry node forwards none,
// while a client without routing is forwarded), and go on after kill -9 of the owner.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { Metadata, credentials } from "@grpc/grpc-js";

import { ClusterRequest, ClusterServiceClient, type ClusterResponse } from "../gen/memd/v1/cluster_service";
import { MemdClient, partitionOf } from "../src/index";
import { daemonPython, launch, type Daemon, type Peer } from "./daemon";

const skip = daemonPython() === undefined ? "no .venv/bin/python (run `make install`)" : false;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** memd_cluster_forwards_total{method} on a node's Prometheus page (0: none yet). */
async function forwards(metrics: string, method: string): Promise<number> {
  const text = await (await fetch(`http://${metrics}/metrics`)).text();
  const prefix = `memd_cluster_forwards_total{method="${method}"} `;
  const line = text.split("\n").find((l) => l.startsWith(prefix));
  return line === undefined ? 0 : Number(line.slice(prefix.length));
}

function placement(target: string): Promise<ClusterResponse> {
  const rpc = new ClusterServiceClient(target, credentials.createInsecure());
  return new Promise((resolve, reject) =>
    rpc.cluster(ClusterRequest.fromPartial({}), new Metadata(), (err, reply) => {
      rpc.close();
      if (err) reject(err);
      else resolve(reply);
    }),
  );
}

describe("routeToOwner (a three-node cluster)", { skip }, () => {
  let d: Daemon;

  before(async () => {
    d = await launch(["--cluster", "--cluster-peers", "2", "--no-unix"]);
  });
  after(async () => {
    await d?.stop();
  });

  test("calls go to the owner, and find the next one after kill -9", { timeout: 120_000 }, async () => {
    const map = await placement(d.tcp);
    let ns = "";
    let owner: Peer | undefined;
    for (let i = 0; i < 100 && owner === undefined; i++) {
      ns = `ts-owners:${i}`;
      const id = map.partitions[partitionOf(ns, map.partitions.length)]!.owner;
      owner = d.peers.find((p) => p.node_id === id);
    }
    assert.ok(owner, `no partition owned by a peer: ${map.partitions.map((p) => p.owner).join(",")}`);
    const routed = new MemdClient(d.tcp, { routeToOwner: true });
    const plain = new MemdClient(d.tcp);
    try {
      await routed.store(ns, [{ key: "k", text: "routed" }]);
      const before = await forwards(d.metrics, "Retrieve");
      for (let i = 0; i < 5; i++) assert.equal((await routed.get(ns, "k")).text, "routed");
      const hits = await routed.search(ns, "routed").toArray();
      assert.deepEqual(hits.map((h) => h.memory?.key), ["k"]);
      assert.equal(await forwards(d.metrics, "Retrieve"), before, "routed reads were forwarded");
      assert.equal(await forwards(d.metrics, "Search"), 0, "a routed search was forwarded");
      await plain.get(ns, "k"); // without routing: forwarded, so the checks above can fail
      assert.equal(await forwards(d.metrics, "Retrieve"), before + 1);
      process.kill(owner.pid, "SIGKILL");
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          assert.equal((await routed.get(ns, "k", { timeoutMs: 2_000 })).text, "routed");
          break;
        } catch (e) {
          if (Date.now() > deadline) throw e;
          await sleep(100);
        }
      }
      await routed.store(ns, [{ key: "k2", text: "after" }]);
    } finally {
      routed.close();
      plain.close();
    }
  });
});
