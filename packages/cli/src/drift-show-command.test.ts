import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Database, openDatabase } from '../../server/src/db/connection.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { describeBehind, registerDriftCommands } from './commands/drift.ts';

const none = { error: null, resolveError: null, majorsBehind: null, minorsBehind: null, patchesBehind: null };

describe('describeBehind', () => {
  it('says how far behind, or why it cannot say', () => {
    expect(describeBehind({ ...none, behind: null })).toBe('pending');
    expect(describeBehind({ ...none, behind: null, resolveError: 'no such repo' })).toBe('not compared');
    expect(describeBehind({ ...none, behind: 'none', majorsBehind: 0, minorsBehind: 0, patchesBehind: 0 })).toBe(
      'current',
    );
    expect(describeBehind({ ...none, behind: 'minor', majorsBehind: 0, minorsBehind: 2, patchesBehind: 1 })).toBe(
      'minor (2 minors, 1 patch)',
    );
    expect(describeBehind({ ...none, behind: 'major', majorsBehind: 1, minorsBehind: 0, patchesBehind: 0 })).toBe(
      'major (1 major)',
    );
    expect(describeBehind({ ...none, behind: 'unknown' })).toBe('unknown');
    expect(describeBehind({ ...none, behind: null, error: 'bad regex' })).toBe('tracker error');
  });
});

const resolution = [
  {
    runningVersion: '1.7.0',
    behind: 'minor',
    majorsBehind: 0,
    minorsBehind: 2,
    patchesBehind: 1,
    availableMajors: [],
    availableMinors: ['1.8.0', '1.9.0'],
    availablePatches: ['1.7.1'],
    newer: [
      {
        version: '1.9.0',
        publishedAt: '2026-01-10T00:00:00Z',
        url: 'https://github.com/coredns/coredns/releases/v1.9.0',
      },
      { version: '1.8.0', publishedAt: '2025-10-01T00:00:00Z' },
      { version: '1.7.1' },
    ],
    supportEndsAt: null,
  },
];

describe('flotilla drift show, filters and subcommands', () => {
  let server: TestServer;
  let store: Database;

  const run = async (args: string[], token = adminToken) => {
    const program = new Command('flotilla').exitOverride();
    registerDriftCommands(program);
    let out = '';
    const outSpy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += chunk.toString();
      return true;
    });
    try {
      await program.parseAsync(['drift', ...args, '--server', server.url, '--token', token], { from: 'user' });
    } finally {
      outSpy.mockRestore();
    }
    return out;
  };
  const post = async (path: string, body: unknown, token = adminToken): Promise<{ token: string }> => {
    const res = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${path} → ${res.status}: ${await res.text()}`);
    return (await res.json()) as { token: string };
  };
  const versions = (v: string, n: number) => [{ runningVersion: v, resourceCount: n, resourceKind: 'Pods' }];

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    store = openDatabase(server.database);
    await post('/api/v1/environments', { name: 'prod' });
    const agent = (await post('/api/v1/tokens', { kind: 'agent', name: 'k', environment: 'prod' })).token;
    const upstream = { provider: 'github', strategy: 'releases', repo: 'coredns/coredns' };
    await post(
      '/api/v1/drift/reports',
      {
        agentId: 'eu-1',
        tags: { region: 'eu' },
        subjects: [{ subject: 'coredns', versions: versions('1.7.0', 3), upstream }],
      },
      agent,
    );
    await post(
      '/api/v1/drift/reports',
      {
        agentId: 'us-1',
        tags: { region: 'us' },
        subjects: [{ subject: 'coredns', versions: versions('1.9.0', 2), upstream }],
      },
      agent,
    );
    const set = (place: string, values: Record<string, unknown>) =>
      store.db.updateTable('drift_subjects').set(values).where('place', '=', place).execute();
    await set('eu-1', {
      latest: '1.9.0',
      behind: 'minor',
      majors_behind: 0,
      minors_behind: 2,
      patches_behind: 1,
      resolution: JSON.stringify(resolution),
      resolved_at: Date.now(),
    });
    await set('us-1', {
      latest: '1.9.0',
      behind: 'none',
      majors_behind: 0,
      minors_behind: 0,
      patches_behind: 0,
      resolution: '[]',
      resolved_at: Date.now(),
    });
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('lists LATEST and BEHIND, filtered by --agent, --tag and --behind', async () => {
    const lines = (await run([])).trimEnd().split('\n');
    expect(lines[1]).toMatch(/^coredns\s+eu-1\s+prod\s+1\.7\.0 \(3\)\s+1\.9\.0\s+minor \(2 minors, 1 patch\)\s+/);
    expect(lines[2]).toMatch(/^coredns\s+us-1\s+prod\s+1\.9\.0 \(2\)\s+1\.9\.0\s+current\s+/);
    const places = async (args: string[]) =>
      JSON.parse(await run([...args, '--json'])).map((i: { place: string }) => i.place);
    expect(await places(['--agent', 'us-1'])).toEqual(['us-1']);
    expect(await places(['--tag', 'region:eu'])).toEqual(['eu-1']);
    expect(await places(['--tag', 'region:eu', '--tag', 'tier:gold'])).toEqual([]);
    expect(await places(['--behind', 'patch'])).toEqual(['eu-1']);
    expect(await places(['--behind', 'current'])).toEqual(['us-1']);
    await expect(run(['--behind', 'lots'])).rejects.toMatchObject({ code: 'commander.invalidArgument' });
    await expect(run(['--tag', 'nocolon'])).rejects.toMatchObject({ message: expect.stringContaining('key:value') });
  });

  it('shows a subject everywhere, with the newer releases, dates and links', async () => {
    const out = await run(['show', 'coredns']);
    const lines = out.split('\n');
    expect(lines[0]).toBe('coredns: latest 1.9.0');
    expect(lines[2]).toMatch(
      /^PLACE\s+ENVIRONMENT\s+RUNNING\s+COUNT\s+LATEST\s+BEHIND\s+MAJORS\s+MINORS\s+PATCHES\s+STALE$/,
    );
    expect(lines[3]).toMatch(/^eu-1\s+prod\s+1\.7\.0\s+3\s+1\.9\.0\s+minor\s+0\s+2\s+1\s*$/);
    expect(lines[4]).toMatch(/^us-1\s+prod\s+1\.9\.0\s+2\s+1\.9\.0\s+current\s+0\s+0\s+0\s*$/);
    expect(out).toContain(
      'Newer than 1.7.0:\n  1.9.0  2026-01-10  https://github.com/coredns/coredns/releases/v1.9.0\n  1.8.0  2025-10-01\n  1.7.1\n',
    );
    const json = JSON.parse(await run(['show', 'coredns', '--json']));
    expect(json.places.map((p: { place: string }) => p.place)).toEqual(['eu-1', 'us-1']);
    expect(json.places[0].resolution).toEqual(resolution);
    await expect(run(['show', 'etcd'])).rejects.toMatchObject({ detail: 'GET /api/v1/drift/subjects/etcd → 404' });
  });

  it('lists its subcommands in help and runs upstreams and apply from their own files', async () => {
    const program = new Command('flotilla');
    registerDriftCommands(program);
    const help = program.commands[0]?.helpInformation() ?? '';
    for (const sub of ['where', 'show', 'upstreams', 'apply', 'trackers'])
      expect(help).toMatch(new RegExp(`\\n\\s+${sub}\\b`));
    await expect(run(['upstreams'], 'flt_wrong_token_0123456789abcdef')).rejects.toMatchObject({
      detail: expect.stringMatching(/^GET \/api\/v1\/drift\/upstreams → (401|404)$/),
    });
    await expect(run(['apply', '-f', '/nonexistent/trackers.yaml', '--env', 'prod'])).rejects.toMatchObject({
      message: expect.stringContaining('/nonexistent/trackers.yaml'),
    });
  });
});
