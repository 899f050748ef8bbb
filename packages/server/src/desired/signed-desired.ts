// Signed desired answers: the agent verifies each against its pinned key before acting on it, so a
// proxy on the path can neither swap versions nor replay another environment's or an old revision's list.
import { sign } from 'node:crypto';
import { canonicalJson, type DesiredStatement, type DesiredStatementService } from '@flotilla/protocol';
import type { SigningKeyPair } from '../catalog/signing.ts';

/**
 * How long a signed answer stays valid. It bounds how long a captured answer can be replayed to hold
 * an agent back, yet is long enough that modest clock skew and a slow download never make it stale.
 */
export const desiredValidityMs = 3_600_000;
/** A signature is reused for this long, so a long-poll storm signs once per list and not per request. */
export const desiredReuseMs = 600_000;
const maxCached = 2000;

export interface DesiredAnswerBody {
  environment: string;
  profile: string | null;
  revision: number;
  services: DesiredStatementService[];
}

export interface SignedDesired {
  statement: string;
  signature: string;
  keyId: string;
}

interface Cached extends SignedDesired {
  /** Canonical JSON of the body: a reused signature must cover exactly what is served now. */
  content: string;
  reuseUntil: number;
}

export type DesiredSigner = ReturnType<typeof createDesiredSigner>;

/** Signs desired answers, reusing a signature per (environment, revision, profile) for a while. */
export function createDesiredSigner(opts: {
  key: () => SigningKeyPair;
  now?: () => number;
  validityMs?: number;
  reuseMs?: number;
}) {
  const now = opts.now ?? Date.now;
  const validityMs = opts.validityMs ?? desiredValidityMs;
  // Never reuse for longer than the signature is valid, so an expired one is never served.
  const reuseMs = Math.min(opts.reuseMs ?? desiredReuseMs, validityMs / 2);
  const cache = new Map<string, Cached>();
  let signed = 0;

  return {
    sign(body: DesiredAnswerBody): SignedDesired {
      const services = [...body.services]
        .map(({ service, version, digest, size }) => ({ service, version, digest, size }))
        .sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
      const content = canonicalJson({ ...body, services });
      const cacheKey = `${body.environment}\n${body.revision}\n${body.profile ?? ''}`;
      const at = now();
      const hit = cache.get(cacheKey);
      if (hit && hit.content === content && at < hit.reuseUntil) return pick(hit);
      const key = opts.key();
      const statement: DesiredStatement = {
        environment: body.environment,
        profile: body.profile,
        revision: body.revision,
        services,
        issuedAt: new Date(at).toISOString(),
        expiresAt: new Date(at + validityMs).toISOString(),
      };
      const bytes = canonicalJson(statement);
      const entry: Cached = {
        statement: bytes,
        signature: sign(null, Buffer.from(bytes, 'utf8'), key.privateKey).toString('base64'),
        keyId: key.keyId,
        content,
        reuseUntil: at + reuseMs,
      };
      signed++;
      cache.delete(cacheKey);
      cache.set(cacheKey, entry);
      // Oldest first: a Map keeps insertion order.
      if (cache.size > maxCached) cache.delete(cache.keys().next().value as string);
      return pick(entry);
    },
    /** How many signatures were made (tests check that the cache works). */
    get signatures() {
      return signed;
    },
  };
}

function pick(c: Cached): SignedDesired {
  return { statement: c.statement, signature: c.signature, keyId: c.keyId };
}
