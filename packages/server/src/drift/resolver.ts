import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { type DriftUpstreamConfig, defaultDriftUpstreams } from '../config/drift-upstreams.ts';
import type { Tables } from '../db/tables.ts';
import { type Commit, type PendingRow, ResolutionStore, type ResolvedRow } from './resolution-store.ts';
import { type Comparison, compare, unknownComparison } from './resolver-compare.ts';
import { type UpstreamTarget, upstreamTargets } from './resolver-upstreams.ts';
import { DatabaseUpstreamStateStore } from './store.ts';
import { createUpstreamPolicy, type UpstreamPolicy } from './upstream-policy.ts';
import { UpstreamCache, type UpstreamEntry, type UpstreamStateStore } from './upstreams/cache.ts';
import { UpstreamError } from './upstreams/fetcher.ts';
import type { ListResult } from './upstreams/types.ts';

/** Outcome of one upstream request, for `flotilla_drift_upstream_fetches_total`. */
export type FetchOutcome = 'ok' | 'not_modified' | UpstreamError['kind'] | 'error';

export interface ResolverOptions {
  db: Kysely<Tables>;
  /** How comparison batches commit (the server's durable commit keeps SQLite's fsync off the event loop). */
  commit?: Commit;
  config?: DriftUpstreamConfig;
  logger?: Pick<Logger, 'warn'>;
  /** Replaces the policy built from `config.allowHosts` (tests inject a resolver of host names). */
  policy?: UpstreamPolicy;
  /** Upstream state (default: the main database, shared by replicas). */
  stateStore?: UpstreamStateStore;
  /** Rows compared per pass (default 300). */
  batchSize?: number;
  /** Upstreams fetched at once within a pass (default 4). */
  concurrency?: number;
  /** Called once per upstream request with its provider and outcome. */
  onFetch?: (provider: string, outcome: FetchOutcome) => void;
  now?: () => number;
}

export interface RunResult {
  /** Rows written. */
  resolved: number;
  /** Distinct upstreams asked for (from the cache, or fetched). */
  upstreams: number;
}

/**
 * Compares reported subjects with their upstreams and writes the result on each row. `runOnce` works
 * through the rows waiting (`resolved_at` null); `refresh` asks each upstream in use again (one fetch
 * per key per TTL, shared by replicas) and queues the rows of every key whose list changed.
 */
export function createResolver(opts: ResolverOptions) {
  const config = opts.config ?? defaultDriftUpstreams;
  const now = opts.now ?? Date.now;
  const store = new ResolutionStore(opts.db, opts.commit);
  const states = opts.stateStore ?? new DatabaseUpstreamStateStore(opts.db);
  const cache = new UpstreamCache({ store: states, ttlMs: config.ttlMs, now });
  // A registry whose base URL the operator configured is trusted like a listed host.
  const configuredHosts = Object.values(config.registries).flatMap((r) => (r.baseUrl ? [new URL(r.baseUrl).host] : []));
  const policy = opts.policy ?? createUpstreamPolicy({ allowHosts: [...config.allowHosts, ...configuredHosts] });
  const targetOf = upstreamTargets(config, policy);
  const batchSize = opts.batchSize ?? 300;
  const concurrency = opts.concurrency ?? 4;

  const counted = (target: UpstreamTarget) => async (state: Parameters<UpstreamTarget['list']>[0]) => {
    let result: ListResult;
    try {
      result = await target.list(state);
    } catch (error) {
      opts.onFetch?.(target.provider, error instanceof UpstreamError ? error.kind : 'error');
      throw error;
    }
    opts.onFetch?.(target.provider, result.notModified ? 'not_modified' : 'ok');
    return result;
  };

  /** The upstream's list through the cache, after the policy allowed its URL (a refusal is never a fetch). */
  async function entryOf(target: UpstreamTarget): Promise<UpstreamEntry> {
    try {
      if (target.checkUrl) await policy.check(target.checkUrl);
    } catch (error) {
      // Only a refusal stops here; a name that does not resolve now is a fetch failure like any other
      // (the guard refuses it again inside the fetch), kept with backoff and retried.
      if (!(error instanceof UpstreamError) || error.kind === 'refused') throw error;
    }
    return cache.get(target.key, counted(target));
  }

  /** Compares a group's rows with their upstream; rows with the same content share one comparison. */
  async function resolveGroup(target: UpstreamTarget, rows: PendingRow[]): Promise<ResolvedRow[]> {
    let entry: UpstreamEntry | undefined;
    let refusal: string | undefined;
    try {
      entry = await entryOf(target);
    } catch (error) {
      refusal = error instanceof Error ? error.message : String(error);
    }
    const same = new Map<string, Comparison>();
    return rows.map((row) => {
      const content = JSON.stringify([row.versions, row.upstream]);
      let c = same.get(content);
      if (!c) {
        c = unknownComparison(row.versions, refusal ?? entry?.error ?? 'no upstream list yet');
        if (entry?.versions) {
          c = compare(row.versions, entry.versions, row.upstream);
          if (entry.error) {
            const age = entry.ageMs === null ? '' : ` from ${Math.round(entry.ageMs / 60_000)} min ago`;
            const note = `upstream fetch failed, using the list${age}: ${entry.error}`;
            c = { ...c, error: c.error ? `${note}; ${c.error}` : note };
          }
        }
        same.set(content, c);
      }
      return { row, upstreamKey: target.key, comparison: c };
    });
  }

  async function inParallel<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < items.length) await fn(items[next++] as T);
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  }

  async function runOnce(): Promise<RunResult> {
    const rows = await store.pending(batchSize);
    const groups = new Map<string, { target: UpstreamTarget; rows: PendingRow[] }>();
    const results: ResolvedRow[] = [];
    for (const row of rows) {
      let target: UpstreamTarget | null;
      try {
        target = targetOf(row.upstream, row.versions);
      } catch (error) {
        // The reference names no upstream (no repo, a bad image): said on the row, never retried.
        results.push({ row, upstreamKey: null, comparison: unknownComparison(row.versions, (error as Error).message) });
        continue;
      }
      if (target === null) {
        const nothing = { ...unknownComparison(row.versions, ''), behind: null, error: null };
        results.push({ row, upstreamKey: null, comparison: nothing });
        continue;
      }
      const group = groups.get(target.key) ?? { target, rows: [] };
      group.rows.push(row);
      groups.set(target.key, group);
    }
    await inParallel([...groups.values()], async (g) => {
      results.push(...(await resolveGroup(g.target, g.rows)));
    });
    return { resolved: await store.writeAll(results, now()), upstreams: groups.size };
  }

  /** Asks every upstream in use (the cache fetches only past the TTL); a changed list re-queues its rows. */
  async function refresh(): Promise<{ changed: string[] }> {
    const changed: string[] = [];
    await inParallel(await store.keys(), async (k) => {
      let target: UpstreamTarget | null;
      try {
        target = targetOf(k.upstream, k.versions);
      } catch {
        return;
      }
      if (target === null || target.key !== k.key) return;
      const before = await states.get(k.key);
      try {
        await entryOf(target);
      } catch {
        return; // refused by the policy: its rows already say so
      }
      const after = await states.get(k.key);
      if (JSON.stringify(before?.versions ?? null) !== JSON.stringify(after?.versions ?? null)) {
        await store.invalidate(k.key);
        changed.push(k.key);
      }
    });
    return { changed };
  }

  /**
   * Runs `runOnce` every `intervalMs` and `refresh` every `refreshMs`, one run at a time, on unref'd
   * timers; the returned stop waits for a run under way. With `when`, a tick runs only while it says
   * so (the leading replica: one set of upstream fetches for the cluster, not one per replica).
   */
  function start(options: { intervalMs?: number; refreshMs?: number; when?: () => boolean } = {}): () => Promise<void> {
    const intervalMs = options.intervalMs ?? 2000;
    const refreshMs = options.refreshMs ?? Math.min(config.ttlMs, 60_000);
    let running: Promise<unknown> = Promise.resolve();
    let busy = false;
    let lastRefresh = now();
    const run = () => {
      if (busy || (options.when && !options.when())) return;
      busy = true;
      running = (async () => {
        try {
          if (now() - lastRefresh >= refreshMs) {
            lastRefresh = now();
            await refresh();
          }
          // A full batch means more are waiting: keep going without waiting for the next tick.
          for (let i = 0; i < 100; i++) {
            const result = await runOnce();
            if (result.resolved + result.upstreams === 0 || result.resolved < batchSize / 2) break;
          }
        } catch (error) {
          opts.logger?.warn({ err: error }, 'drift upstream resolution failed');
        } finally {
          busy = false;
        }
      })();
    };
    const timer = setInterval(run, intervalMs);
    timer.unref();
    run();
    return async () => {
      clearInterval(timer);
      await running;
    };
  }

  return { runOnce, refresh, start, cache, store };
}

export type Resolver = ReturnType<typeof createResolver>;
