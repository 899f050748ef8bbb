import type { MemberUpdate } from './contracts.ts';

// Membership trusts no peer's shapes: a malformed update is dropped, never merged.

const STATES = new Set(['alive', 'suspect', 'dead', 'left']);

export function validUpdate(value: unknown): value is MemberUpdate {
  if (typeof value !== 'object' || value === null) return false;
  const update = value as Record<string, unknown>;
  return (
    typeof update.name === 'string' &&
    update.name.length > 0 &&
    update.name.length <= 256 &&
    typeof update.address === 'string' &&
    update.address.length > 0 &&
    update.address.length <= 512 &&
    Number.isSafeInteger(update.incarnation) &&
    (update.incarnation as number) >= 0 &&
    typeof update.state === 'string' &&
    STATES.has(update.state)
  );
}
