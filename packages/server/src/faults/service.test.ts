import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { faultMeta, makeFaultArchive } from './archive.test.helper.ts';
import { lastLines } from './archive.ts';
import { createFaultService, faultArchiveKey, metaProblems } from './service.ts';

const day = 86_400_000;

describe('fault.json problems', () => {
  it('names the JSON path of each fault', () => {
    expect(metaProblems(faultMeta())).toEqual([]);
    expect(metaProblems(faultMeta({ environment: 'ignored' }))).toEqual([]);
    expect(metaProblems(faultMeta({ exitCode: 'three' }))).toEqual(['/exitCode: expected integer or null']);
    expect(metaProblems(faultMeta({ time: 'yesterday' }))).toEqual(['/time: must match format "date-time"']);
    const { service: _, ...noService } = faultMeta();
    expect(metaProblems(noService)).toEqual(['/service: required']);
    expect(metaProblems(faultMeta({ color: 'red' }))).toEqual(['/color: unknown property']);
  });

  it('keeps the last lines of a log tail', () => {
    expect(lastLines('', 3)).toEqual([]);
    expect(lastLines('a\nb\r\nc\n', 5)).toEqual(['a', 'b', 'c']);
    expect(lastLines('1\n2\n3\n4', 2)).toEqual(['3', '4']);
  });
});

describeEachStore(allStoreKinds)('fault service on %s', (kind) => {
  const handle = useMigratedDatabase(kind);
  let dataDir: string;
  let clock: number;
  const service = (maxCount = 100, maxArchiveBytes?: number) =>
    createFaultService({
      db: handle.current.db,
      dataDir,
      retentionMs: 30 * day,
      maxCount,
      maxArchiveBytes,
      now: () => clock,
    });
  const upload = async (faults: ReturnType<typeof service>, file: string, environment = 'prod') =>
    faults.receive({ environment }, createReadStream(file));
  const archivePath = (id: string) => join(dataDir, faultArchiveKey(id));
  const archives = () => readdirSync(join(dataDir, 'faults')).filter((n) => n.endsWith('.tar.gz'));
  const temps = () => (existsSync(join(dataDir, 'faults', 'tmp')) ? readdirSync(join(dataDir, 'faults', 'tmp')) : []);

  beforeEach(() => {
    dataDir = makeTempDir('flotilla-faults-');
    clock = Date.parse('2026-03-01T12:00:00Z');
  });

  it('stores an upload: archive on disk, row with meta, log tail and files', async () => {
    const faults = service();
    const lines = Array.from({ length: 600 }, (_, i) => `line ${i}`).join('\n');
    const file = await makeFaultArchive({
      meta: faultMeta({ environment: 'staging' }),
      logTail: `${lines}\n`,
      files: { 'core.123': 'core', 'heap/dump.hprof': 'heap' },
    });
    const { id } = await upload(faults, file);
    expect(readFileSync(archivePath(id))).toEqual(readFileSync(file));
    expect(temps()).toEqual([]);
    const detail = await faults.get(id);
    expect(detail).toMatchObject({
      id,
      environment: 'prod',
      instanceId: 'host-1',
      service: 'web',
      version: '1.2.0',
      reason: 'exit',
      exitCode: 3,
      signal: null,
      time: '2026-03-01T10:00:00.000Z',
      receivedAt: '2026-03-01T12:00:00.000Z',
      size: readFileSync(file).length,
      state: { restarts: 2, phase: 'running' },
    });
    expect(detail.files.sort()).toEqual(['core.123', 'heap/dump.hprof']);
    expect(detail.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(detail.logTail).toHaveLength(500);
    expect(detail.logTail[0]).toBe('line 100');
    expect(detail.logTail.at(-1)).toBe('line 599');
    const archive = await faults.archive(id);
    expect(archive.fileName).toBe(`fault-web-${id}.tar.gz`);
    await expect(faults.get('nope')).rejects.toThrow(/no fault report/);
  });

  it('refuses escaping entries, links, bad JSON and oversize uploads, leaving nothing behind', async () => {
    const faults = service(100, 64 * 1024);
    const cases: Array<[string, Promise<string>]> = [
      ['escapes the archive root', makeFaultArchive({ extra: ['../escape-faults'] })],
      ['is a link', makeFaultArchive({ links: { 'files/passwd': '/etc/passwd' } })],
      ['/exitCode: expected integer or null', makeFaultArchive({ meta: faultMeta({ exitCode: 'x' }) })],
      ['not valid JSON', makeFaultArchive({ meta: '{nope' })],
      ['no fault.json', makeFaultArchive({ meta: undefined })],
    ];
    for (const [message, file] of cases) {
      await expect(upload(faults, await file)).rejects.toThrow(message);
    }
    await expect(faults.receive({ environment: 'prod' }, Readable.from([Buffer.from('not a tar')]))).rejects.toThrow(
      /not a readable/,
    );
    const big = Readable.from(
      (function* () {
        for (let i = 0; i < 100; i++) yield Buffer.alloc(1024, i);
      })(),
    );
    await expect(faults.receive({ environment: 'prod' }, big)).rejects.toMatchObject({ code: 'payload_too_large' });
    await expect(faults.receive({ environment: 'prod' }, Readable.from([]), 10 ** 9)).rejects.toMatchObject({
      code: 'payload_too_large',
    });
    expect(archives()).toEqual([]);
    expect(temps()).toEqual([]);
    expect((await faults.list({})).faults).toEqual([]);
  });

  it('lists newest first with filters and cursor paging', async () => {
    const faults = service();
    const at = (h: number) => `2026-03-01T${String(h).padStart(2, '0')}:00:00.000Z`;
    const specs = [
      { service: 'web', instanceId: 'a', time: at(1) },
      { service: 'web', instanceId: 'b', time: at(2) },
      { service: 'api', instanceId: 'a', time: at(3) },
      { service: 'web', instanceId: 'a', time: at(4) },
    ];
    const ids: string[] = [];
    for (const [i, s] of specs.entries()) {
      const file = await makeFaultArchive({ meta: faultMeta(s) });
      ids.push((await upload(faults, file, i === 1 ? 'test' : 'prod')).id);
    }
    const all = await faults.list({});
    expect(all.faults.map((f) => f.id)).toEqual([ids[3], ids[2], ids[1], ids[0]]);
    expect(all.nextCursor).toBeNull();
    expect((await faults.list({ service: 'web' })).faults.map((f) => f.id)).toEqual([ids[3], ids[1], ids[0]]);
    expect((await faults.list({ instance: 'a', service: 'web' })).faults.map((f) => f.id)).toEqual([ids[3], ids[0]]);
    expect((await faults.list({ environment: 'test' })).faults.map((f) => f.id)).toEqual([ids[1]]);
    expect((await faults.list({ from: at(2), to: at(4) })).faults.map((f) => f.id)).toEqual([ids[2], ids[1]]);
    const page1 = await faults.list({ limit: 3 });
    expect(page1.faults.map((f) => f.id)).toEqual([ids[3], ids[2], ids[1]]);
    const page2 = await faults.list({ limit: 3, cursor: page1.nextCursor ?? '' });
    expect(page2.faults.map((f) => f.id)).toEqual([ids[0]]);
    expect(page2.nextCursor).toBeNull();
    await expect(faults.list({ cursor: 'garbage' })).rejects.toThrow(/cursor/);
  });

  it('deletes reports by age and beyond the count per service, files and rows', async () => {
    const faults = service(2);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      clock += 1000;
      const file = await makeFaultArchive({ meta: faultMeta({ time: `2026-02-0${i + 1}T00:00:00.000Z` }) });
      ids.push((await upload(faults, file)).id);
    }
    const api = (await upload(faults, await makeFaultArchive({ meta: faultMeta({ service: 'api' }) }))).id;
    // The oldest web report goes: 3 are over the count of 2.
    expect(await faults.applyRetention({ environment: 'prod', service: 'web' })).toBe(1);
    expect((await faults.list({ service: 'web' })).faults.map((f) => f.id)).toEqual([ids[2], ids[1]]);
    expect(existsSync(archivePath(ids[0] as string))).toBe(false);
    expect(existsSync(archivePath(ids[1] as string))).toBe(true);

    clock += 31 * day;
    const fresh = (await upload(faults, await makeFaultArchive({ meta: faultMeta({ service: 'db' }) }))).id;
    expect(await faults.applyRetention()).toBe(3);
    expect((await faults.list({})).faults.map((f) => f.id)).toEqual([fresh]);
    for (const id of [ids[1], ids[2], api]) expect(existsSync(archivePath(id as string))).toBe(false);
    expect(archives()).toEqual([`${fresh}.tar.gz`]);
  });

  it('An agent token of test wiped every production fault report', async () => {
    // Before: 100 kept per service across environments, oldest by the agent-sent time, 2099 accepted.
    const faults = service(3);
    const prod: string[] = [];
    for (let i = 0; i < 3; i++) {
      clock += 1000;
      const file = await makeFaultArchive({ meta: faultMeta({ time: `2026-03-01T0${i}:00:00.000Z` }) });
      prod.push((await upload(faults, file, 'prod')).id);
    }
    const test: string[] = [];
    for (let i = 0; i < 5; i++) {
      clock += 1000;
      const file = await makeFaultArchive({ meta: faultMeta({ time: '2099-12-31T00:00:00.000Z' }) });
      test.push((await upload(faults, file, 'test')).id);
      await faults.applyRetention({ environment: 'test', service: 'web' });
    }
    expect(await faults.applyRetention()).toBe(0);
    // Production keeps all of its reports; test keeps its 3 newest by receive time.
    const ids = async (environment: string) => (await faults.list({ environment })).faults.map((f) => f.id);
    expect(new Set(await ids('prod'))).toEqual(new Set(prod));
    expect(new Set(await ids('test'))).toEqual(new Set(test.slice(2)));
    for (const id of [...prod, ...test.slice(2)]) expect(existsSync(archivePath(id))).toBe(true);
    // A time absurdly far ahead is stored as the receive time, so it pins nothing to the top.
    const newest = await faults.get(test[4] as string);
    expect(newest.time).toBe(new Date(clock).toISOString());
    expect(newest.time).toBe(newest.receivedAt);

    // A later report with an old agent-sent time still counts as the newest received.
    clock += 1000;
    const late = await makeFaultArchive({ meta: faultMeta({ time: '2020-01-01T00:00:00.000Z' }) });
    const lateId = (await upload(faults, late, 'prod')).id;
    expect(await faults.applyRetention({ environment: 'prod', service: 'web' })).toBe(1);
    expect(new Set(await ids('prod'))).toEqual(new Set([...prod.slice(1), lateId]));
  });

  it('sweeps old leftovers: temp uploads and archives without a row', async () => {
    // Leftovers are judged by file times, so this test's clock is the real one.
    clock = Date.now();
    const faults = service();
    const kept = (await upload(faults, await makeFaultArchive())).id;
    mkdirSync(join(dataDir, 'faults', 'tmp'), { recursive: true });
    writeFileSync(join(dataDir, 'faults', 'tmp', 'x.part'), 'half');
    const orphan = '00000000-0000-4000-8000-000000000000';
    writeFileSync(archivePath(orphan), 'orphan');
    await faults.applyRetention();
    expect(temps()).toEqual(['x.part']); // too young to be a leftover
    clock += 2 * 3_600_000;
    await faults.applyRetention();
    expect(temps()).toEqual([]);
    expect(archives()).toEqual([`${kept}.tar.gz`]);
  });
});
