import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildCreate, BuildJob } from '@flotilla/protocol';
import pino from 'pino';
import { afterEach, expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { BuildCredentials } from '../auth/build-credentials.ts';
import type { Principal } from '../auth/tokens.ts';
import { Unavailable } from '../errors.ts';
import { loadPrivateFileKey } from '../service-private-files/cipher.ts';
import { createPrivateFiles } from '../service-private-files/service.ts';
import { buildLogPath, truncatedMarker } from './log-file.ts';
import { fakeBuilder } from './runner.test.helper.ts';
import { BuildRunner, type BuildRunnerOptions } from './runner.ts';
import { createBuildService } from './service.ts';
import { getBuild, insertBuild } from './store.ts';

const dev = { tokenId: 't1', name: 'dev', role: 'developer', kind: 'admin' } as Principal;
const source = { name: 'app', url: 'https://user:secret@git.example.com/app.git', ref: 'main' };

describeEachStore(allStoreKinds)('the build queue on %s', (kind) => {
  const handle = useMigratedDatabase(kind);
  const runners: BuildRunner[] = [];
  afterEach(async () => {
    for (const r of runners.splice(0)) await r.close();
  });

  async function setup(extra: Partial<BuildRunnerOptions> = {}) {
    const db = handle.current.db;
    const dir = makeTempDir('flotilla-builds-');
    const at = new Date().toISOString();
    await db.insertInto('services').values({ name: 'web', description: '', created_at: at, updated_at: at }).execute();
    const key = loadPrivateFileKey(dir, null);
    const privateFiles = createPrivateFiles({ db, key: () => key });
    const credentials = new BuildCredentials();
    const runner = new BuildRunner({
      db,
      dataDir: dir,
      builder: fakeBuilder(dir),
      concurrency: 1,
      credentials,
      privateFiles,
      logger: pino({ level: 'silent' }),
      killGraceMs: 300,
      ...extra,
    });
    runners.push(runner);
    const builds = createBuildService({ db, runner });
    const create = (macros: Record<string, string>, more: Partial<BuildCreate> = {}) =>
      builds.create(dev, 'web', { sources: [source], macros, ...more });
    const until = async (id: number, states: string[]): Promise<BuildJob> => {
      for (let i = 0; i < 400; i++) {
        const job = await builds.get(id);
        if (states.includes(job.state)) return job;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`build ${id} never reached ${states}`);
    };
    const log = (id: number) => readFileSync(buildLogPath(dir, id), 'utf8');
    return { db, dir, runner, builds, create, until, log, privateFiles, credentials };
  }

  it('runs jobs one at a time, oldest first, and records what each published', async () => {
    const { dir, runner, create, until, log } = await setup();
    const trace = join(dir, 'trace');
    const jobs = [];
    for (let i = 0; i < 3; i++) jobs.push(await create({ trace, ms: '150' }));
    expect(jobs.map((j) => j.state)).toEqual(['queued', 'queued', 'queued']);
    expect(jobs[0]?.sources[0]?.url).toBe('https://git.example.com/app.git');
    await runner.start('http://127.0.0.1:1');
    const ended = [];
    for (const job of jobs) ended.push(await until(job.id, ['succeeded', 'failed']));
    expect(ended.map((j) => [j.state, j.resultVersion])).toEqual([
      ['succeeded', `1.0.${jobs[0]?.id}`],
      ['succeeded', `1.0.${jobs[1]?.id}`],
      ['succeeded', `1.0.${jobs[2]?.id}`],
    ]);
    const ids = jobs.map((j) => j.id);
    expect(readFileSync(trace, 'utf8').trim().split('\n')).toEqual(ids.flatMap((id) => [`${id} start`, `${id} end`]));
    const first = log(ids[0] as number);
    // The builder gets the URL whole, a credential of its own and none of the server's secrets.
    expect(first).toContain('app=https://user:secret@git.example.com/app.git#main');
    expect(first).toContain('token: flb_ server: http://127.0.0.1:1');
    expect(first).toContain('admin token passed: false');
    expect(first).toMatch(/build succeeded: 1\.0\.\d+\n$/);
    expect(ended[0]?.logBytes).toBe(Buffer.byteLength(first));
    expect(existsSync(join(dir, 'builds', 'jobs', String(ids[0])))).toBe(false);
  });

  it("runs two at once with a concurrency of 2, and fails a job with the builder's reason", async () => {
    const { dir, runner, create, until } = await setup({ concurrency: 2 });
    const trace = join(dir, 'trace');
    const a = await create({ trace, ms: '1500' });
    const b = await create({ trace, act: 'fail' });
    await runner.start('http://127.0.0.1:1');
    const failed = await until(b.id, ['failed', 'succeeded']);
    expect(failed.state).toBe('failed');
    expect(failed.error).toBe('build failed, nothing published: it broke');
    await until(a.id, ['succeeded']);
    // b started and ended while a ran (the two builders boot side by side, so either may log first).
    const lines = readFileSync(trace, 'utf8').trim().split('\n');
    expect(lines.indexOf(`${a.id} start`)).toBeGreaterThanOrEqual(0);
    expect(lines.indexOf(`${b.id} end`)).toBeGreaterThan(lines.indexOf(`${b.id} start`));
    expect(lines.indexOf(`${b.id} end`)).toBeLessThan(lines.indexOf(`${a.id} end`));
  });

  it('cancels a running job with its whole process group, and a queued one before it runs', async () => {
    const { dir, runner, builds, create, until, log } = await setup();
    const pidfile = join(dir, 'sleep.pid');
    const running = await create({ act: 'hang', pidfile });
    const queued = await create({ trace: join(dir, 'trace') });
    await runner.start('http://127.0.0.1:1');
    await until(running.id, ['running']);
    for (let i = 0; i < 200 && !existsSync(pidfile); i++) await new Promise((r) => setTimeout(r, 25));
    const sleeper = Number(readFileSync(pidfile, 'utf8'));
    expect((await builds.cancel(dev, queued.id)).state).toBe('cancelled');
    const cancelled = await builds.cancel(dev, running.id);
    expect(cancelled).toMatchObject({ state: 'cancelled', resultVersion: null, error: 'cancelled' });
    expect(() => process.kill(sleeper, 0)).toThrow();
    expect(log(running.id)).toMatch(/build cancelled: cancelled\n$/);
    expect(existsSync(join(dir, 'trace'))).toBe(false);
    expect((await builds.cancel(dev, queued.id)).state).toBe('cancelled');
  });

  it('fails jobs a stopped server left running, and takes up the queued ones', async () => {
    const { db, runner, until, log } = await setup();
    const at = new Date().toISOString();
    const job = {
      kind: 'version' as const,
      service: 'web',
      from: null,
      consumer: null,
      version: null,
      sources: [source],
      macros: {},
      privateFiles: [],
      setDesired: null,
    };
    const left = await insertBuild(db, { ...job, requestedBy: 'dev' }, at);
    await db.updateTable('builds').set({ state: 'running', started_at: at }).where('id', '=', left.id).execute();
    const elsewhere = await insertBuild(db, { ...job, requestedBy: 'dev' }, at);
    await db
      .updateTable('builds')
      .set({ state: 'running', started_at: at, runner: 'other-host:/srv/flotilla' })
      .where('id', '=', elsewhere.id)
      .execute();
    const waiting = await insertBuild(db, { ...job, requestedBy: 'dev' }, at);
    await runner.start('http://127.0.0.1:1');
    expect(await getBuild(db, left.id)).toMatchObject({ state: 'failed', error: 'server stopped' });
    // Another server on the same database runs this one.
    expect((await getBuild(db, elsewhere.id))?.state).toBe('running');
    expect(log(left.id)).toContain('build failed: server stopped');
    expect((await until(waiting.id, ['succeeded'])).resultVersion).toBe(`1.0.${waiting.id}`);
  });

  it('bounds the log and marks where it was cut', async () => {
    const { runner, create, until, log } = await setup({ maxLogBytes: 4096 });
    const job = await create({ act: 'flood' });
    await runner.start('http://127.0.0.1:1');
    const done = await until(job.id, ['failed', 'succeeded']);
    const text = log(job.id);
    expect(text.endsWith(truncatedMarker(4096))).toBe(true);
    expect(text.length).toBe(4096 + truncatedMarker(4096).length);
    expect(done.logBytes).toBe(text.length);
  });

  it('places the private files the job names (0600, each read audited) and removes them after', async () => {
    const { db, dir, runner, create, until, log, privateFiles } = await setup();
    await privateFiles.put(dev, 'web', 'conf/license.key', Buffer.from('s3cret'));
    await privateFiles.put(dev, 'web', 'other.key', Buffer.from('not named'));
    await expect(create({}, { privateFiles: ['nope.key'] })).rejects.toThrow(/no private file "nope.key"/);
    const job = await create({}, { privateFiles: ['conf/license.key'] });
    await runner.start('http://127.0.0.1:1');
    await until(job.id, ['succeeded']);
    expect(log(job.id)).toContain('private conf/license.key mode 600 s3cret');
    expect(log(job.id)).not.toContain('other.key');
    const reads = await db.selectFrom('audit_log').selectAll().where('action', '=', 'private-file.read').execute();
    expect(reads.map((r) => [r.actor, JSON.parse(r.after_json ?? '{}')])).toEqual([
      [`token:build ${job.id}`, { path: 'conf/license.key', purpose: `build ${job.id}` }],
    ]);
    const creates = await db.selectFrom('audit_log').select('action').where('action', 'like', 'build.%').execute();
    expect(creates.map((r) => r.action)).toEqual(['build.create']);
    expect(existsSync(join(dir, 'builds', 'jobs', String(job.id)))).toBe(false);
    expect(statSync(buildLogPath(dir, job.id)).mode & 0o777).toBe(0o600);
  });

  it('gives distinct ids to builds queued at once through two servers on one database', async () => {
    const { db, runner } = await setup();
    const services = [createBuildService({ db, runner }), createBuildService({ db, runner })];
    const made = await Promise.all(
      Array.from({ length: 8 }, (_, i) => services[i % 2]?.create(dev, 'web', { sources: [source] })),
    );
    const ids = made.map((job) => job?.id);
    expect(new Set(ids).size).toBe(8);
  });

  it('holds each consumer to a few builds at once, runs them as client builds, and lets it cancel its own', async () => {
    const { db, dir, runner, builds, until, log } = await setup();
    const at = new Date().toISOString();
    await db
      .insertInto('service_versions')
      .values({
        service: 'web',
        version: '1.0.0',
        digest: `sha256:${'0'.repeat(64)}`,
        size: 1,
        manifest: '{}',
        signed_manifest: '{}',
        signature: '',
        key_id: '',
        notes: null,
        author: 'dev',
        created_at: at,
      })
      .execute();
    const ask = (macros: Record<string, string> = {}) =>
      builds.createForConsumer('acme', { service: 'web', from: '1.0.0', settings: [source], macros });
    const jobs = [await ask({ ms: '5000' }), await ask(), await ask()];
    expect(jobs.map((j) => [j.kind, j.from, j.consumer, j.requestedBy])).toEqual(
      Array(3).fill(['client', '1.0.0', 'acme', 'consumer:acme']),
    );
    await expect(ask()).rejects.toThrow('consumer "acme" has 3 builds queued or running');
    await expect(
      builds.createForConsumer('acme', {
        service: 'web',
        from: '1.0.0',
        settings: [{ ...source, submodules: true }],
      }),
    ).rejects.toThrow('settings repositories have no submodules');
    await expect(builds.createForConsumer('other', { service: 'web', from: '2.0.0', settings: [] })).rejects.toThrow(
      'has no version 2.0.0',
    );
    await runner.start('http://127.0.0.1:1');
    const first = jobs[0] as BuildJob;
    await until(first.id, ['running']);
    for (let i = 0; i < 200 && !existsSync(buildLogPath(dir, first.id)); i++)
      await new Promise((r) => setTimeout(r, 25));
    for (let i = 0; i < 200 && !log(first.id).includes('args: '); i++) await new Promise((r) => setTimeout(r, 25));
    const consumer = { tokenId: 'consumer:acme', name: 'consumer:acme', role: 'developer' } as Principal;
    expect((await builds.cancel(consumer, first.id)).state).toBe('cancelled');
    expect(log(first.id)).toMatch(
      /args: \["client-version","build","web","--from","1\.0\.0","--settings",.*"--for-consumer","acme"/,
    );
    expect((await ask()).consumer).toBe('acme');
  });

  it('refuses builds when the server has no builder command', async () => {
    const { create } = await setup({ builder: null });
    await expect(create({})).rejects.toBeInstanceOf(Unavailable);
  });
});

it("admits a build credential only to its own service's publishing routes", async () => {
  const credentials = new BuildCredentials();
  const token = credentials.issue({ jobId: 7, service: 'web', environment: 'test' }, 60_000);
  const gate = credentials.gate();
  const request = (method: string, url: string, params: object, body?: object) =>
    gate({
      method,
      routeOptions: { url },
      params,
      body,
      headers: { authorization: `Bearer ${token}` },
    } as never);
  await expect(request('PUT', '/api/v1/services/:service/versions/:version', { service: 'web' })).resolves.toBe(
    undefined,
  );
  await expect(request('PUT', '/api/v1/services/:service/versions/:version', { service: 'db' })).rejects.toThrow(
    /may only publish versions of "web"/,
  );
  await expect(request('GET', '/api/v1/builds', {})).rejects.toThrow(/may only/);
  await expect(request('DELETE', '/api/v1/services/:service', { service: 'web' })).rejects.toThrow(/may only/);
  const desired = '/api/v1/environments/:env/desired';
  await expect(request('PATCH', desired, { env: 'test' }, { set: { web: '1.0.0' } })).resolves.toBe(undefined);
  await expect(request('PATCH', desired, { env: 'test' }, { set: { web: '1', db: '2' } })).rejects.toThrow(/may only/);
  await expect(request('PATCH', desired, { env: 'prod' }, { set: { web: '1.0.0' } })).rejects.toThrow(/may only/);
  // Artifacts hold other clients' settings and private files: only a client build's own developer version.
  const artifact = '/api/v1/services/:service/versions/:version/artifact';
  await expect(request('GET', artifact, { service: 'web', version: '1.0.0' })).rejects.toThrow(/may only/);
  const client = credentials.issue({ jobId: 8, service: 'web', environment: null, from: '1.0.0' }, 60_000);
  const asClient = (params: object) =>
    gate({
      method: 'GET',
      routeOptions: { url: artifact },
      params,
      headers: { authorization: `Bearer ${client}` },
    } as never);
  await expect(asClient({ service: 'web', version: '1.0.0' })).resolves.toBe(undefined);
  await expect(asClient({ service: 'web', version: '1.0.0+client' })).rejects.toThrow(/may only/);
  await expect(asClient({ service: 'db', version: '1.0.0' })).rejects.toThrow(/may only/);
  expect(credentials.principalOf(token)).toMatchObject({ kind: 'build', role: 'developer', name: 'build 7' });
  credentials.revoke(token);
  await expect(request('GET', '/api/v1/services/:service', { service: 'web' })).rejects.toThrow(/unknown/);
});
