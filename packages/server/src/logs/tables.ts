/** Tables of service logs. */
// biome-ignore lint/complexity/noBannedTypes: filled in by the logs feature
export type LogTables = {};
