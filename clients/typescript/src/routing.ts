// Cluster mode's call metadata (docs/cluster.md, "Routing" and "Follower reads").
import { Metadata } from "@grpc/grpc-js";

/**
 * The namespace of every namespace-scoped call, set from the same argument as the
 * request's namespace, so a proxy hashing a header sends one namespace's calls to one
 * node and a cluster node routes a read without decoding it. A single node ignores it;
 * a cluster node refuses a header that differs from the body. gRPC headers carry
 * printable ASCII only, so a namespace with other characters (or edge spaces) is sent
 * without it and routed by its body.
 */
export const NAMESPACE_HEADER = "memd-namespace";
/** The follower-read bound of `maxStalenessMs`. */
export const MAX_STALENESS_HEADER = "memd-max-staleness-ms";
const MAX_BOUND_MS = 24 * 3600 * 1000; // the daemon's limit

/** Options of the reads a cluster follower may answer (get, getMany, list, listPage, search). */
export interface FollowerReadOptions {
  /**
   * In cluster mode, a node following the namespace's partition may answer from its
   * own copy when that copy is at most this many milliseconds behind the owner,
   * instead of going to the owner (read-your-writes). A single node ignores it.
   * A whole number from 0 to 86 400 000 (a day); others throw RangeError.
   */
  maxStalenessMs?: number;
}

/** Whether `namespace` can be a gRPC header value: printable ASCII, no edge spaces. */
export function routable(namespace: string): boolean {
  return /^[!-~]([ -~]*[!-~])?$/.test(namespace);
}

/** The metadata of one call: the namespace header and, for a follower read, the bound. */
export function callMetadata(namespace: string, maxStalenessMs?: number): Metadata {
  const md = new Metadata();
  if (routable(namespace)) md.set(NAMESPACE_HEADER, namespace);
  if (maxStalenessMs !== undefined) {
    if (!Number.isInteger(maxStalenessMs) || maxStalenessMs < 0 || maxStalenessMs > MAX_BOUND_MS) {
      throw new RangeError(`maxStalenessMs must be a whole number from 0 to ${MAX_BOUND_MS}, not ${maxStalenessMs}`);
    }
    md.set(MAX_STALENESS_HEADER, String(maxStalenessMs));
  }
  return md;
}
