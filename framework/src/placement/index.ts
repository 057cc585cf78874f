export { computeTable } from "./computeTable.js";
export { diffTables } from "./diffTables.js";
export { rebalance } from "./rebalance.js";
export { decodeTable, encodeTable, type EncodedTable } from "./tableCodec.js";
export { DEFAULT_PLACEMENT_OPTIONS } from "./resolveOptions.js";
export { partitionOf } from "./partition.js";
export type { PartitionMove, PartitionTable, PlacementMember, PlacementOptions, PlacementView } from "./types.js";
