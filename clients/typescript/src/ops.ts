// Requests of BatchSearch, Transfer and Clear, and the search request every search
// method shares (MemdClient.search, MemdClient.batchSearch).
import {
  CosineScale,
  Fusion,
  PatternSyntax,
  SearchMode,
  SearchRequest,
  TransferConflict,
  TransferDimension,
  TransferRequest,
  type ScoreWeights,
} from "../gen/memd/v1/memory_service";
import { Tier } from "../gen/memd/v1/memory";
import { packEmbedding, type CallOptions, type EmbeddingInput } from "./client";
import type { FollowerReadOptions } from "./routing";

/** Search filters and options: the SearchRequest fields, all optional. */
export interface SearchOptions extends CallOptions, FollowerReadOptions {
  query?: string;
  phrase?: string;
  embedding?: EmbeddingInput;
  /** Hits to return: default 10, at most 1 000. */
  limit?: number;
  tiers?: Tier[];
  tagsAll?: string[];
  tagsAny?: string[];
  metadata?: Record<string, string>;
  minImportance?: number;
  maxImportance?: number;
  createdAfterMs?: number | bigint;
  createdBeforeMs?: number | bigint;
  accessedAfterMs?: number | bigint;
  accessedBeforeMs?: number | bigint;
  weights?: Partial<ScoreWeights>;
  recencyHalfLifeMs?: number | bigint;
  countAccess?: boolean;
  explain?: boolean;
  mode?: SearchMode;
  fusion?: Fusion;
  recencyFromCreated?: boolean;
  /**
   * Only memories whose text matches: a glob matching the whole text (default), or a
   * regular expression found anywhere in it (`patternSyntax: PatternSyntax.PATTERN_SYNTAX_REGEX`).
   * Alone, or with `mode: SearchMode.SEARCH_MODE_PATTERN`, every match has relevance 1.
   */
  pattern?: string;
  patternSyntax?: PatternSyntax;
  patternIgnoreCase?: boolean;
  /** Scan every vector instead of walking a large namespace's HNSW graph (docs/search.md). */
  exact?: boolean;
  /** Fill each hit's `memory.embedding` (default: left empty; the server does not send it). */
  includeEmbedding?: boolean;
  /** Typo-tolerant keyword terms (1 edit for 4-7 letters, 2 from 8); keyword and hybrid only. */
  fuzzy?: boolean;
  /** Weighted fusion's keyword share in [0, 1] (default: the server's, docs/search.md#recall). */
  keywordWeight?: number;
  /** How weighted fusion rescales the candidates' cosines (default: the server's, min-max). */
  cosineScale?: CosineScale;
  /** RRF fusion's cut of each list (default 0: max(10 x limit, 100)); at most 10 000. */
  rrfDepth?: number;
}

/** A uint64 field from a number or bigint (undefined: 0). */
export function big(v: number | bigint | undefined): bigint {
  return v === undefined ? 0n : BigInt(v);
}

/** The SearchRequest of `o`; fields not given stay unset (zero). */
export function toSearchRequest(namespace: string, o: SearchOptions): SearchRequest {
  return SearchRequest.fromPartial({
    namespace,
    query: o.query ?? "",
    phrase: o.phrase ?? "",
    embedding: o.embedding ? packEmbedding(o.embedding) : Buffer.alloc(0),
    limit: o.limit ?? 0,
    tiers: o.tiers ?? [],
    tagsAll: o.tagsAll ?? [],
    tagsAny: o.tagsAny ?? [],
    metadata: o.metadata ?? {},
    minImportance: o.minImportance,
    maxImportance: o.maxImportance,
    createdAfterMs: big(o.createdAfterMs),
    createdBeforeMs: big(o.createdBeforeMs),
    accessedAfterMs: big(o.accessedAfterMs),
    accessedBeforeMs: big(o.accessedBeforeMs),
    weights: o.weights,
    recencyHalfLifeMs: big(o.recencyHalfLifeMs),
    countAccess: o.countAccess ?? false,
    explain: o.explain ?? false,
    mode: o.mode ?? SearchMode.SEARCH_MODE_UNSPECIFIED,
    fusion: o.fusion ?? Fusion.FUSION_UNSPECIFIED,
    recencyFromCreated: o.recencyFromCreated ?? false,
    pattern: o.pattern ?? "",
    patternSyntax: o.patternSyntax ?? PatternSyntax.PATTERN_SYNTAX_UNSPECIFIED,
    patternIgnoreCase: o.patternIgnoreCase ?? false,
    exact: o.exact ?? false,
    includeEmbedding: o.includeEmbedding ?? false,
    fuzzy: o.fuzzy ?? false,
    keywordWeight: o.keywordWeight,
    cosineScale: o.cosineScale ?? CosineScale.COSINE_SCALE_UNSPECIFIED,
    rrfDepth: o.rrfDepth ?? 0,
  });
}

/** Options of MemdClient.batchSearch. */
export interface BatchSearchOptions extends CallOptions {
  /** Fields every query starts from; a query's own fields replace these. */
  shared?: SearchOptions;
}

/** Options of MemdClient.transfer: `keys`, or `wholeNamespace`. */
export interface TransferOptions extends CallOptions {
  keys?: readonly string[];
  wholeNamespace?: boolean;
  /** Remove the memories from the source (default: copy). */
  move?: boolean;
  /** A key the target holds: fail (AlreadyExistsError, the default), skip or overwrite. */
  onConflict?: TransferConflict;
  /** An embedding of another dimension: fail (InvalidArgumentError), skip, or drop it. */
  onDimensionMismatch?: TransferDimension;
}

/** The TransferRequest of a transfer from `source` to `target`. */
export function toTransferRequest(source: string, target: string, o: TransferOptions): TransferRequest {
  return TransferRequest.fromPartial({
    namespace: source,
    targetNamespace: target,
    keys: o.keys ? [...o.keys] : [],
    wholeNamespace: o.wholeNamespace ?? false,
    move: o.move ?? false,
    onConflict: o.onConflict ?? TransferConflict.TRANSFER_CONFLICT_UNSPECIFIED,
    onDimensionMismatch: o.onDimensionMismatch ?? TransferDimension.TRANSFER_DIMENSION_UNSPECIFIED,
  });
}
