// Owner routing (`routeToOwner`): any node of a memd cluster answers any call,
// forwarding it to the owner of the namespace's partition, one more gRPC hop that costs
// a read about what the read itself costs (docs/cluster.md, "Figures"). A client that
// knows the placement map skips it: it reads ClusterService/Cluster (the partition
// count, each partition's owner, the nodes' addresses), computes a namespace's
// partition itself (`partitionOf`) and sends the call to the owner.
//
// The map may be stale: a node that no longer owns the partition still answers (it
// forwards), and a unary call that fails UNAVAILABLE (the owner died, or is handing the
// partition over) makes the client read the map again and retry the call once, on the
// owner the new map names, or on the configured target when it names none. A map older
// than MAX_AGE_MS, or without an owner for the partition, is read again by the next call
// (at most once per REFRESH_MIN_MS), so a partition that moved is found even when
// nothing failed. A daemon without ClusterService (a single node) leaves every call on
// the target. The same rules as the Python client's route_to_owner
// (clients/python/memd_client/_owners.py), except that every registered node's address
// is used, live or not (see `adopt`).
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";

import { ClusterRequest, ClusterServiceClient, type ClusterResponse } from "../gen/memd/v1/cluster_service";
import type { MemoryServiceClient } from "../gen/memd/v1/memory_service";
import { partitionOf } from "./partition";
import { NAMESPACE_HEADER } from "./routing";

const REFRESH_MIN_MS = 200; // at most one map read per this long
const MAX_AGE_MS = 5_000; // a map this old is read again by the next call

/** The owners of a cluster's partitions, and a client per owner. */
export class OwnerRoutes {
  private readonly clients = new Map<string, MemoryServiceClient>(); // address -> client
  private owners: string[] = []; // partition -> owner's address ("" unknown)
  private readAt = -Infinity;
  private single = false;
  private reading: Promise<void> | undefined;

  /**
   * @param target The client of the configured address (calls without an owner).
   * @param map The ClusterService client on the configured address.
   * @param connect Makes a client to a node's address, with the client's settings.
   */
  constructor(
    private readonly target: MemoryServiceClient,
    private readonly map: ClusterServiceClient,
    private readonly connect: (address: string) => MemoryServiceClient,
  ) {}

  /** The client for a call carrying `md`: its namespace's owner's, reading the map if due. */
  async clientFor(md: Metadata): Promise<MemoryServiceClient> {
    const ns = namespaceOf(md);
    if (ns === undefined) return this.target;
    const [client, settled] = this.known(ns);
    if (settled) return client;
    await this.refresh();
    return this.known(ns)[0];
  }

  /** As `clientFor` from the map as last read (for streams, opened synchronously); an
   * old map is read again in the background. */
  cached(md: Metadata): MemoryServiceClient {
    const ns = namespaceOf(md);
    if (ns === undefined) return this.target;
    const [client, settled] = this.known(ns);
    if (!settled) void this.refresh();
    return client;
  }

  /** Whether a call carrying `md` went to an owner (and may be retried after a refresh). */
  routed(md: Metadata): boolean {
    return namespaceOf(md) !== undefined && !this.single;
  }

  private known(ns: string): [MemoryServiceClient, boolean] {
    if (this.single || this.owners.length === 0) return [this.target, this.single];
    const address = this.owners[partitionOf(ns, this.owners.length)] ?? "";
    if (address === "") return [this.target, false];
    return [this.clients.get(address) ?? this.target, Date.now() - this.readAt < MAX_AGE_MS];
  }

  /** Reads the placement map again (at most once per REFRESH_MIN_MS; concurrent callers share a read). */
  refresh(): Promise<void> {
    if (this.reading !== undefined) return this.reading;
    if (this.single || Date.now() - this.readAt < REFRESH_MIN_MS) return Promise.resolve();
    this.readAt = Date.now();
    this.reading = new Promise<void>((resolve) => {
      this.map.cluster(ClusterRequest.fromPartial({}), new Metadata(), { deadline: Date.now() + 5_000 }, (err, reply) => {
        this.reading = undefined;
        if (err) this.single = (err as ServiceError).code === status.UNIMPLEMENTED;
        else this.adopt(reply);
        resolve();
      });
    });
    return this.reading;
  }

  // Every registered node's address, live or not: "live" is the entry node's view of a
  // heartbeat a third of a lease apart, which a loaded machine can miss for a moment;
  // an owner that really died fails UNAVAILABLE, and the call is retried.
  private adopt(reply: ClusterResponse): void {
    const addresses = new Map(reply.nodes.map((n) => [n.id, n.address]));
    this.owners = reply.partitions.map((p) => {
      const address = addresses.get(p.owner) ?? "";
      if (address !== "" && !this.clients.has(address)) this.clients.set(address, this.connect(address));
      return address;
    });
  }

  /** Closes the clients to the owners (not the target's). */
  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    this.owners = [];
    this.map.close();
  }
}

function namespaceOf(md: Metadata): string | undefined {
  const v = md.get(NAMESPACE_HEADER)[0];
  return typeof v === "string" && v !== "" ? v : undefined;
}
