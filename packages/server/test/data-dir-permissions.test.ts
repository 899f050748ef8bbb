import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeArtifact } from '../src/catalog/archive.test.helper.ts';
import { makeFaultArchive } from '../src/faults/archive.test.helper.ts';
import { agentCredentialFor } from './support/agent-credential.ts';
import { callApi } from './support/api.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { makeTempDir } from './support/temp-dir.ts';

/** Every path under `root` (itself included) with its permission bits. */
function modes(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (path: string, name: string) => {
    const st = statSync(path);
    out[name] = (st.mode & 0o777).toString(8);
    if (st.isDirectory()) for (const child of readdirSync(path)) walk(join(path, child), `${name}/${child}`);
  };
  walk(root, '.');
  return out;
}

describe('data directory permissions', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('creates the data directory 0700 and its files 0600', async () => {
    const dataDir = join(makeTempDir('flotilla-perms-'), 'data');
    const database = join(dataDir, 'flotilla.db');
    server = await startTestServer('sqlite', { dataDir, database, applicationName: 'longhorn', rateLimit: '0' });
    const call = (method: string, path: string, opts: Parameters<typeof callApi>[3] = {}) =>
      callApi(server?.url as string, method, path, opts);

    const checkin = await fetch(`${server.url}/v1/checkupgrade`, { method: 'POST', body: '{"appVersion":"v1.0.0"}' });
    expect(checkin.status).toBe(200);
    expect((await call('POST', '/api/v1/services', { body: { name: 'web' } })).status).toBe(201);
    const artifact = readFileSync(await makeArtifact({ run: { command: './app' } }, { app: 'x' }));
    expect((await call('PUT', '/api/v1/services/web/versions/1.0.0', { raw: artifact })).status).toBe(201);
    expect((await call('POST', '/api/v1/environments', { body: { name: 'prod' } })).status).toBe(201);
    const minted = await call('POST', '/api/v1/tokens', {
      body: { kind: 'agent', name: 'agent-prod', environment: 'prod' },
    });
    expect(minted.status).toBe(201);
    const agent = await agentCredentialFor(server.url, minted.body.token as string, 'host-1');
    const fault = readFileSync(await makeFaultArchive());
    expect((await call('POST', '/api/v1/agent/faults', { token: agent, raw: fault })).status).toBe(201);

    const all = modes(dataDir);
    // What the server wrote, so a missing writer cannot pass unnoticed.
    for (const name of ['./flotilla.db', './flotilla.db-wal', './apps/longhorn/response-config.json', './faults']) {
      expect(all).toHaveProperty([name]);
    }
    expect(Object.keys(all).some((n) => n.startsWith('./artifacts/sha256/'))).toBe(true);
    expect(Object.keys(all).some((n) => n.endsWith('.tar.gz'))).toBe(true);
    const wrong = Object.entries(all).filter(([name, mode]) => {
      const isDir = statSync(join(dataDir, name)).isDirectory();
      return mode !== (isDir ? '700' : '600');
    });
    expect(wrong).toEqual([]);
  });

  it('tightens a data directory an older version left readable to others', async () => {
    const dataDir = join(makeTempDir('flotilla-perms-'), 'data');
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    const database = join(dataDir, 'flotilla.db');
    writeFileSync(database, '', { mode: 0o644 });
    chmodSync(database, 0o644);
    server = await startTestServer('sqlite', { dataDir, database });
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(database).mode & 0o777).toBe(0o600);
  });
});
