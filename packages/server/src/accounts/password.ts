import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { HashQueue, type HashQueueOptions } from './hash-queue.ts';

/** scrypt cost: N=2^15, r=8 needs 128·N·r = 32 MiB, so maxmem is raised above Node's 32 MiB default. */
const params = { N: 2 ** 15, r: 8, p: 1 };
const keyLength = 32;
const saltLength = 16;
export const minPasswordLength = 12;
const maxmem = 64 * 1024 * 1024;

/** Every scrypt of this process runs through one bounded queue (see HashQueue). */
let queue = new HashQueue();

/** Replaces the process's password queue with one of other bounds (benchmarks, tests). */
export function configurePasswordQueue(opts: HashQueueOptions): HashQueue {
  queue = new HashQueue(opts);
  return queue;
}

function derive(
  password: string,
  salt: Buffer,
  cost: { N: number; r: number; p: number },
  first = false,
): Promise<Buffer> {
  return queue.run(
    () =>
      new Promise((resolve, reject) => {
        scrypt(password.normalize('NFC'), salt, keyLength, { ...cost, maxmem }, (err, key) =>
          err ? reject(err) : resolve(key),
        );
      }),
    first,
  );
}

/** Hashes a password to a self-describing `scrypt$N$r$p$salt$hash` string (base64url parts). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(saltLength);
  const key = await derive(password, salt, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Compares in constant time; buffers of different lengths are unequal without an early return on content. */
export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) {
    // Still do one comparison so a length mismatch costs about as much as a content mismatch.
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

/**
 * True when `password` matches `stored`; false for a wrong password or a string that is not ours.
 * `first` puts the check at the front of the queue (see HashQueue.run).
 */
export async function verifyPassword(password: string, stored: string, first = false): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  // Refuse costs we would never write, so a tampered row cannot make us allocate without bound.
  if (!Number.isInteger(Math.log2(N)) || N > 2 ** 20 || r < 1 || r > 16 || p < 1 || p > 4) return false;
  const salt = Buffer.from(parts[4] as string, 'base64url');
  const expected = Buffer.from(parts[5] as string, 'base64url');
  if (expected.length === 0) return false;
  const actual = await derive(password, salt, { N, r, p }, first);
  return constantTimeEqual(actual, expected);
}

/**
 * A stored string of our format whose key matches no password: checking against it costs exactly a
 * real check (same parameters, same queue), and making it costs no hash.
 */
const dummy = ['scrypt', params.N, params.r, params.p, randomBytes(saltLength), randomBytes(keyLength)]
  .map((part) => (Buffer.isBuffer(part) ? part.toString('base64url') : part))
  .join('$');

/** Checks against the dummy, so a login for an unknown name takes as long as a wrong password. */
export async function burnPasswordCheck(password: string): Promise<void> {
  await verifyPassword(password, dummy);
}

/** A strong random password for people who did not pick one: 24 characters, about 143 bits. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

export function checkPasswordRules(password: string): string | null {
  if (password.length < minPasswordLength) return `the password must be at least ${minPasswordLength} characters`;
  if (password.length > 1024) return 'the password must be at most 1024 characters';
  return null;
}
