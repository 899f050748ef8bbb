// The host tracker set from the server, verified against the pinned key before anything runs: a
// tracker makes this host run a command or read a file, so only what the server signed is used.
import { verify } from 'node:crypto';
// Types only (erased): the protocol index pulls in typebox, which the host agent never loads.
import type { SignedTrackerSet, TrackerStatement } from '@flotilla/protocol';
import { canonicalJson } from '@flotilla/protocol/canonical-json';
import { pinnedKey, type TrustedKey, VerificationError } from '../update/verify.ts';
import { desiredClockSkewMs } from '../update/verify-desired.ts';

export type { SignedTrackerSet, TrackerStatement } from '@flotilla/protocol';

export const trackerStatementKind: TrackerStatement['kind'] = 'flotilla.drift-trackers';
const hostStrategies = new Set(['Command', 'File', 'Package']);

/**
 * The trackers of a signed set: the signature over the exact bytes by the pinned key, canonical
 * JSON, the kind (never a desired list), not expired, and this agent's environment when known.
 * Throws VerificationError; only the signed statement is read, nothing else of the answer.
 */
export function verifyTrackerSet(
  trust: TrustedKey,
  answer: SignedTrackerSet,
  opts: { environment?: string | null; now?: number } = {},
): TrackerStatement {
  const { statement: bytes, signature } = answer ?? ({} as SignedTrackerSet);
  if (typeof bytes !== 'string' || typeof signature !== 'string' || !bytes || !signature) {
    throw new VerificationError('the host tracker set is not signed');
  }
  const key = pinnedKey(trust);
  if (trust.keyId && answer.keyId !== trust.keyId) {
    throw new VerificationError(`the host tracker set is signed by key ${answer.keyId}, not the pinned ${trust.keyId}`);
  }
  let ok = false;
  try {
    ok = verify(null, Buffer.from(bytes, 'utf8'), key, Buffer.from(signature, 'base64'));
  } catch {}
  if (!ok) throw new VerificationError('bad signature on the host tracker set');
  let statement: TrackerStatement;
  try {
    statement = JSON.parse(bytes) as TrackerStatement;
  } catch {
    throw new VerificationError('the signed host tracker set is not JSON');
  }
  if (canonicalJson(statement) !== bytes) throw new VerificationError('the signed host tracker set is not canonical');
  if (statement.kind !== trackerStatementKind || !Array.isArray(statement.trackers)) {
    throw new VerificationError('the signed statement is not a host tracker set');
  }
  const expires = Date.parse(statement.expiresAt);
  if (!Number.isFinite(expires) || (opts.now ?? Date.now()) > expires + desiredClockSkewMs) {
    throw new VerificationError(
      `the host tracker set expired at ${statement.expiresAt}: a stale or replayed answer, or this host's clock is wrong`,
    );
  }
  if (opts.environment && statement.environment !== opts.environment) {
    throw new VerificationError(
      `the host tracker set is signed for environment "${statement.environment}", but this agent is in "${opts.environment}"`,
    );
  }
  for (const t of statement.trackers) {
    const strategy = t?.spec?.resources?.strategy;
    if (!hostStrategies.has(strategy as string) || typeof t.spec.name !== 'string') {
      throw new VerificationError(`the signed set holds a tracker that is not a host tracker (${String(strategy)})`);
    }
  }
  return statement;
}
