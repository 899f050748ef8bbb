import type {
  MeshCertificate,
  MeshCertificateRequest,
  MeshEnvironment,
  MeshEnvironmentSettings,
  MeshPairSeries,
  MeshPairSummary,
  MeshPeers,
  MeshPhase,
  MeshSummaryAnswer,
  MeshSummaryReport,
  MeshView,
} from '@flotilla/protocol';
import { meshLimits } from '@flotilla/protocol';
import type { Kysely, Transaction } from 'kysely';
import { recordAudit } from '../audit/audit-log.ts';
import type { AgentScope } from '../auth/hook.ts';
import { actorLabel, type Principal } from '../auth/tokens.ts';
import type { Tables } from '../db/tables.ts';
import { Forbidden, Invalid, NotFound } from '../errors.ts';
import { flagUnreachable, nodeState, pairTotals, partitionsOf } from './analysis.ts';
import { meshCaLoader } from './ca.ts';
import * as store from './store.ts';

export interface MeshServiceOptions {
  db: Kysely<Tables>;
  commit?: <T>(work: (tx: Transaction<Tables>) => Promise<T>) => Promise<T>;
  /** Where the mesh CA lives (`<dataDir>/mesh/ca.pem`). */
  dataDir: string;
  /** Summaries older than this are deleted (and refused when sent). */
  retentionMs: number;
  certificateLifetimeMs?: number; // 24 h
  /** A node that reported within this is alive; then stale until `deadAfterMs`, then dead. */
  aliveAfterMs?: number; // 3 min
  deadAfterMs?: number; // 15 min
  now?: () => number;
}

const minuteMs = 60_000;
/** Partitions and unreachable nodes are judged over the last few minutes, whatever the view's window. */
const recentMs = 5 * minuteMs;
/** A minute stamped further ahead than this is a clock fault, refused. */
const futureSlackMs = 2 * minuteMs;

const iso = (ms: number) => new Date(ms).toISOString();
const toEnvironment = (r: store.MeshSettingsRow): MeshEnvironment => ({
  environment: r.environment,
  enabled: r.enabled,
  maxPeersPerRound: r.maxPeersPerRound,
  updatedAt: r.updatedAt === null ? null : iso(r.updatedAt),
  updatedBy: r.updatedBy,
});

export type MeshService = ReturnType<typeof createMeshService>;

export function createMeshService(opts: MeshServiceOptions) {
  const { db } = opts;
  const now = opts.now ?? Date.now;
  const commit = opts.commit ?? (<T>(work: (tx: Transaction<Tables>) => Promise<T>) => db.transaction().execute(work));
  const lifetimeMs = opts.certificateLifetimeMs ?? 24 * 3600_000;
  const aliveMs = opts.aliveAfterMs ?? 3 * minuteMs;
  const deadMs = opts.deadAfterMs ?? 15 * minuteMs;
  const ca = meshCaLoader(opts.dataDir);

  async function enabledFor(environment: string): Promise<store.MeshSettingsRow> {
    const settings = await store.readSettings(db, environment);
    if (!settings.enabled) throw new Forbidden(`the mesh is off in environment "${environment}"`);
    return settings;
  }

  async function mustExist(environment: string): Promise<void> {
    if (!(await store.environmentExists(db, environment)))
      throw new NotFound(`environment "${environment}" does not exist`);
  }

  /** Deletes what is older than the retention; returns the summaries deleted. */
  const prune = () => store.deleteOlderThan(db, now() - opts.retentionMs);

  return {
    prune,

    /** Prunes now and then every `everyMs`; the returned function stops it and waits for a running prune. */
    startRetention(
      onError: (err: unknown) => void,
      opts: { everyMs?: number; when?: () => boolean } = {},
    ): () => Promise<void> {
      const everyMs = opts.everyMs ?? 10 * minuteMs;
      let running: Promise<unknown> = Promise.resolve();
      const run = () => {
        // Only the replica that leads prunes (`when`), so replicas do not delete the same rows.
        if (opts.when && !opts.when()) return;
        running = prune().catch(onError);
      };
      run();
      const timer = setInterval(run, everyMs);
      timer.unref();
      return async () => {
        clearInterval(timer);
        await running;
      };
    },

    async settings(environment: string): Promise<MeshEnvironment> {
      await mustExist(environment);
      return toEnvironment(await store.readSettings(db, environment));
    },

    async listSettings(): Promise<MeshEnvironment[]> {
      return (await store.listSettings(db)).map(toEnvironment);
    },

    async setSettings(actor: Principal, environment: string, body: MeshEnvironmentSettings): Promise<MeshEnvironment> {
      return commit(async (tx) => {
        if (!(await store.environmentExists(tx, environment)))
          throw new NotFound(`environment "${environment}" does not exist`);
        const before = await store.readSettings(tx, environment);
        const row = {
          environment,
          enabled: body.enabled,
          maxPeersPerRound: body.maxPeersPerRound === undefined ? before.maxPeersPerRound : body.maxPeersPerRound,
          at: now(),
          by: actorLabel(actor),
        };
        await store.writeSettings(tx, row);
        const after = { enabled: row.enabled, maxPeersPerRound: row.maxPeersPerRound };
        await recordAudit(tx, {
          actor,
          action: 'mesh.configure',
          target: `env:${environment}`,
          before: { enabled: before.enabled, maxPeersPerRound: before.maxPeersPerRound },
          after,
        });
        return toEnvironment({ ...row, updatedAt: row.at, updatedBy: row.by });
      });
    },

    /** Signs the agent's key for its own instance and environment; the node's address is recorded. */
    async issueCertificate(scope: AgentScope, body: MeshCertificateRequest): Promise<MeshCertificate> {
      const settings = await enabledFor(scope.environment);
      const port = Number(body.address.slice(body.address.lastIndexOf(':') + 1));
      if (!(port >= 1 && port <= 65535)) throw new Invalid(`address: port ${port} is not from 1 to 65535`);
      const at = now();
      const issued = await (await ca()).issue({
        environment: scope.environment,
        instance: scope.instanceId,
        publicKeyPem: body.publicKey,
        lifetimeMs,
        now: new Date(at),
      });
      await store.announceNode(db, {
        instance: scope.instanceId,
        environment: scope.environment,
        address: body.address,
        certificateExpiresAt: issued.expiresAt.getTime(),
        at,
      });
      return {
        certificate: issued.certificatePem,
        caCertificate: (await ca()).certificatePem,
        uri: issued.uri,
        expiresAt: issued.expiresAt.toISOString(),
        renewAfter: iso(at + Math.floor((lifetimeMs * 2) / 3)),
        maxPeersPerRound: settings.maxPeersPerRound,
      };
    },

    /** The environment's other mesh nodes, live first; nothing when the mesh is off. */
    async peers(scope: AgentScope): Promise<MeshPeers> {
      const settings = await store.readSettings(db, scope.environment);
      if (!settings.enabled) return { enabled: false, maxPeersPerRound: null, peers: [], truncated: false };
      const rows = await store.listNodes(db, scope.environment, meshLimits.peers + 1);
      const at = now();
      const peers = rows
        .filter((r) => r.instance_id !== scope.instanceId)
        .map((r) => ({ instance: r.instance_id, address: r.address, state: nodeState(r.seen_at, at, aliveMs, deadMs) }))
        .filter((p) => p.state !== 'dead');
      return {
        enabled: true,
        maxPeersPerRound: settings.maxPeersPerRound,
        peers: peers.slice(0, meshLimits.peers),
        truncated: rows.length > meshLimits.peers,
      };
    },

    async report(scope: AgentScope, body: MeshSummaryReport): Promise<MeshSummaryAnswer> {
      await enabledFor(scope.environment);
      const node = await store.findNode(db, scope.instanceId);
      if (!node || node.environment !== scope.environment)
        throw new Forbidden('ask for a mesh certificate first (POST /api/v1/agent/mesh/certificate)');
      const at = now();
      const oldest = at - opts.retentionMs;
      const known = await store.nodeIds(db, scope.environment);
      const kept: MeshPairSummary[] = [];
      for (const [i, s] of body.summaries.entries()) {
        const field = `summaries[${i}]`;
        if (s.from !== scope.instanceId)
          throw new Forbidden(`${field}.from: "${s.from}" is not this instance ("${scope.instanceId}")`);
        if (s.to === s.from) throw new Invalid(`${field}.to: a node does not measure itself`);
        if (s.failed > s.count) throw new Invalid(`${field}.failed: more than count`);
        if (s.failed < s.count && s.p50 === undefined)
          throw new Invalid(`${field}.p50: required when some probes succeeded`);
        if (s.minute > at + futureSlackMs) throw new Invalid(`${field}.minute: ${iso(s.minute)} is in the future`);
        // Too old to keep, or about a peer the server does not know (it would grow the store unbounded).
        if (s.minute >= oldest && known.has(s.to)) kept.push(s);
      }
      await commit((tx) =>
        store.storeReport(tx, {
          environment: scope.environment,
          instance: scope.instanceId,
          summaries: kept,
          ...(body.eventLoopLag ? { lag: body.eventLoopLag } : {}),
          at,
        }),
      );
      return { stored: kept.length, skipped: body.summaries.length - kept.length };
    },

    async view(environment: string, q: { windowMs: number; phase: MeshPhase; limit: number }): Promise<MeshView> {
      await mustExist(environment);
      const settings = await store.readSettings(db, environment);
      const at = now();
      const until = Math.floor(at / minuteMs) * minuteMs + minuteMs;
      const since = until - Math.ceil(q.windowMs / minuteMs) * minuteMs;
      const rows = await store.listNodes(db, environment, meshLimits.peers);
      const states = new Map(rows.map((r) => [r.instance_id, nodeState(r.seen_at, at, aliveMs, deadMs)]));
      const alive = rows.filter((r) => states.get(r.instance_id) === 'alive').map((r) => r.instance_id);

      const recent = pairTotals(await store.aggregatePairs(db, environment, until - recentMs, until));
      const partitions = partitionsOf(alive, recent.values());
      const flagged = flagUnreachable(alive, recent.values());
      const partitionOf = new Map(partitions.flatMap((group, i) => group.map((n) => [n, i] as const)));

      const pairs = (await store.aggregatePairs(db, environment, since, until))
        .filter((a) => a.phase === q.phase)
        .map((a) => ({
          from: a.from,
          to: a.to,
          count: a.count,
          failed: a.failed,
          loss: a.count > 0 ? a.failed / a.count : 0,
          p50: a.p50,
          p99: a.p99,
          min: a.min,
          max: a.max,
        }))
        .sort((a, b) => (b.p50 ?? Number.POSITIVE_INFINITY) - (a.p50 ?? Number.POSITIVE_INFINITY) || b.loss - a.loss);
      return {
        environment,
        enabled: settings.enabled,
        phase: q.phase,
        from: iso(since),
        to: iso(until),
        nodes: rows
          .map((r) => ({
            instance: r.instance_id,
            address: r.address,
            state: states.get(r.instance_id) ?? 'dead',
            lastSeenAt: iso(r.seen_at),
            certificateExpiresAt: r.certificate_expires_at === null ? null : iso(r.certificate_expires_at),
            eventLoopLag:
              r.lag_p50 === null || r.lag_p99 === null || r.lag_max === null
                ? null
                : { p50: r.lag_p50, p99: r.lag_p99, max: r.lag_max },
            partition: partitionOf.get(r.instance_id) ?? -1,
            flagged: flagged.get(r.instance_id) ?? null,
          }))
          .sort((a, b) => a.instance.localeCompare(b.instance)),
        pairs: pairs.slice(0, q.limit),
        pairsTruncated: pairs.length > q.limit,
        partitions,
        flagged: [...flagged.keys()].sort(),
      };
    },

    async series(q: { environment: string; from: string; to: string; windowMs: number }): Promise<MeshPairSeries> {
      await mustExist(q.environment);
      const since = Math.floor((now() - q.windowMs) / minuteMs) * minuteMs;
      const rows = await store.pairSeries(db, { ...q, since, limit: 4 * 24 * 60 });
      return {
        environment: q.environment,
        from: q.from,
        to: q.to,
        points: rows.map((r) => ({ ...r, minute: iso(r.minute), phase: r.phase as MeshPhase })),
      };
    },
  };
}
