/** Tables of the catalog feature (filled in with its migration). */
// biome-ignore lint/complexity/noBannedTypes: no tables yet
export type CatalogTables = {};
