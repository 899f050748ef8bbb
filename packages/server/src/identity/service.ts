import { createPublicKey, randomBytes } from 'node:crypto';
import type { AgentEnrollBody, AgentEnrolled, AgentIdentity, IdentityQuery } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import { recordAudit } from '../audit/audit-log.ts';
import { hashToken, instanceCredentialPrefix, type Principal } from '../auth/tokens.ts';
import type { Tables } from '../db/tables.ts';
import { uniqueOr } from '../db/unique.ts';
import { Conflict, Forbidden, Invalid, NotFound } from '../errors.ts';
import * as store from './store.ts';

export type IdentityService = ReturnType<typeof createIdentityService>;

/** A new instance credential: 256 random bits, stored only as SHA-256 like tokens. */
export function generateInstanceCredential(): string {
  return `${instanceCredentialPrefix}${randomBytes(32).toString('base64url')}`;
}

/** The agent's public key as canonical SPKI PEM; only Ed25519 keys are taken. */
function normalPublicKey(pem: string): string {
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new Invalid('publicKey is not a PEM public key');
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Invalid(`publicKey must be an Ed25519 key (SPKI PEM), not ${key.asymmetricKeyType}`);
  }
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

function audited(row: Tables['agent_identities']) {
  return {
    instanceId: row.instance_id,
    environment: row.environment,
    profile: row.profile,
    tokenId: row.token_id,
    enrolledAt: row.enrolled_at,
    revokedAt: row.revoked_at,
  };
}

export function createIdentityService(deps: { db: Kysely<Tables>; now?: () => number }) {
  const { db } = deps;
  const iso = () => new Date(deps.now?.() ?? Date.now()).toISOString();

  return {
    /**
     * Enrols an instance with an agent token. An instance enrolled and not revoked is refused (409):
     * only an admin's revocation frees its id, so a leaked token cannot take over a running instance.
     */
    async enroll(agent: Principal, body: AgentEnrollBody): Promise<AgentEnrolled> {
      if (agent.role !== 'agent' || agent.kind !== 'agent' || !agent.environment) {
        throw new Forbidden('instances are enrolled with an agent token bound to an environment');
      }
      const environment = agent.environment;
      const publicKey = body.publicKey === undefined ? null : normalPublicKey(body.publicKey);
      const credential = generateInstanceCredential();
      const at = iso();
      const row: Tables['agent_identities'] = {
        instance_id: body.instanceId,
        environment,
        profile: agent.profile ?? null,
        token_id: agent.tokenId,
        credential_hash: hashToken(credential),
        public_key: publicKey,
        enrolled_at: at,
        revoked_at: null,
        last_used_at: null,
      };
      const taken = `instance "${body.instanceId}" is already enrolled; to enrol it again (a lost credential), an admin revokes it first: flotilla instance revoke ${body.instanceId}`;
      await db.transaction().execute(async (tx) => {
        const maxInstances = await store.lockToken(tx, agent.tokenId, at);
        if (maxInstances === undefined) throw new Forbidden(`the agent token "${agent.name}" is gone`);
        const existing = await store.findIdentity(tx, body.instanceId);
        if (existing && !existing.revokedAt) throw new Conflict(taken);
        const reported = await store.reportedEnvironment(tx, body.instanceId);
        if (reported !== undefined && reported !== environment) {
          throw new Conflict(
            `instance "${body.instanceId}" reports to environment "${reported}"; this token is for "${environment}"`,
          );
        }
        if (maxInstances !== null) {
          const live = await store.countLiveIdentities(tx, agent.tokenId);
          if (live >= maxInstances) {
            throw new Forbidden(
              `the agent token "${agent.name}" may enrol at most ${maxInstances} instance(s) and has ${live}; revoke one (flotilla instance revoke <id>) or use another token`,
            );
          }
        }
        if (existing) {
          if (!(await store.replaceRevokedIdentity(tx, row))) throw new Conflict(taken);
        } else {
          await uniqueOr(taken, () => store.insertIdentity(tx, row));
        }
        await recordAudit(tx, {
          actor: agent,
          action: 'instance.enroll',
          target: `instance:${body.instanceId}`,
          ...(existing ? { before: { revokedAt: existing.revokedAt, tokenId: existing.tokenId } } : {}),
          after: audited(row),
        });
      });
      return { instanceId: body.instanceId, environment, profile: row.profile, credential, enrolledAt: at };
    },

    /** Revokes an instance's identity: its credential gets 401 from the next request on. */
    async revoke(actor: Principal, instanceId: string): Promise<AgentIdentity> {
      return db.transaction().execute(async (tx) => {
        const found = await store.findIdentity(tx, instanceId);
        if (!found) throw new NotFound(`instance "${instanceId}" is not enrolled`);
        if (found.revokedAt) return found;
        const at = iso();
        await store.revokeIdentity(tx, instanceId, at);
        await recordAudit(tx, {
          actor,
          action: 'instance.revoke',
          target: `instance:${instanceId}`,
          before: { revokedAt: null },
          after: { revokedAt: at },
        });
        return { ...found, revokedAt: at };
      });
    },

    async list(query: IdentityQuery): Promise<AgentIdentity[]> {
      return store.listIdentities(db, {
        environment: query.environment,
        revoked: query.revoked === undefined ? undefined : query.revoked === 'true',
      });
    },

    async get(instanceId: string): Promise<AgentIdentity> {
      const found = await store.findIdentity(db, instanceId);
      if (!found) throw new NotFound(`instance "${instanceId}" is not enrolled`);
      return found;
    },
  };
}
