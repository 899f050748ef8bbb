import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// Bearer tokens compared as sha256 digests with timingSafeEqual: equal lengths always, and every
// configured token is compared, so timing says nothing about which one (or how much of one) matched.

const digest = (text: string) => createHash('sha256').update(text).digest();

/** A check of an `Authorization` header against `tokens`; with no tokens it always refuses. */
export function bearerChecker(tokens: readonly string[]): (authorization: string | undefined) => boolean {
  const digests = tokens.map(digest);
  return (authorization) => {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match?.[1]) return false;
    const given = digest(match[1]);
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, given) || ok;
    return ok;
  };
}

/** A token for the API port when none was given: 256 random bits. */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}
