/** Tables of the accounts feature (filled in with its migration). */
// biome-ignore lint/complexity/noBannedTypes: no tables yet
export type AccountTables = {};
