import { Conflict } from '../errors.ts';

/** True for a unique or primary-key violation on either engine (PostgreSQL 23505, SQLite's message). */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || /UNIQUE constraint failed|PRIMARY KEY constraint failed/.test(e?.message ?? '');
}

/** Runs `fn` and turns a unique-constraint violation into Conflict(message). */
export async function uniqueOr<T>(message: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isUniqueViolation(err)) throw new Conflict(message);
    throw err;
  }
}
