// Wire schemas of the catalog feature.
export {};
