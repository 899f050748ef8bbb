import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../../server/src/db/connection.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { ApiClient } from './api-client.ts';
import { describeVersions, fetchDrift, registerDriftCommands } from './commands/drift.ts';

describe('drift helpers', () => {
  it('describes running versions with their counts', () => {
    expect(describeVersions([])).toBe('(none)');
    expect(
      describeVersions([
        { runningVersion: '1.7.0', resourceCount: 3 },
        { runningVersion: '1.8.0', resourceCount: 1 },
      ]),
    ).toBe('1.7.0 (3), 1.8.0 (1)');
  });
});

describe('flotilla drift', () => {
  let server: TestServer;
  let agentToken = '';

  const run = async (args: string[], token = adminToken, url?: string) => {
    const program = new Command('flotilla').exitOverride();
    registerDriftCommands(program);
    let out = '';
    let err = '';
    const outSpy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += chunk.toString();
      return true;
    });
    const errSpy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += chunk.toString();
      return true;
    });
    try {
      // The login options last: they must reach `drift where` as well as `drift`.
      await program.parseAsync(['drift', ...args, '--server', url ?? server.url, '--token', token], { from: 'user' });
    } finally {
      outSpy.mockRestore();
      errSpy.mockRestore();
    }
    return { out, err };
  };

  const call = async (path: string, body: unknown, token = adminToken) => {
    const res = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${path} → ${res.status}: ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  const report = (token: string, agentId: string, id: string, versions: Array<[string, number]>) =>
    call(
      '/api/v1alpha1/agents',
      {
        agentId,
        agentTags: null,
        version: {
          id,
          namespace: 'kube-system',
          versions: versions.map(([runningVersion, resourceCount]) => ({ runningVersion, resourceCount })),
        },
      },
      token,
    );

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    await call('/api/v1/environments', { name: 'prod' });
    await call('/api/v1/environments', { name: 'staging' });
    agentToken = (await call('/api/v1/tokens', { kind: 'agent', name: 'p', environment: 'prod' })).token;
    const staging = (await call('/api/v1/tokens', { kind: 'agent', name: 's', environment: 'staging' })).token;
    await report(agentToken, 'eu-1', 'coredns', [
      ['1.7.0', 3],
      ['1.8.0', 1],
    ]);
    await report(agentToken, 'eu-2', 'coredns', [['1.8.0', 2]]);
    await report(agentToken, 'eu-1', 'nginx', [['1.25.3', 4]]);
    await report(staging, 'st-1', 'coredns', [['1.7.0', 1]]);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('lists every row as a table, and the items as JSON', async () => {
    const { out, err } = await run([]);
    expect(err).toBe('');
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SUBJECT\s+PLACE\s+ENVIRONMENT\s+VERSIONS\s+LATEST\s+BEHIND\s+REPORTED\s+STALE$/);
    expect(lines).toHaveLength(5);
    // Ordered by (environment, place, subject), as the server pages them.
    // LATEST and BEHIND depend on the server's comparison, which these reports (no upstream) do not get.
    expect(lines[1]).toMatch(
      /^coredns\s+eu-1\s+prod\s+1\.7\.0 \(3\), 1\.8\.0 \(1\)\s+.*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/,
    );
    expect(lines[2]).toMatch(/^nginx\s+eu-1\s+prod\s+1\.25\.3 \(4\)/);
    expect(lines[3]).toMatch(/^coredns\s+eu-2\s+prod\s+1\.8\.0 \(2\)/);
    expect(lines[4]).toMatch(/^coredns\s+st-1\s+staging\s+1\.7\.0 \(1\)/);

    const json = JSON.parse((await run(['--environment', 'prod', '--subject', 'coredns', '--json'])).out);
    expect(json.map((i: { place: string }) => i.place)).toEqual(['eu-1', 'eu-2']);
    expect(json[0]).toMatchObject({ environment: 'prod', subject: 'coredns', staleSince: null });
    expect(json[0].versions).toEqual([
      { runningVersion: '1.7.0', resourceCount: 3 },
      { runningVersion: '1.8.0', resourceCount: 1 },
    ]);

    const place = await run(['--place', 'eu-1']);
    expect(place.out).toContain('nginx');
    expect(place.out).not.toContain('eu-2');
    expect((await run(['--environment', 'nope'])).out).toBe('no reported subjects\n');
  });

  it('stops at --limit and says more rows match', async () => {
    const { out, err } = await run(['--limit', '2', '--json']);
    expect(JSON.parse(out)).toHaveLength(2);
    expect(err).toContain('showing the first 2 rows; more match');
    // Exactly as many rows as match: nothing was cut.
    expect((await run(['--environment', 'prod', '--limit', '3'])).err).toBe('');
    await expect(run(['--limit', '0'])).rejects.toMatchObject({ message: expect.stringContaining('--limit') });
    await expect(run(['--limit', '10001'])).rejects.toMatchObject({ message: expect.stringContaining('--limit') });
  });

  it('follows the cursor across pages', async () => {
    const client = new ApiClient({ server: server.url, token: adminToken });
    const all = await fetchDrift(client, {}, 100, 1);
    expect(all.cut).toBe(false);
    expect(all.items.map((i) => `${i.environment}/${i.place}/${i.subject}`)).toEqual([
      'prod/eu-1/coredns',
      'prod/eu-1/nginx',
      'prod/eu-2/coredns',
      'staging/st-1/coredns',
    ]);
    const some = await fetchDrift(client, { subject: 'coredns' }, 2, 1);
    expect(some).toMatchObject({ cut: true });
    expect(some.items.map((i) => i.place)).toEqual(['eu-1', 'eu-2']);
    const three = await fetchDrift(client, {}, 3, 2);
    expect(three.items).toHaveLength(3);
    expect(three.cut).toBe(true);
  });

  it('shows where a subject runs, optionally one version', async () => {
    const { out } = await run(['where', 'coredns', '1.7.0']);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^PLACE\s+ENVIRONMENT\s+VERSIONS\s+LATEST\s+BEHIND\s+REPORTED\s+STALE$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual(['eu-1 prod', 'st-1 staging']);
    // Only the matching version is listed for a place that runs several.
    expect(lines[1]).toMatch(/1\.7\.0 \(3\)/);
    expect(lines[1]).not.toContain('1.8.0');

    const json = JSON.parse((await run(['where', 'coredns', '--json'])).out);
    expect(json.map((i: { place: string }) => i.place).sort()).toEqual(['eu-1', 'eu-2', 'st-1']);
    expect((await run(['where', 'coredns', '9.9.9'])).out).toBe('no place reports running coredns 9.9.9\n');
    expect((await run(['where', 'etcd'])).out).toBe('no place reports running etcd\n');
  });

  it('marks a place that stopped reporting as stale', async () => {
    const store = openDatabase(server.database);
    try {
      await store.db
        .updateTable('drift_subjects')
        .set({ stale_since: Date.now() })
        .where('place', '=', 'st-1')
        .execute();
    } finally {
      await store.close();
    }
    const { out } = await run(['--environment', 'staging']);
    expect(out.trimEnd().split('\n')[1]).toMatch(
      /^coredns\s+st-1\s+staging\s+.*\s+since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/,
    );
    expect(JSON.parse((await run(['--environment', 'staging', '--json'])).out)[0].staleSince).toEqual(
      expect.any(String),
    );
  });

  it('fails clearly on a bad token, a token that may not read, and an unreachable server', async () => {
    await expect(run([], 'flt_wrong_token_0123456789abcdef')).rejects.toMatchObject({
      detail: expect.stringMatching(/^GET \/api\/v1\/drift\?limit=500 → 401$/),
    });
    await expect(run(['where', 'coredns'], agentToken)).rejects.toMatchObject({
      detail: 'GET /api/v1/drift/where?subject=coredns → 403',
    });
    await expect(run([], adminToken, 'http://127.0.0.1:1')).rejects.toMatchObject({
      message: expect.stringMatching(/^cannot reach http:\/\/127\.0\.0\.1:1: /),
    });
  });
});
