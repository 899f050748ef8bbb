import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../../server/src/db/connection.ts';
import { putRow, readRow, running } from '../../server/src/drift/resolver.test-support.ts';
import { FakeUpstream } from '../../server/src/drift/upstreams/fake-upstream.test-support.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { formatAge, registerDriftUpstreamsCommand, upstreamRow } from './commands/drift-upstreams.ts';

describe('drift upstreams helpers', () => {
  it('writes ages and rows as people read them', () => {
    expect([null, 5, 125, 7200, 200_000].map(formatAge)).toEqual(['never', '5s', '2m', '2h', '2d']);
    const row = upstreamRow({
      key: 'github:api.github.com/a/b/releases',
      provider: 'github',
      subjects: 3,
      versions: 10,
      latest: 'v1.2.0',
      fetchedAt: null,
      ageSeconds: 90,
      error: 'HTTP 502',
      errorAt: null,
      failures: 2,
      retryAt: null,
      rateLimit: { limit: 60, remaining: 12 },
    });
    expect(row).toMatchObject({ age: '1m', error: '(2x) HTTP 502', quota: '12/60', latest: 'v1.2.0' });
  });
});

describe('flotilla drift upstreams', () => {
  let server: TestServer;
  let fake: FakeUpstream;

  const run = async (args: string[]) => {
    const program = new Command('flotilla').exitOverride();
    registerDriftUpstreamsCommand(program.command('drift'));
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += chunk.toString();
      return true;
    });
    try {
      await program.parseAsync(['drift', 'upstreams', ...args, '--server', server.url, '--token', adminToken], {
        from: 'user',
      });
    } finally {
      spy.mockRestore();
    }
    return out;
  };

  beforeAll(async () => {
    fake = await new FakeUpstream().start();
    fake.answer('/repos/coredns/coredns/releases?per_page=100', {
      headers: { 'x-ratelimit-remaining': '58', 'x-ratelimit-limit': '60' },
      body: JSON.stringify([{ tag_name: 'v1.9.0' }]),
    });
    server = await startTestServer('sqlite', { driftGithubUrl: fake.origin });
  });
  afterAll(async () => {
    await server?.stop();
    await fake?.stop();
  });

  it('lists each upstream with its subjects, latest, age, error and quota', async () => {
    expect(await run([])).toBe('no upstreams yet: none of the reported subjects names one\n');
    const store = openDatabase(server.database);
    try {
      const upstream = { provider: 'github', strategy: 'releases', repo: 'coredns/coredns' };
      await putRow(store.db, { place: 'eu-1', subject: 'coredns', versions: [running('1.8.0')], upstream });
      const deadline = Date.now() + 15_000;
      while ((await readRow(store.db, 'eu-1', 'coredns')).resolved_at === null && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await store.close();
    }
    const lines = (await run([])).trimEnd().split('\n');
    expect(lines[0]?.split(/\s+/)).toEqual(['KEY', 'PROVIDER', 'SUBJECTS', 'LATEST', 'AGE', 'ERROR', 'QUOTA']);
    expect(lines[1]).toMatch(
      /^github:127\.0\.0\.1:\d+\/coredns\/coredns\/releases\s+github\s+1\s+v1\.9\.0\s+\d+s\s+58\/60$/,
    );
    const json = JSON.parse(await run(['--json']));
    expect(json).toEqual([expect.objectContaining({ provider: 'github', subjects: 1, versions: 1, error: null })]);
  });
});
