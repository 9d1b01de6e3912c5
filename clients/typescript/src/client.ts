import {
  credentials as grpcCredentials,
  Metadata,
  status,
  type CallOptions as GrpcCallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientReadableStream,
} from "@grpc/grpc-js";

import {
  Memory,
  MemoryHistory,
  NewMemory,
  Tier,
  type ItemError as PbItemError,
} from "../gen/memd/v1/memory";
import {
  BatchSearchRequest,
  ClearRequest,
  ListRequest,
  MemoryServiceClient,
  StoreRequest,
  type BatchSearchResponse,
  type SearchHit,
  type SearchResponse,
  type StatsResponse,
  type StoreResponse,
  type TransferResponse,
} from "../gen/memd/v1/memory_service";
import { memdError, MemdError, toMemdError } from "./errors";
import {
  big,
  toSearchRequest,
  toTransferRequest,
  type BatchSearchOptions,
  type SearchOptions,
  type TransferOptions,
} from "./ops";
import { ClusterServiceClient } from "../gen/memd/v1/cluster_service";
import { OwnerRoutes } from "./owners";
import { callMetadata, type FollowerReadOptions } from "./routing";
import { channelSecurity } from "./security";

/** An embedding: numbers (packed to little-endian float32 for you) or packed bytes. */
export type EmbeddingInput = readonly number[] | Float32Array | Uint8Array;

/** A memory to store: the fields of `NewMemory`, all optional, with friendlier types. */
export interface MemoryInput {
  key?: string;
  text?: string;
  /** Opaque payload; a string is stored as its UTF-8 bytes. */
  value?: Uint8Array | string;
  embedding?: EmbeddingInput;
  tags?: readonly string[];
  metadata?: Readonly<Record<string, string>>;
  /** In [0, 1]; unset: 0.5 for a new memory, the stored value on update. */
  importance?: number;
  priority?: number;
  /** Time to live in ms; 0 never expires; unset: the tier's default. */
  ttlMs?: number | bigint;
  tier?: Tier;
  /**
   * Unset: a write happening now. Set: the memory's past, for an import: it keeps
   * these times (ms since the epoch) and counts (see `MemoryHistory` in the proto).
   */
  history?: HistoryInput;
  /**
   * Text that situates this one (the previous turn, a session title): searched with
   * `text` and embedded with it when the server embeds; read back as `Memory.context`,
   * never as the text.
   */
  context?: string;
}

/** The past of an imported memory (`NewMemory.history`); unset fields are 0 ("not given"). */
export interface HistoryInput {
  /** When it was first stored; required. */
  createdMs: number | bigint;
  /** When it was last stored (its TTL counts from here); unset: `createdMs`. */
  updatedMs?: number | bigint;
  /** When it was last read or written; unset: `updatedMs`. */
  lastAccessMs?: number | bigint;
  accessCount?: number | bigint;
  /** The version to give it; unset: 1. */
  version?: number | bigint;
  /** When it expires; unset: `updatedMs` plus its TTL. */
  expiresAtMs?: number | bigint;
}

/** Options of every call. */
export interface CallOptions {
  /** Deadline of the call in milliseconds (for search: of the whole stream). */
  timeoutMs?: number;
  /** Cancels the call; it then rejects with CancelledError. */
  signal?: AbortSignal;
}

export interface MemdClientOptions {
  /** Default deadline of unary calls and searches, ms; default 30 000. 0: none. */
  timeoutMs?: number;
  /**
   * Access token, sent as `authorization: Bearer <token>` on every call (`raw` calls
   * too). Without `tls` only to a loopback address or a Unix socket.
   */
  token?: string;
  /** TLS instead of plaintext: `true` (Node's root certificates) or `TlsOptions`. */
  tls?: TlsOptions | true;
  /** Your own channel credentials instead of `tls`; default: insecure (plaintext). */
  credentials?: ChannelCredentials;
  /** Retries of calls failing with UNAVAILABLE; default DEFAULT_RETRY_POLICY. `false`: none. */
  retry?: RetryPolicy | false;
  /** Extra grpc-js channel options (override the defaults). */
  channelOptions?: ChannelOptions;
  /**
   * A memd cluster: send each namespace-scoped call straight to the owner of the
   * namespace's partition (read from ClusterService/Cluster) instead of through the
   * node at `target`, which would forward it; see `OwnerRoutes` (src/owners.ts).
   * Calls whose namespace cannot travel as a header stay on the target. Default false.
   */
  routeToOwner?: boolean;
}

/**
 * TLS settings: PEM contents (string or Buffer), as Node's `tls` and `https` take them
 * (`readFileSync("ca.pem")`).
 */
export interface TlsOptions {
  /** CA certificates the server's certificate must chain to; default Node's roots. */
  ca?: string | Buffer;
  /** This client's certificate chain, for a daemon requiring one (--tls-client-ca); with `key`. */
  cert?: string | Buffer;
  /** The private key of `cert`. */
  key?: string | Buffer;
  /** Check the server's certificate for this name instead of the target's host. */
  serverName?: string;
}

/**
 * How calls failing with UNAVAILABLE (server unreachable or draining) are retried. It
 * becomes the channel's default gRPC service config, so grpc-js does the retrying:
 * attempt n+1 starts after a random delay in
 * [0, min(initialBackoffMs * backoffMultiplier^(n-1), maxBackoffMs)).
 *
 * Every RPC is retried except StoreStream (bulkStore: on an error the acknowledged
 * batches stay committed and `err.acked` counts them). A search is retried only before
 * its first page. The call's deadline bounds all its attempts together. A retried store
 * of memories without keys can store them twice if the first attempt committed just
 * before the connection broke: give keys when that matters.
 */
export interface RetryPolicy {
  /** Attempts including the first; grpc-js caps it at 5. */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  backoffMultiplier: number;
}

/** The default retry policy (the same as the Python and Go clients'). */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 4,
  initialBackoffMs: 50,
  maxBackoffMs: 2_000,
  backoffMultiplier: 2,
});

/** The gRPC service of memd's API. */
export const SERVICE_NAME = "memd.v1.MemoryService";

/**
 * The gRPC service config (JSON) applying `policy` to every memd RPC but StoreStream.
 * grpc-js uses the first entry whose name matches, so StoreStream's comes first.
 */
export function retryServiceConfig(policy: RetryPolicy): string {
  const seconds = (ms: number) => `${Math.max(ms, 1) / 1000}s`;
  return JSON.stringify({
    methodConfig: [
      { name: [{ service: SERVICE_NAME, method: "StoreStream" }] },
      {
        name: [{ service: SERVICE_NAME }],
        retryPolicy: {
          maxAttempts: policy.maxAttempts,
          initialBackoff: seconds(policy.initialBackoffMs),
          maxBackoff: seconds(policy.maxBackoffMs),
          backoffMultiplier: policy.backoffMultiplier,
          retryableStatusCodes: ["UNAVAILABLE"],
        },
      },
    ],
  });
}

/** Per-item failure of a batch while the rest were stored. */
export interface ItemError {
  /** Position of the item in the input (for bulkStore: in the whole input). */
  index: number;
  /** gRPC status code number, e.g. `grpc.status.INVALID_ARGUMENT` (3). */
  code: status;
  message: string;
}

/** Outcome of store/bulkStore, per item in input order. */
export interface StoreResult {
  /** Stored keys (server-made for an empty key); for a failed item, the key as sent. */
  keys: string[];
  /** Versions after the store (1 for a new memory); 0n for a failed item. */
  versions: bigint[];
  /** Tiers the memories are in; TIER_UNSPECIFIED for a failed item. */
  tiers: Tier[];
  /** The failed items only, in index order; empty when every item was stored. */
  errors: ItemError[];
}

export interface StoreOptions extends CallOptions {
  /** All or nothing: one invalid item rejects with InvalidArgumentError. */
  atomic?: boolean;
}

export interface BulkStoreOptions {
  /** Memories per streamed batch; default 1 000 (server limit: --max-batch-items). */
  batchSize?: number;
  /** Batches sent ahead of their acknowledgement; default 4. */
  window?: number;
  /** Deadline of the whole stream, ms; default none. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface GetOptions extends CallOptions, FollowerReadOptions {
  /** Read only: do not count as an access. */
  peek?: boolean;
}

export interface ListOptions extends CallOptions, FollowerReadOptions {
  /** Only this tier; default all. */
  tier?: Tier;
  /** Memories per page (per RPC): default 100, at most 1 000. */
  pageSize?: number;
  reverse?: boolean;
  createdAfterMs?: number | bigint;
  createdBeforeMs?: number | bigint;
  /** Start from this page token (from a previous listPage). */
  pageToken?: string;
}

export interface ListPage {
  memories: Memory[];
  /** Empty on the last page. */
  nextPageToken: string;
}

/** Largest response accepted by default (the server allows 16 MiB messages). */
export const DEFAULT_MAX_RECEIVE_BYTES = 64 << 20;

/** Packs an embedding as memd expects it: little-endian float32, 4 bytes per value. */
export function packEmbedding(v: EmbeddingInput): Buffer {
  if (v instanceof Uint8Array && !(v instanceof Float32Array)) return Buffer.from(v);
  const b = Buffer.alloc(4 * v.length);
  for (let i = 0; i < v.length; i++) b.writeFloatLE(v[i] as number, 4 * i);
  return b;
}

/** Unpacks `Memory.embedding` into numbers (empty for no embedding). */
export function unpackEmbedding(b: Uint8Array): number[] {
  if (b.length % 4 !== 0) throw new RangeError(`embedding of ${b.length} bytes is not float32`);
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const out = new Array<number>(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(4 * i);
  return out;
}

function toNewMemory(m: MemoryInput): NewMemory {
  return NewMemory.fromPartial({
    key: m.key ?? "",
    text: m.text ?? "",
    value: typeof m.value === "string" ? Buffer.from(m.value, "utf8") : m.value ? Buffer.from(m.value) : Buffer.alloc(0),
    embedding: m.embedding ? packEmbedding(m.embedding) : Buffer.alloc(0),
    tags: m.tags ? [...m.tags] : [],
    metadata: m.metadata ? { ...m.metadata } : {},
    importance: m.importance,
    priority: m.priority ?? 0,
    ttlMs: m.ttlMs === undefined ? undefined : BigInt(m.ttlMs),
    tier: m.tier ?? Tier.TIER_UNSPECIFIED,
    history: m.history === undefined ? undefined : toHistory(m.history),
    context: m.context ?? "",
  });
}

function toHistory(h: HistoryInput): MemoryHistory {
  return MemoryHistory.fromPartial({
    createdMs: BigInt(h.createdMs),
    updatedMs: big(h.updatedMs),
    lastAccessMs: big(h.lastAccessMs),
    accessCount: big(h.accessCount),
    version: big(h.version),
    expiresAtMs: big(h.expiresAtMs),
  });
}

function itemErrors(errors: PbItemError[], offset: number): ItemError[] {
  return errors.map((e) => ({ index: offset + e.index, code: e.code as status, message: e.message }));
}

/**
 * A search in progress: iterate it (`for await`) for hits, best first. Leaving the
 * loop early (`break`) or calling `cancel()` cancels the RPC; an AbortSignal passed in
 * the options makes the iteration reject with CancelledError.
 */
export class SearchStream implements AsyncIterable<SearchHit> {
  private cancelled = false;
  private finished = false;

  constructor(private readonly call: ClientReadableStream<SearchResponse>) {}

  /** Stops the search; the iteration then ends without an error. Idempotent. */
  cancel(): void {
    if (!this.finished && !this.cancelled) {
      this.cancelled = true;
      this.call.cancel();
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SearchHit> {
    try {
      for await (const page of this.call as AsyncIterable<SearchResponse>) {
        for (const hit of page.hits) {
          if (this.cancelled) return;
          yield hit;
        }
      }
      this.finished = true;
    } catch (e) {
      this.finished = true;
      if (this.cancelled) return;
      throw toMemdError("search", e);
    } finally {
      this.cancel();
    }
  }

  /** Collects every hit. */
  async toArray(): Promise<SearchHit[]> {
    const out: SearchHit[] = [];
    for await (const h of this) out.push(h);
    return out;
  }
}

/**
 * A connection to one memd daemon, promise-based. Safe for concurrent use.
 *
 *     const memd = new MemdClient("127.0.0.1:50051"); // or "unix:///run/memd/memd.sock"
 *     const { keys } = await memd.store("agent:demo", [{ text: "the user likes tea" }]);
 *     const m = await memd.get("agent:demo", keys[0]!);
 *     memd.close();
 */
export class MemdClient {
  /** The generated grpc-js client, for RPCs the wrapper does not cover. */
  readonly raw: MemoryServiceClient;
  private readonly timeoutMs: number;
  private readonly owners: OwnerRoutes | undefined; // routeToOwner

  constructor(target: string, options: MemdClientOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    const retry = options.retry ?? DEFAULT_RETRY_POLICY;
    const { credentials, channelOptions, interceptors } = channelSecurity(target, options);
    const settings = {
      "grpc.max_receive_message_length": DEFAULT_MAX_RECEIVE_BYTES,
      ...(retry === false || retry.maxAttempts < 2
        ? { "grpc.enable_retries": 0 }
        : { "grpc.service_config": retryServiceConfig(retry) }),
      ...channelOptions,
      ...options.channelOptions,
      interceptors,
    };
    this.raw = new MemoryServiceClient(target, credentials, settings);
    if (options.routeToOwner) {
      const map = new ClusterServiceClient(target, credentials, settings);
      this.owners = new OwnerRoutes(this.raw, map, (address) => new MemoryServiceClient(address, credentials, settings));
    }
  }

  /** Creates a client and waits until it is connected; rejects with UnavailableError. */
  static async connect(target: string, options: MemdClientOptions & { connectTimeoutMs?: number } = {}): Promise<MemdClient> {
    const c = new MemdClient(target, options);
    try {
      await c.waitForReady(options.connectTimeoutMs ?? 10_000);
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
  }

  /** Waits until the channel is connected; rejects with UnavailableError after timeoutMs. */
  waitForReady(timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      this.raw.waitForReady(Date.now() + timeoutMs, (err) => {
        if (err) reject(memdError("connect", status.UNAVAILABLE, err.message, err));
        else resolve();
      });
    });
  }

  /** Closes the channel; calls in flight fail. */
  close(): void {
    this.owners?.close();
    this.raw.close();
  }

  /** The client for a stream carrying `md` (the owner's with routeToOwner, from the map as last read). */
  private streamClient(md: Metadata): MemoryServiceClient {
    return this.owners ? this.owners.cached(md) : this.raw;
  }

  private opts(o: CallOptions | undefined, useDefault = true): Partial<GrpcCallOptions> {
    const t = o?.timeoutMs ?? (useDefault ? this.timeoutMs : 0);
    return t > 0 ? { deadline: Date.now() + t } : {};
  }

  /** Runs a unary call as a promise, honouring options.signal. */
  private unary<Req, Res>(
    op: string,
    fn: (req: Req, md: Metadata, o: Partial<GrpcCallOptions>, cb: (e: Error | null, r: Res) => void) => { cancel(): void },
    req: Req,
    o: CallOptions | undefined,
    md: Metadata,
  ): Promise<Res> {
    const owners = this.owners;
    if (owners === undefined) return this.unaryOn(this.raw, op, fn, req, o, md);
    // routeToOwner: on the owner; after an UNAVAILABLE, once more on the owner the map
    // read again names (src/owners.ts).
    return owners.clientFor(md).then((client) =>
      this.unaryOn(client, op, fn, req, o, md).catch(async (e: unknown) => {
        if (!(e instanceof MemdError) || e.code !== status.UNAVAILABLE || !owners.routed(md) || o?.signal?.aborted) throw e;
        await owners.refresh();
        return this.unaryOn(await owners.clientFor(md), op, fn, req, o, md);
      }),
    );
  }

  private unaryOn<Req, Res>(
    client: MemoryServiceClient,
    op: string,
    fn: (req: Req, md: Metadata, o: Partial<GrpcCallOptions>, cb: (e: Error | null, r: Res) => void) => { cancel(): void },
    req: Req,
    o: CallOptions | undefined,
    md: Metadata,
  ): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      if (o?.signal?.aborted) {
        reject(memdError(op, status.CANCELLED, "aborted before the call"));
        return;
      }
      const onAbort = () => call.cancel();
      // The generated methods live on the shared prototype: any client of the service runs them.
      const call = fn.call(client, req, md, this.opts(o), (err, res) => {
        o?.signal?.removeEventListener("abort", onAbort);
        if (err) reject(toMemdError(op, err));
        else resolve(res);
      });
      o?.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Stores one batch (keep it to a few thousand items; use bulkStore for more). Invalid
   * items are reported in `errors` while the valid ones are stored, unless `atomic`.
   */
  async store(namespace: string, memories: Iterable<MemoryInput>, options?: StoreOptions): Promise<StoreResult> {
    const mems = Array.from(memories, toNewMemory);
    const req = StoreRequest.fromPartial({ namespace, memories: mems, atomic: options?.atomic ?? false });
    const res = await this.unary<StoreRequest, StoreResponse>("store", this.raw.store, req, options, callMetadata(namespace));
    return {
      keys: res.keys,
      versions: res.versions,
      tiers: res.tiers,
      errors: itemErrors(res.errors, 0),
    };
  }

  /** Reads one memory; a missing or expired key rejects with NotFoundError. */
  async get(namespace: string, key: string, options?: GetOptions): Promise<Memory> {
    const [m] = await this.getMany(namespace, [key], options);
    if (m === undefined) {
      throw memdError("get", status.NOT_FOUND, `key ${JSON.stringify(key)} not found in namespace ${JSON.stringify(namespace)}`);
    }
    return m;
  }

  /** Reads a batch of keys: one entry per key, in order, undefined where missing. */
  async getMany(namespace: string, keys: readonly string[], options?: GetOptions): Promise<(Memory | undefined)[]> {
    const md = callMetadata(namespace, options?.maxStalenessMs);
    const res = await this.unary("get", this.raw.retrieve, { namespace, keys: [...keys], peek: options?.peek ?? false }, options, md);
    return keys.map((_, i) => {
      const r = res.results[i];
      return r?.found ? r.memory : undefined;
    });
  }

  /** Deletes keys; resolves to how many memories were removed (unknown keys are fine). */
  async delete(namespace: string, keys: string | readonly string[], options?: CallOptions): Promise<number> {
    const ks = typeof keys === "string" ? [keys] : [...keys];
    const res = await this.unary("delete", this.raw.delete, { namespace, keys: ks }, options, callMetadata(namespace));
    return res.deletedCount;
  }

  /** One page of the live memories of a namespace, in key order. */
  async listPage(namespace: string, options: ListOptions = {}): Promise<ListPage> {
    const req = ListRequest.fromPartial({
      namespace,
      tier: options.tier ?? Tier.TIER_UNSPECIFIED,
      pageSize: options.pageSize ?? 0,
      pageToken: options.pageToken ?? "",
      reverse: options.reverse ?? false,
      createdAfterMs: big(options.createdAfterMs),
      createdBeforeMs: big(options.createdBeforeMs),
    });
    const res = await this.unary("list", this.raw.list, req, options, callMetadata(namespace, options.maxStalenessMs));
    return { memories: res.memories, nextPageToken: res.nextPageToken };
  }

  /** Every live memory of a namespace, in key order, fetched page by page (timeoutMs is per page). */
  async *list(namespace: string, options: ListOptions = {}): AsyncGenerator<Memory, void, undefined> {
    let token = options.pageToken ?? "";
    for (;;) {
      const page = await this.listPage(namespace, { ...options, pageToken: token });
      yield* page.memories;
      if (page.nextPageToken === "") return;
      token = page.nextPageToken;
    }
  }

  /** Counts, sizes and counters of one namespace, or of all when namespace is omitted. */
  stats(namespace = "", options?: CallOptions): Promise<StatsResponse> {
    return this.unary("stats", this.raw.stats, { namespace }, options, callMetadata(namespace));
  }

  /**
   * Starts a search (a string is a keyword query). Hits arrive page by page as the
   * returned stream is iterated; request errors (e.g. no query and no embedding) reject
   * the first iteration with InvalidArgumentError.
   */
  search(namespace: string, query: string | SearchOptions): SearchStream {
    const o: SearchOptions = typeof query === "string" ? { query } : query;
    const req = toSearchRequest(namespace, o);
    const md = callMetadata(namespace, o.maxStalenessMs);
    const call = this.streamClient(md).search(req, md, this.opts(o));
    const stream = new SearchStream(call);
    if (o.signal) {
      if (o.signal.aborted) call.cancel();
      else o.signal.addEventListener("abort", () => call.cancel(), { once: true });
    }
    return stream;
  }

  /**
   * Runs many searches of one namespace in one call (a string is a keyword query; each
   * query is `options.shared` with the query's own fields in their place) and resolves
   * to each query's hits, best first, in query order. One invalid query rejects with
   * InvalidArgumentError naming its index, and no query runs.
   */
  async batchSearch(
    namespace: string,
    queries: readonly (string | SearchOptions)[],
    options: BatchSearchOptions = {},
  ): Promise<SearchHit[][]> {
    const req = BatchSearchRequest.fromPartial({
      namespace,
      shared: toSearchRequest("", options.shared ?? {}),
      queries: queries.map((q) => toSearchRequest("", typeof q === "string" ? { query: q } : q)),
    });
    const out: SearchHit[][] = queries.map(() => []);
    const md = callMetadata(namespace);
    const call = this.streamClient(md).batchSearch(req, md, this.opts(options));
    const onAbort = () => call.cancel();
    if (options.signal?.aborted) call.cancel();
    else options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const page of call as AsyncIterable<BatchSearchResponse>) {
        out[page.queryIndex]?.push(...page.hits);
      }
    } catch (e) {
      throw toMemdError("batchSearch", e);
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
    return out;
  }

  /**
   * Copies (or with `move`, moves) memories, `keys` or the whole namespace, from
   * `source` to `target` in one transaction: all of them or none. A key the target
   * holds rejects with AlreadyExistsError unless `onConflict` says skip or overwrite;
   * an embedding of another dimension with InvalidArgumentError unless
   * `onDimensionMismatch` says skip or drop it. Resolves to the counts.
   */
  transfer(source: string, target: string, options: TransferOptions): Promise<TransferResponse> {
    const req = toTransferRequest(source, target, options);
    return this.unary("transfer", this.raw.transfer, req, options, callMetadata(source));
  }

  /**
   * Deletes every memory of one tier of a namespace (default: of every tier) and
   * resolves to how many; the namespace stays. NotFoundError if it does not exist.
   */
  async clear(namespace: string, tier: Tier = Tier.TIER_UNSPECIFIED, options?: CallOptions): Promise<number> {
    const req = ClearRequest.fromPartial({ namespace, tier });
    const res = await this.unary("clear", this.raw.clear, req, options, callMetadata(namespace));
    return Number(res.removed);
  }

  /**
   * Stores memories from a (sync or async) iterable over one StoreStream RPC, in
   * batches of `batchSize`, up to `window` batches in flight; resolves once every
   * batch is acknowledged (committed). Failed items are in `errors`, indexed into the
   * whole input. On an error, the rejection's `acked` tells how many leading items
   * were committed.
   */
  async bulkStore(
    namespace: string,
    memories: Iterable<MemoryInput> | AsyncIterable<MemoryInput>,
    options: BulkStoreOptions = {},
  ): Promise<StoreResult & { acked: number }> {
    const size = options.batchSize ?? 1000;
    const window = options.window ?? 4;
    if (!(size >= 1) || !(window >= 1)) throw new RangeError("batchSize and window must be at least 1");
    const result: StoreResult & { acked: number } = { keys: [], versions: [], tiers: [], errors: [], acked: 0 };
    const md = callMetadata(namespace);
    const call = this.streamClient(md).storeStream(md, this.opts(options, false));
    const sizes: number[] = []; // items per sent batch
    let ackedBatches = 0;
    let failure: unknown;
    let readerDone = false;
    let wake: (() => void) | undefined;
    const wakeUp = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const onAbort = () => call.cancel();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) call.cancel();
    // grpc-js reports a status only as an 'error' event: keep one listener so a failed
    // stream never throws out of an emitter while nobody is reading.
    call.on("error", () => {});

    const reader = async () => {
      try {
        for await (const resp of call as AsyncIterable<StoreResponse>) {
          const i = ackedBatches;
          const n = sizes[i];
          if (n === undefined || resp.batchId !== BigInt(i) || resp.keys.length !== n) {
            throw memdError("bulkStore", status.INTERNAL,
              `acknowledgement ${i} is for batch ${resp.batchId} with ${resp.keys.length} keys`);
          }
          result.keys.push(...resp.keys);
          result.versions.push(...resp.versions);
          result.tiers.push(...resp.tiers);
          result.errors.push(...itemErrors(resp.errors, result.acked));
          result.acked += n;
          ackedBatches++;
          wakeUp();
        }
        readerDone = true;
      } catch (e) {
        failure ??= e;
        call.cancel();
        throw e;
      } finally {
        wakeUp();
      }
    };

    const send = async (batch: NewMemory[]) => {
      while (sizes.length - ackedBatches >= window && failure === undefined && !readerDone) {
        await new Promise<void>((r) => (wake = r));
      }
      if (failure === undefined && readerDone) {
        failure = memdError("bulkStore", status.INTERNAL, "the server ended the stream before the input was sent");
      }
      if (failure !== undefined) throw failure;
      const id = sizes.length;
      sizes.push(batch.length);
      const ok = call.write(StoreRequest.fromPartial({ namespace, memories: batch, batchId: BigInt(id) }));
      if (!ok && failure === undefined) {
        await new Promise<void>((r) => {
          call.once("drain", r);
          const t = setInterval(() => {
            if (failure !== undefined) {
              clearInterval(t);
              r();
            }
          }, 50);
          call.once("drain", () => clearInterval(t));
        });
      }
    };

    const writer = async () => {
      try {
        let batch: NewMemory[] = [];
        for await (const m of memories as AsyncIterable<MemoryInput>) {
          batch.push(toNewMemory(m));
          if (batch.length >= size) {
            await send(batch);
            batch = [];
          }
        }
        if (batch.length > 0) await send(batch);
        call.end();
      } catch (e) {
        failure ??= e;
        call.cancel();
        throw e;
      }
    };

    try {
      const [w, r] = await Promise.allSettled([writer(), reader()]);
      if (w.status === "rejected" || r.status === "rejected") throw failure;
      if (ackedBatches !== sizes.length) {
        throw memdError("bulkStore", status.INTERNAL,
          `stream ended after ${ackedBatches} of ${sizes.length} acknowledgements`);
      }
      return result;
    } catch (e) {
      const err = e instanceof MemdError ? e : toMemdError("bulkStore", e);
      err.acked = result.acked;
      throw err;
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
  }
}
