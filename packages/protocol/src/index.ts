export * from './checkin.ts';
export * from './errors.ts';
export * from './usage.ts';
