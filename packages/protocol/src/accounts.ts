// Wire schemas of the accounts feature.
export {};
