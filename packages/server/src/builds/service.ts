// Build jobs as the API offers them: queued by developers, listed and read by viewers, cancelled.
import type { BuildCreate, BuildJob, BuildListQuery } from '@flotilla/protocol';
import { finishedBuildStates } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import { recordAudit } from '../audit/audit-log.ts';
import { actorLabel, type Principal } from '../auth/tokens.ts';
import type { Tables } from '../db/tables.ts';
import { isUniqueViolation } from '../db/unique.ts';
import { DomainError, Invalid, NotFound, Unavailable } from '../errors.ts';
import { checkPrivatePath } from '../service-private-files/service.ts';
import type { BuildRunner } from './runner.ts';
import { countQueued, finishBuild, getBuild, insertBuild, listBuilds, redactUrl } from './store.ts';

/** Jobs waiting at once; more are refused rather than kept. */
export const maxQueuedBuilds = 100;

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

  async function checkRequest(service: string, body: BuildCreate): Promise<string[]> {
    const exists = await db.selectFrom('services').select('name').where('name', '=', service).executeTakeFirst();
    if (!exists) throw new NotFound(`no service "${service}"`);
    const names = new Set(body.sources.map((s) => s.name));
    if (names.size !== body.sources.length) throw new Invalid('two sources have the same name');
    for (const name of Object.keys(body.macros ?? {})) {
      if (name === 'version' || name === 'role') {
        throw new Invalid(`macro ${name}: %%${name}%% is set by the build and the agent`);
      }
    }
    const files = [...new Set(body.privateFiles ?? [])].map(checkPrivatePath);
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

  return {
    get,

    async list(q: BuildListQuery): Promise<BuildJob[]> {
      return (await listBuilds(db, q)).map(live);
    },

    async create(actor: Principal, service: string, body: BuildCreate): Promise<BuildJob> {
      if (!runner.configured) {
        throw new Unavailable(
          "this server does not run builds: start `flotilla server` with --build-concurrency 1 or more (build commands run as the server's OS user), or build with `flotilla build --local`",
        );
      }
      const privateFiles = await checkRequest(service, body);
      const job = await serially(() =>
        db.transaction().execute(async (tx) => {
          if ((await countQueued(tx)) >= maxQueuedBuilds) {
            throw new DomainError('rate_limited', `${maxQueuedBuilds} builds are queued already; try again later`, {
              'retry-after': '60',
            });
          }
          const made = await insertBuild(
            tx,
            {
              service,
              version: body.version ?? null,
              sources: body.sources,
              macros: body.macros ?? {},
              privateFiles,
              setDesired: body.setDesired ?? null,
              requestedBy: actorLabel(actor),
            },
            new Date().toISOString(),
          );
          await recordAudit(tx, {
            actor,
            action: 'build.create',
            target: `service:${service}`,
            after: {
              id: made.id,
              version: made.version,
              sources: body.sources.map((s) => ({ ...s, url: redactUrl(s.url) })),
              privateFiles,
              setDesired: made.setDesired,
            },
          });
          return made;
        }),
      );
      runner.kick();
      return job;
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
