/** Tables of fault reports. */
// biome-ignore lint/complexity/noBannedTypes: filled in by the faults feature
export type FaultTables = {};
