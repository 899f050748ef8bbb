// Verification of the server's signed desired answer against the pinned key, before the agent acts on it.
import { verify } from 'node:crypto';
import type { AgentDesired, DesiredStatement } from '@flotilla/protocol';
import { canonicalJson } from '@flotilla/protocol/canonical-json';
import { pinnedKey, type TrustedKey, VerificationError } from './verify.ts';

/** Clocks of agent and server may differ by this much before an answer counts as expired. */
export const desiredClockSkewMs = 5 * 60_000;

/**
 * Checks that `answer` carries a statement signed by the pinned key, that the statement is current
 * (not expired, allowing clock skew), and that the answer says exactly what the statement says:
 * environment, revision, and each service's version, digest and size, also inside its signed manifest
 * (whose bytes the update transaction verifies and checks the artifact against). Throws VerificationError.
 */
export function verifyDesired(
  trust: TrustedKey,
  answer: AgentDesired,
  opts: { now?: number; skewMs?: number; environment?: string } = {},
): DesiredStatement {
  const { statement: bytes, signature } = answer;
  if (typeof bytes !== 'string' || typeof signature !== 'string' || !bytes || !signature) {
    throw new VerificationError('the desired list is not signed (is the server older than this agent?)');
  }
  const key = pinnedKey(trust);
  if (trust.keyId && answer.keyId !== trust.keyId) {
    throw new VerificationError(`the desired list is signed by key ${answer.keyId}, not the pinned ${trust.keyId}`);
  }
  let ok = false;
  try {
    ok = verify(null, Buffer.from(bytes, 'utf8'), key, Buffer.from(signature, 'base64'));
  } catch {}
  if (!ok) throw new VerificationError('bad signature on the desired list');
  let statement: DesiredStatement;
  try {
    statement = JSON.parse(bytes) as DesiredStatement;
  } catch {
    throw new VerificationError('the signed desired statement is not JSON');
  }
  if (canonicalJson(statement) !== bytes) throw new VerificationError('the signed desired statement is not canonical');
  const expires = Date.parse(statement.expiresAt);
  const now = opts.now ?? Date.now();
  if (!Number.isFinite(expires) || now > expires + (opts.skewMs ?? desiredClockSkewMs)) {
    throw new VerificationError(
      `the desired list (revision ${statement.revision}) expired at ${statement.expiresAt}: a stale or replayed answer, or this host's clock is wrong`,
    );
  }
  if (opts.environment !== undefined && statement.environment !== opts.environment) {
    throw new VerificationError(
      `the desired list is signed for environment "${statement.environment}", but this agent is in "${opts.environment}"`,
    );
  }
  if (answer.environment !== statement.environment || answer.revision !== statement.revision) {
    throw new VerificationError(
      `the answer says ${answer.environment} revision ${answer.revision}, the signature covers ${statement.environment} revision ${statement.revision}`,
    );
  }
  matchServices(answer, statement);
  return statement;
}

/** The answer's services must be exactly the signed ones, field by field. */
function matchServices(answer: AgentDesired, statement: DesiredStatement): void {
  const signed = new Map(statement.services.map((s) => [s.service, s]));
  if (!Array.isArray(answer.services) || signed.size !== statement.services.length) {
    throw new VerificationError('the signed desired statement lists a service twice');
  }
  const seen = new Set<string>();
  for (const s of answer.services) {
    const want = signed.get(s.service);
    const named = `${s.service} ${s.version}`;
    if (!want || seen.has(s.service)) throw new VerificationError(`${named} is not in the signed desired list`);
    seen.add(s.service);
    if (want.version !== s.version) {
      throw new VerificationError(`the answer offers ${named}, the signed desired list says ${want.version}`);
    }
    let manifest: { service?: unknown; version?: unknown; digest?: unknown; size?: unknown } = {};
    try {
      manifest = JSON.parse(s.signedManifest) as typeof manifest;
    } catch {}
    for (const [what, value] of [
      ['digest', s.digest],
      ['size', s.size],
      ['manifest digest', manifest.digest],
      ['manifest size', manifest.size],
    ] as const) {
      const expected = what.endsWith('digest') ? want.digest : want.size;
      if (value !== expected) {
        throw new VerificationError(`${named}: its ${what} ${String(value)} is not the signed ${String(expected)}`);
      }
    }
    if (manifest.service !== s.service || manifest.version !== s.version) {
      throw new VerificationError(`${named}: its signed manifest names another version`);
    }
  }
  if (seen.size !== signed.size) {
    const missing = [...signed.keys()].filter((name) => !seen.has(name));
    throw new VerificationError(`the answer leaves out signed services: ${missing.join(', ')}`);
  }
}
