// A real server, an agent in this process, and a proxy between them that changes the desired answers
// as an attacker on the path would: the agent acts only on what the server signed, current and new.
import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type AgentDesired, canonicalJson, type DesiredStatement } from '@flotilla/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeArtifact } from '../../../server/src/catalog/archive.test.helper.ts';
import { agentCredentialFor } from '../../../server/test/support/agent-credential.ts';
import { callApi } from '../../../server/test/support/api.ts';
import { startTestServer, type TestServer } from '../../../server/test/support/server.ts';
import { makeTempDir } from '../../../server/test/support/temp-dir.ts';
import { type RunningAgent, startAgent } from './agent.ts';
import { resolveAgentConfig } from './config.ts';

type Mode = 'pass' | 'swap' | 'replay' | 'stale';

describe('an agent behind a proxy that changes desired answers', () => {
  let server: TestServer;
  let proxy: Server;
  let agent: RunningAgent;
  let mode: Mode = 'pass';
  let genuineOld: AgentDesired;
  const lines: string[] = [];

  const ok = async (method: string, path: string, body?: unknown, status = 200) => {
    const res = await callApi(server.url, method, path, { body });
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    return res.body;
  };
  const publish = async (version: string) => {
    const file = await makeArtifact({}, { 'version.txt': version });
    const res = await callApi(server.url, 'PUT', `/api/v1/services/web/versions/${version}`, {
      raw: readFileSync(file),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  };
  const installed = () => agent.services().services.find((s) => s.service === 'web')?.version;
  /** Waits for a log line matching `pattern` that was written after `from` lines. */
  const logged = async (pattern: RegExp, from = 0) => {
    for (let i = 0; i < 300; i++) {
      const found = lines.slice(from).find((l) => pattern.test(l));
      if (found) return found;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no log line matches ${pattern}; the last ones:\n${lines.slice(-10).join('\n')}`);
  };

  /** What the proxy puts in place of the server's desired answer. */
  const rewrite = (real: AgentDesired): AgentDesired => {
    if (mode === 'swap') {
      // Today's signed list, with web's entry swapped for the genuine, signed 1.0.0.
      const old = genuineOld.services.find((s) => s.service === 'web');
      return { ...real, services: real.services.map((s) => (s.service === 'web' && old ? old : s)) };
    }
    if (mode === 'replay') return genuineOld;
    // A newer revision signed with the server's own key, but issued three hours ago.
    const key = createPrivateKey(readFileSync(join(server.dir, 'signing', 'ed25519.pem')));
    const issued = Date.now() - 3 * 3_600_000;
    const statement: DesiredStatement = {
      ...(JSON.parse(genuineOld.statement) as DesiredStatement),
      revision: real.revision + 1,
      issuedAt: new Date(issued).toISOString(),
      expiresAt: new Date(issued + 3_600_000).toISOString(),
    };
    const bytes = canonicalJson(statement);
    const signature = sign(null, Buffer.from(bytes), key).toString('base64');
    return { ...genuineOld, revision: statement.revision, statement: bytes, signature };
  };

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    await ok('POST', '/api/v1/services', { name: 'web' }, 201);
    await publish('1.0.0');
    await publish('2.0.0');
    await ok('POST', '/api/v1/environments', { name: 'production' }, 201);
    const minted = await ok('POST', '/api/v1/tokens', { kind: 'agent', name: 'hosts', environment: 'production' }, 201);
    await ok('PATCH', '/api/v1/environments/production/desired', { set: { web: '1.0.0' } });
    // What an attacker kept from earlier: the genuine, signed answer of revision 1.
    const capture = await agentCredentialFor(server.url, minted.token, 'capture-host');
    genuineOld = (await callApi(server.url, 'GET', '/api/v1/agent/desired?instance=capture-host', { token: capture }))
      .body as AgentDesired;
    expect(genuineOld.services.map((s) => s.version)).toEqual(['1.0.0']);
    await ok('PATCH', '/api/v1/environments/production/desired', { set: { web: '2.0.0' } });

    proxy = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers: Record<string, string> = {};
      for (const name of ['authorization', 'content-type', 'if-none-match', 'range']) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const desired = (req.url ?? '').startsWith('/api/v1/agent/desired');
      // Asked without the ETag, so there is always an answer to change.
      if (desired && mode !== 'pass') delete headers['if-none-match'];
      const upstream = await fetch(`${server.url}${req.url}`, {
        method: req.method,
        headers,
        body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
      });
      let body = Buffer.from(await upstream.arrayBuffer());
      if (desired && mode !== 'pass' && upstream.status === 200) {
        body = Buffer.from(JSON.stringify(rewrite(JSON.parse(body.toString()) as AgentDesired)));
      }
      const out: Record<string, string> = {};
      upstream.headers.forEach((value, name) => {
        if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(name))
          out[name] = value;
      });
      res.writeHead(upstream.status, out).end(body);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

    const config = resolveAgentConfig(
      { server: proxyUrl, token: minted.token, dir: makeTempDir('flotilla-agent-'), instanceId: 'host-1', wait: '1' },
      {},
    );
    const log = (level: string) => (message: string) => lines.push(`${level} ${message}`);
    mode = 'swap';
    agent = await startAgent(config, {
      logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    });
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await new Promise((resolve) => proxy?.close(resolve));
    await server?.stop();
  });

  it('a proxy swapping desired 2.0.0 for a genuine signed 1.0.0 is refused', async () => {
    await logged(/refused the desired list: the answer offers web 1\.0\.0, the signed desired list says 2\.0\.0/);
    expect(installed()).toBeUndefined();
    // The server's view of the instance says why nothing changes.
    let reported: { version: string | null; updateError: string | null } | undefined;
    for (let i = 0; i < 100 && !reported?.updateError; i++) {
      const list = await ok('GET', '/api/v1/instances?environment=production');
      const host = list.instances.find((x: { instanceId: string }) => x.instanceId === 'host-1');
      reported = host?.services.find((x: { service: string }) => x.service === 'web');
      if (!reported?.updateError) await new Promise((r) => setTimeout(r, 100));
    }
    expect(reported).toMatchObject({ version: null });
    expect(reported?.updateError).toMatch(/^desired list refused: the answer offers web 1\.0\.0/);
    // Once the answers reach it unchanged, the agent installs what the server desires.
    const from = lines.length;
    mode = 'pass';
    await agent.firstSync;
    expect(installed()).toBe('2.0.0');
    expect(lines.slice(from).some((l) => l.startsWith('error'))).toBe(false);
  }, 60_000);

  it('an older revision than the applied one is refused', async () => {
    const from = lines.length;
    mode = 'replay';
    await logged(/refused the desired list: the desired list is revision 1, older than revision 2/, from);
    expect(installed()).toBe('2.0.0');
  }, 60_000);

  it('a stale answer is refused', async () => {
    const from = lines.length;
    mode = 'stale';
    await logged(
      /refused the desired list: the desired list \(revision 3\) expired at .*: a stale or replayed answer/,
      from,
    );
    expect(installed()).toBe('2.0.0');
    mode = 'pass';
  }, 60_000);
});
