import { createHash, randomInt, timingSafeEqual } from 'node:crypto';

/** No 0/O, 1/I/L or U/V look-alikes, so a code read off a terminal is typed right the first time. */
export const setupCodeAlphabet = '23456789ABCDEFGHJKMNPQRSTWXYZ';
const groups = 3;
const groupLength = 4;

/** A new one-time setup code, e.g. `7KQM-XR4P-2HBN`: 12 characters, about 58 random bits. */
export function generateSetupCode(): string {
  const parts: string[] = [];
  for (let g = 0; g < groups; g++) {
    let part = '';
    for (let i = 0; i < groupLength; i++) part += setupCodeAlphabet[randomInt(setupCodeAlphabet.length)];
    parts.push(part);
  }
  return parts.join('-');
}

/** What was typed, without case, spaces or dashes. */
export function normalizeSetupCode(input: string): string {
  return input.toUpperCase().replace(/[\s-]/g, '');
}

/** Only this digest is kept; the code itself is printed once and forgotten. */
export function hashSetupCode(code: string): Buffer {
  return createHash('sha256').update(normalizeSetupCode(code)).digest();
}

/** Compares digests in constant time, so the answer time tells nothing about the code. */
export function setupCodeMatches(input: string, digest: Buffer): boolean {
  return timingSafeEqual(hashSetupCode(input), digest);
}
