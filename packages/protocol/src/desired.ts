// Wire schemas of the desired feature.
export {};
