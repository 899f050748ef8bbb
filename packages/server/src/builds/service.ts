// Build jobs as the API offers them: queued by developers, listed and read by viewers, cancelled.
import type {
  BuildCreate,
  BuildJob,
  BuildListQuery,
  BuildSource,
  ClientBuildCreate,
  ConsumerClientBuildCreate,
} from '@flotilla/protocol';
import { finishedBuildStates } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import { recordAudit } from '../audit/audit-log.ts';
import { actorLabel, type Principal } from '../auth/tokens.ts';
import type { Tables } from '../db/tables.ts';
import { isUniqueViolation } from '../db/unique.ts';
import { DomainError, Invalid, NotFound, Unavailable } from '../errors.ts';
import { checkPrivatePath } from '../service-private-files/service.ts';
import type { BuildRunner } from './runner.ts';
import {
  countActiveFor,
  countQueued,
  finishBuild,
  getBuild,
  insertBuild,
  listBuilds,
  type NewBuild,
  redactUrl,
} from './store.ts';

/** Jobs waiting at once; more are refused rather than kept. */
export const maxQueuedBuilds = 100;
/** One consumer's jobs queued or running at once, so no consumer can hold the queue. */
export const maxActivePerConsumer = 3;

export function createBuildService(opts: { db: Kysely<Tables>; runner: BuildRunner }) {
  const { db, runner } = opts;
  // One create at a time in this process: ids are max + 1. Another server on the same database may
  // take the same id first; the whole transaction is then tried again with the next one.
  let serial: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const once = async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await work();
        } catch (err) {
          if (attempt >= 5 || !isUniqueViolation(err)) throw err;
        }
      }
    };
    const next = serial.then(once, once);
    serial = next.catch(() => {});
    return next;
  };

  const live = (job: BuildJob): BuildJob => {
    const bytes = runner.liveLogBytes(job.id);
    return bytes === undefined ? job : { ...job, logBytes: bytes };
  };

  async function get(id: number): Promise<BuildJob> {
    const job = await getBuild(db, id);
    if (!job) throw new NotFound(`no build ${id}`);
    return live(job);
  }

  async function requireService(service: string): Promise<void> {
    const exists = await db.selectFrom('services').select('name').where('name', '=', service).executeTakeFirst();
    if (!exists) throw new NotFound(`no service "${service}"`);
  }

  function checkSourcesAndMacros(sources: BuildSource[], macros: Record<string, string>, what: string): void {
    const names = new Set(sources.map((s) => s.name));
    if (names.size !== sources.length) throw new Invalid(`two ${what} have the same name`);
    for (const name of Object.keys(macros)) {
      if (name === 'version' || name === 'role') {
        throw new Invalid(`macro ${name}: %%${name}%% is set by the build and the agent`);
      }
    }
  }

  async function checkPrivateFiles(service: string, paths: string[] | undefined): Promise<string[]> {
    const files = [...new Set(paths ?? [])].map(checkPrivatePath);
    if (files.length === 0) return files;
    const stored = await db
      .selectFrom('private_files')
      .select('path')
      .where('service', '=', service)
      .where('path', 'in', files)
      .execute();
    const have = new Set(stored.map((r) => r.path));
    const missing = files.filter((f) => !have.has(f));
    if (missing.length > 0) throw new Invalid(`service "${service}" has no private file "${missing[0]}"`);
    return files;
  }

  /** A client build starts from a developer version that exists now (it may still go before the job runs). */
  async function checkDeveloperVersion(service: string, from: string): Promise<void> {
    const row = await db
      .selectFrom('service_versions')
      .select('kind')
      .where('service', '=', service)
      .where('version', '=', from)
      .executeTakeFirst();
    if (!row) throw new NotFound(`service "${service}" has no version ${from}`);
    if (row.kind === 'client')
      throw new Invalid(`${from} is a client version; a client version is made from a developer version`);
  }

  function requireRunner(): void {
    if (!runner.configured) {
      throw new Unavailable(
        "this server does not run builds: start `flotilla server` with --build-concurrency 1 or more (build commands run as the server's OS user), or build with --local",
      );
    }
  }

  /** Queues one job with its audit record, at most `maxQueuedBuilds` waiting. */
  async function enqueue(actor: Principal, build: NewBuild, action: string): Promise<BuildJob> {
    const job = await serially(() =>
      db.transaction().execute(async (tx) => {
        if ((await countQueued(tx)) >= maxQueuedBuilds) {
          throw new DomainError('rate_limited', `${maxQueuedBuilds} builds are queued already; try again later`, {
            'retry-after': '60',
          });
        }
        if (build.consumer !== null && (await countActiveFor(tx, build.consumer)) >= maxActivePerConsumer) {
          throw new DomainError(
            'rate_limited',
            `consumer "${build.consumer}" has ${maxActivePerConsumer} builds queued or running; wait for one to end`,
            { 'retry-after': '60' },
          );
        }
        const made = await insertBuild(tx, build, new Date().toISOString());
        await recordAudit(tx, {
          actor,
          action,
          target: `service:${build.service}`,
          after: {
            id: made.id,
            ...(made.from !== null ? { from: made.from } : { version: made.version }),
            ...(made.consumer !== null ? { consumer: made.consumer } : {}),
            sources: build.sources.map((s) => ({ ...s, url: redactUrl(s.url) })),
            privateFiles: build.privateFiles,
            setDesired: made.setDesired,
          },
        });
        return made;
      }),
    );
    runner.kick();
    return job;
  }

  return {
    get,

    async list(q: BuildListQuery & { consumer?: string }): Promise<BuildJob[]> {
      return (await listBuilds(db, q)).map(live);
    },

    async create(actor: Principal, service: string, body: BuildCreate): Promise<BuildJob> {
      requireRunner();
      await requireService(service);
      checkSourcesAndMacros(body.sources, body.macros ?? {}, 'sources');
      const privateFiles = await checkPrivateFiles(service, body.privateFiles);
      return enqueue(
        actor,
        {
          kind: 'version',
          service,
          from: null,
          consumer: null,
          version: body.version ?? null,
          sources: body.sources,
          macros: body.macros ?? {},
          privateFiles,
          setDesired: body.setDesired ?? null,
          tagSources: body.tagSources === true,
          requestedBy: actorLabel(actor),
        },
        'build.create',
      );
    },

    /** A client version of `service` made on the server, from `from` with the settings repositories. */
    async createClient(actor: Principal, service: string, body: ClientBuildCreate): Promise<BuildJob> {
      requireRunner();
      await requireService(service);
      checkSourcesAndMacros(body.settings, body.macros ?? {}, 'settings');
      await checkDeveloperVersion(service, body.from);
      const privateFiles = await checkPrivateFiles(service, body.privateFiles);
      return enqueue(
        actor,
        {
          kind: 'client',
          service,
          from: body.from,
          consumer: null,
          version: null,
          sources: body.settings,
          macros: body.macros ?? {},
          privateFiles,
          setDesired: body.setDesired ?? null,
          requestedBy: actorLabel(actor),
        },
        'build.create',
      );
    },

    /**
     * A client build a consumer server asked for (its service and developer version checked against
     * its profile by the caller): the client version is offered to that consumer alone.
     */
    async createForConsumer(consumer: string, body: ConsumerClientBuildCreate): Promise<BuildJob> {
      requireRunner();
      await requireService(body.service);
      checkSourcesAndMacros(body.settings, body.macros ?? {}, 'settings');
      if (body.settings.some((s) => s.submodules)) throw new Invalid('settings repositories have no submodules');
      await checkDeveloperVersion(body.service, body.from);
      const actor: Principal = { tokenId: `consumer:${consumer}`, name: `consumer:${consumer}`, role: 'developer' };
      return enqueue(
        actor,
        {
          kind: 'client',
          service: body.service,
          from: body.from,
          consumer,
          version: null,
          sources: body.settings,
          macros: body.macros ?? {},
          privateFiles: [],
          setDesired: null,
          requestedBy: `consumer:${consumer}`,
        },
        'build.create',
      );
    },

    /** A queued job is dropped, a running one's builder stopped; a finished one is left as it is. */
    async cancel(actor: Principal, id: number): Promise<BuildJob> {
      const job = await get(id);
      if (finishedBuildStates.includes(job.state)) return job;
      await recordAudit(db, { actor, action: 'build.cancel', target: `service:${job.service}`, before: { id } });
      const at = new Date().toISOString();
      const dropped = await finishBuild(db, id, ['queued'], { state: 'cancelled', at, error: 'cancelled' });
      if (!dropped) await runner.cancel(id);
      return get(id);
    },
  };
}

export type BuildService = ReturnType<typeof createBuildService>;
