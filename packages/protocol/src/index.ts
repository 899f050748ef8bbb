export * from './accounts.ts';
export * from './canonical-json.ts';
export * from './catalog.ts';
export * from './checkin.ts';
export * from './desired.ts';
export * from './errors.ts';
export * from './rollouts.ts';
export * from './usage.ts';
