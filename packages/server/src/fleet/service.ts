import type { FleetInstanceRow, FleetQuery, FleetService, FleetVerdict, FleetView } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { type CatalogLookup, catalogLookup } from '../desired/catalog-lookup.ts';
import { createInstanceService } from '../desired/instances-service.ts';
import { createDesiredService } from '../desired/service.ts';
import { type RecentFaults, recentFaultsPerService } from '../faults/store.ts';
import { calmVerdicts, crashLoopWindowMs, faultsNotRestarts, verdictOf } from './verdict.ts';

export const fleetVerdicts: FleetVerdict[] = [
  'ok',
  'not-desired-yet',
  'stale',
  'not-reported',
  'updating',
  'failed',
  'stopped',
  'behind',
  'crash-looping',
];
/** Row order: alerts first, then instances waiting for their wave, then `ok`; by instance id within each. */
const rank = (v: FleetVerdict) => (v === 'ok' ? 2 : v === 'not-desired-yet' ? 1 : 0);
const pageSize = 1000;
/** Bounds the instance paging loop: 1000 pages of 1000 instances per environment. */
const maxPages = 1000;

export interface FleetServiceDeps {
  db: Kysely<Tables>;
  /** How long an instance may stay silent before it is stale. */
  expiryMs?: number;
  now?: () => Date;
  lookup?: CatalogLookup;
}

type InstanceView = Awaited<ReturnType<ReturnType<typeof createInstanceService>['list']>>['instances'][number];

/** The fleet view: per environment and desired service, what each instance runs and where the path breaks. */
export function createFleetService(deps: FleetServiceDeps) {
  const lookup = deps.lookup ?? catalogLookup;
  const desired = createDesiredService({ db: deps.db, lookup, now: deps.now });
  const instances = createInstanceService({ db: deps.db, expiryMs: deps.expiryMs, now: deps.now });

  async function environmentInstances(environment: string): Promise<InstanceView[]> {
    const all: InstanceView[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < maxPages; page++) {
      const res = await instances.list({ environment, limit: pageSize, cursor });
      all.push(...res.instances);
      if (!res.nextCursor) break;
      cursor = res.nextCursor;
    }
    return all;
  }

  /** The version map each instance is served; one lookup per instance only while a rollout serves several. */
  async function servedRevisions(environment: string, current: number, list: InstanceView[]) {
    const byInstance = new Map<string, number>();
    const everyone = await desired.agentRevision(environment);
    for (const inst of list) {
      const revision =
        everyone === current ? current : ((await desired.agentRevision(environment, inst.instanceId)) ?? current);
      byInstance.set(inst.instanceId, revision);
    }
    const maps = new Map<number, Record<string, string>>();
    for (const revision of new Set(byInstance.values())) {
      maps.set(revision, (await desired.getDesired(environment, revision)).versions);
    }
    return (instanceId: string) => {
      const revision = byInstance.get(instanceId) ?? current;
      return { revision, versions: maps.get(revision) ?? {} };
    };
  }

  /** Services an instance's profile admits; undefined admits all (no profile). */
  function profileFilter() {
    const cache = new Map<string, Promise<Set<string>>>();
    return async (profile: string | null): Promise<Set<string> | undefined> => {
      if (profile === null || !lookup.profileServices) return undefined;
      let found = cache.get(profile);
      if (!found) {
        found = lookup.profileServices(deps.db, profile).then((s) => new Set(s ?? []));
        cache.set(profile, found);
      }
      return found;
    };
  }

  return {
    async view(query: FleetQuery): Promise<FleetView> {
      const limit = query.limit ?? 200;
      const alertsOnly = query.alerts === 'true';
      // One instance: its own environment only (a 404 when it never reported).
      const one = query.instance === undefined ? undefined : await instances.get(query.instance);
      const named = query.environment ?? one?.environment;
      const environments =
        named === undefined
          ? (await desired.listEnvironments()).map((e) => e.name)
          : [(await desired.getEnvironment(named)).name];
      const admits = profileFilter();
      // Every environment's recent faults in one query, keyed by environment, instance and service.
      const faults = new Map<string, RecentFaults>();
      const since = (deps.now?.() ?? new Date()).getTime() - crashLoopWindowMs;
      for (const f of await recentFaultsPerService(deps.db, {
        since,
        environment: named,
        instanceId: query.instance,
        exceptReasons: faultsNotRestarts,
      })) {
        faults.set(JSON.stringify([f.environment, f.instanceId, f.service]), f);
      }
      const services: FleetService[] = [];
      for (const environment of environments) {
        const current = await desired.getDesired(environment);
        const names = Object.keys(current.versions)
          .filter((s) => query.service === undefined || s === query.service)
          .sort();
        if (names.length === 0) continue;
        const list = one ? [one].filter((i) => i.environment === environment) : await environmentInstances(environment);
        const servedOf = await servedRevisions(environment, current.revision, list);
        for (const service of names) {
          const environmentDesired = current.versions[service] as string;
          const counts: Record<string, number> = Object.fromEntries(fleetVerdicts.map((v) => [v, 0]));
          const rows: FleetInstanceRow[] = [];
          for (const inst of list) {
            const only = await admits(inst.profile);
            if (only && !only.has(service)) continue;
            const served = servedOf(inst.instanceId);
            const report = inst.services.find((s) => s.service === service);
            const desiredVersion = served.versions[service] ?? null;
            const recent = faults.get(JSON.stringify([environment, inst.instanceId, service]));
            const { verdict, reason } = verdictOf({
              service,
              stale: inst.stale,
              report,
              desired: desiredVersion,
              environmentDesired,
              servedOlder: served.revision < current.revision,
              faults: recent,
            });
            counts[verdict] = (counts[verdict] ?? 0) + 1;
            if (alertsOnly && calmVerdicts.includes(verdict)) continue;
            rows.push({
              instanceId: inst.instanceId,
              labels: inst.labels,
              lastSeenAt: inst.lastSeenAt,
              stale: inst.stale,
              desiredVersion,
              version: report?.version ?? null,
              targetVersion: report?.targetVersion ?? null,
              state: report?.state ?? null,
              updateError: report?.updateError ?? null,
              failureCount: report?.failureCount ?? 0,
              verdict,
              reason,
              recentFaults: recent?.count ?? 0,
              lastFault: recent ? { ...recent.newest, time: new Date(recent.newest.time).toISOString() } : null,
            });
          }
          // The list is already in instance id order, and the sort is stable.
          rows.sort((a, b) => rank(a.verdict) - rank(b.verdict));
          services.push({
            environment,
            service,
            desiredVersion: environmentDesired,
            counts,
            instances: rows.slice(0, limit),
          });
        }
      }
      return { services };
    },
  };
}
