// Runs queued build jobs, oldest first, each as a child process of the builder command (the CLI's
// build engine), with a credential that can only publish the job's service and its private files
// decrypted into a work directory of its own.
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { BuildJob, BuildState } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { BuildCredentials } from '../auth/build-credentials.ts';
import type { Principal } from '../auth/tokens.ts';
import type { Tables } from '../db/tables.ts';
import type { PrivateFiles } from '../service-private-files/service.ts';
import { builderArguments, childEnv, failureOf, killGroup } from './builder-process.ts';
import { BoundedLog, buildLogPath, defaultMaxLogBytes } from './log-file.ts';
import { claimNext, failInterrupted, finishBuild } from './store.ts';

/** How the server starts a builder: `command args… build <service> …` (given by `flotilla server`). */
export interface BuilderCommand {
  command: string;
  args: string[];
}

export interface BuildRunnerOptions {
  db: Kysely<Tables>;
  dataDir: string;
  builder: BuilderCommand | null;
  concurrency: number;
  credentials: BuildCredentials;
  privateFiles: Pick<PrivateFiles, 'read'>;
  logger: Logger;
  maxLogBytes?: number;
  /** SIGTERM to SIGKILL on cancel and shutdown. */
  killGraceMs?: number;
  /** The longest a job's credential lives, whatever the job does. */
  credentialTtlMs?: number;
  /** Names this server in the jobs it claims (default `<host>:<data dir>`), so a restart fails only its own. */
  runnerId?: string;
}

interface Running {
  child: ChildProcess;
  token: string;
  log: BoundedLog;
  cancelled: boolean;
  exited: Promise<void>;
  /** Once the job's end is recorded. */
  ended: Promise<void>;
}

const stamp = () => new Date().toISOString();

export class BuildRunner {
  /** `log:<id>` when a job's log grows, `done:<id>` when it ends. */
  readonly events = new EventEmitter();
  readonly #opts: BuildRunnerOptions;
  readonly #running = new Map<number, Running>();
  /** Jobs claimed whose builder is not started yet, and whether a cancel asked for them meanwhile. */
  readonly #launching = new Map<number, boolean>();
  readonly #runnerId: string;
  #url: string | null = null;
  #closed = false;
  #pumping = false;
  #again = false;

  constructor(opts: BuildRunnerOptions) {
    this.#opts = opts;
    this.#runnerId = opts.runnerId ?? `${hostname()}:${opts.dataDir}`;
    this.events.setMaxListeners(0);
  }

  get configured(): boolean {
    return this.#opts.builder !== null;
  }

  /** Fails the jobs a stopped server left running, then takes the queue; `url` is where builders reach the API. */
  async start(url: string): Promise<void> {
    this.#url = url;
    const failed = await failInterrupted(this.#opts.db, stamp(), this.#runnerId);
    for (const id of failed) {
      const log = new BoundedLog(buildLogPath(this.#opts.dataDir, id), Number.POSITIVE_INFINITY);
      log.write(`[${stamp()}] build failed: server stopped\n`);
      log.close();
      rmSync(this.#jobDir(id), { recursive: true, force: true });
    }
    if (failed.length > 0) this.#opts.logger.warn({ builds: failed }, 'builds left running by a stopped server failed');
    this.kick();
  }

  isRunning(id: number): boolean {
    return this.#running.has(id);
  }

  /** Bytes of a running job's log (the table has them once it ends). */
  liveLogBytes(id: number): number | undefined {
    return this.#running.get(id)?.log.bytes;
  }

  /** Takes queued jobs while fewer than `concurrency` run. */
  kick(): void {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    void this.#pump()
      .catch((err: Error) => this.#opts.logger.error({ err }, 'starting a build failed'))
      .finally(() => {
        this.#pumping = false;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  /** Stops a running job's builder (its whole process group); false when the job does not run here. */
  async cancel(id: number): Promise<boolean> {
    const job = this.#running.get(id);
    if (!job && this.#launching.has(id)) {
      this.#launching.set(id, true);
      await once(this.events, `done:${id}`);
      return true;
    }
    if (!job) return false;
    job.cancelled = true;
    // Revoked first, so a builder that is still uploading cannot finish publishing.
    this.#opts.credentials.revoke(job.token);
    this.#stop(job);
    await job.ended;
    return true;
  }

  /** Stops every builder; their jobs stay `running` and fail ("server stopped") at the next start. */
  async close(): Promise<void> {
    this.#closed = true;
    const jobs = [...this.#running.values()];
    for (const job of jobs) {
      this.#opts.credentials.revoke(job.token);
      this.#stop(job);
    }
    await Promise.all(jobs.map((j) => j.ended));
  }

  #stop(job: Running): void {
    killGroup(job.child, 'SIGTERM');
    const kill = setTimeout(() => killGroup(job.child, 'SIGKILL'), this.#opts.killGraceMs ?? 5000);
    kill.unref();
    void job.exited.then(() => clearTimeout(kill));
  }

  #jobDir(id: number): string {
    return join(this.#opts.dataDir, 'builds', 'jobs', String(id));
  }

  async #pump(): Promise<void> {
    const { builder, db } = this.#opts;
    while (!this.#closed && builder && this.#url && this.#running.size < this.#opts.concurrency) {
      const job = await claimNext(db, stamp(), this.#runnerId);
      if (!job) return;
      await this.#launch(job, builder, this.#url);
    }
  }

  async #launch(job: BuildJob, builder: BuilderCommand, url: string): Promise<void> {
    const opts = this.#opts;
    const log = new BoundedLog(buildLogPath(opts.dataDir, job.id), opts.maxLogBytes ?? defaultMaxLogBytes);
    const jobDir = this.#jobDir(job.id);
    const note = (text: string) => {
      log.write(`[${stamp()}] ${text}\n`);
      this.events.emit(`log:${job.id}`);
    };
    note(`build ${job.id} of ${job.service} for ${job.requestedBy}`);
    this.#launching.set(job.id, false);
    let failure: string | undefined;
    try {
      rmSync(jobDir, { recursive: true, force: true });
      mkdirSync(join(jobDir, 'private'), { recursive: true, mode: 0o700 });
      await this.#placePrivateFiles(job, join(jobDir, 'private'));
    } catch (err) {
      failure = (err as Error).message;
    }
    const cancelled = this.#launching.get(job.id) === true;
    this.#launching.delete(job.id);
    if (this.#closed) {
      rmSync(jobDir, { recursive: true, force: true });
      log.close();
      return;
    }
    if (failure !== undefined || cancelled) {
      rmSync(jobDir, { recursive: true, force: true });
      await this.#finish(job.id, log, cancelled ? 'cancelled' : 'failed', failure ?? 'cancelled', null);
      this.events.emit(`done:${job.id}`);
      return;
    }
    // From here to the running set nothing waits, so a cancel finds the job in one place or the other.
    const token = opts.credentials.issue(
      {
        jobId: job.id,
        service: job.service,
        environment: job.setDesired,
        from: job.kind === 'client' ? job.from : null,
      },
      opts.credentialTtlMs ?? 24 * 3600_000,
    );
    const args = [...builder.args, ...builderArguments(job, jobDir)];
    // A process group of its own, so cancel reaches every command the build started.
    const child = spawn(builder.command, args, {
      cwd: jobDir,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: childEnv(url, token, jobDir),
    });
    let tail = '';
    const take = (chunk: Buffer) => {
      log.write(chunk);
      tail = (tail + chunk.toString('utf8')).slice(-8192);
      this.events.emit(`log:${job.id}`);
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    let spawnError: Error | undefined;
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child.once('error', (err) => {
        spawnError = err;
        resolve({ code: null, signal: null });
      });
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    let ended = () => {};
    const running: Running = {
      child,
      token,
      log,
      cancelled: false,
      exited: exited.then(() => {}),
      ended: new Promise<void>((resolve) => {
        ended = resolve;
      }),
    };
    this.#running.set(job.id, running);
    void exited.then(async ({ code, signal }) => {
      // Whatever the builder left behind in its group goes with it.
      killGroup(child, 'SIGKILL');
      opts.credentials.revoke(token);
      const result = join(jobDir, 'result.json');
      const published = existsSync(result) ? (JSON.parse(readFileSync(result, 'utf8')) as { version: string }) : null;
      rmSync(jobDir, { recursive: true, force: true });
      if (this.#closed) {
        note('the server stopped; the build stopped with it');
        log.close();
        this.#running.delete(job.id);
        ended();
        return;
      }
      if (published && code === 0) await this.#finish(job.id, log, 'succeeded', null, published.version);
      else if (published) await this.#finish(job.id, log, 'succeeded', 'published, then stopped', published.version);
      else if (running.cancelled) await this.#finish(job.id, log, 'cancelled', 'cancelled', null);
      else {
        const why = spawnError ? `cannot start the builder: ${spawnError.message}` : failureOf(tail, code, signal);
        await this.#finish(job.id, log, 'failed', why, null);
      }
      // Gone from the running set before `done`, so a follower woken by it reads the final state.
      this.#running.delete(job.id);
      this.events.emit(`done:${job.id}`);
      ended();
      this.kick();
    });
  }

  /** Each file the job names, decrypted (an audited read) into `dir` with mode 0600. */
  async #placePrivateFiles(job: BuildJob, dir: string): Promise<void> {
    const actor: Principal = { tokenId: `build:${job.id}`, name: `build ${job.id}`, role: 'developer', kind: 'build' };
    for (const path of job.privateFiles) {
      const content = await this.#opts.privateFiles.read(actor, job.service, path, `build ${job.id}`);
      const target = join(dir, path);
      mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
      writeFileSync(target, content, { mode: 0o600, flag: 'wx' });
    }
  }

  async #finish(
    id: number,
    log: BoundedLog,
    state: BuildState,
    error: string | null,
    resultVersion: string | null,
  ): Promise<void> {
    log.write(
      `[${stamp()}] build ${state}${resultVersion ? `: ${resultVersion}` : ''}${error && state !== 'succeeded' ? `: ${error}` : ''}\n`,
    );
    log.close();
    try {
      await finishBuild(this.#opts.db, id, ['running'], {
        state,
        at: stamp(),
        error,
        resultVersion,
        logBytes: log.bytes,
      });
    } catch (err) {
      this.#opts.logger.error({ err, build: id }, 'recording the end of a build failed');
    }
    this.events.emit(`log:${id}`);
  }
}
