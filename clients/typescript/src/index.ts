export * from "./errors";
export * from "./client";
export { Tier, Memory, MemoryHistory, NewMemory } from "../gen/memd/v1/memory";
export type { NamespaceStats, TierStats } from "../gen/memd/v1/memory";
export * from "./ops";
export * from "./routing";
export {
  SearchMode,
  Fusion,
  CosineScale,
  PatternSyntax,
  TransferConflict,
  TransferDimension,
} from "../gen/memd/v1/memory_service";
export type {
  SearchHit,
  ScoreExplain,
  ScoreWeights,
  StatsResponse,
  TransferResponse,
} from "../gen/memd/v1/memory_service";
export { partitionOf } from "./partition";
export { OwnerRoutes } from "./owners";
