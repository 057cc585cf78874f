export { computeTable } from "./computeTable.js";
export { diffTables } from "./diffTables.js";
export { DEFAULT_PLACEMENT_OPTIONS } from "./resolveOptions.js";
export { NoWorkersError } from "./NoWorkersError.js";
export { partitionOf } from "./partition.js";
export type { PartitionMove, PartitionTable, PlacementMember, PlacementOptions, PlacementView } from "./types.js";
