import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeArtifact } from '../../server/src/catalog/archive.test.helper.ts';
import { faultMeta, makeFaultArchive } from '../../server/src/faults/archive.test.helper.ts';
import { agentCredentialFor } from '../../server/test/support/agent-credential.ts';

/** The app config a demo server starts with: three versions, newest v1.2.0, and one schema'd tag. */
export const demoResponseConfig = {
  versions: [
    { name: 'v1.0.0', releaseDate: '2025-01-10T10:00:00Z', tags: ['old'] },
    { name: 'v1.1.0', releaseDate: '2025-03-10T10:00:00Z', tags: ['stable'] },
    { name: 'v1.2.0', releaseDate: '2025-05-10T10:00:00Z', tags: ['latest'] },
  ],
};
export const demoRequestSchema = {
  appVersionSchema: { dataType: 'string', maxLen: 50 },
  extraTagInfoSchema: { channel: { dataType: 'string', maxLen: 20 } },
};
export const demoUser = { name: 'erin', role: 'admin', password: 'erin password 12' } as const;
export const demoManifest = { run: { command: 'bin/web', args: ['--port', '8080'] }, health: { tcp: { port: 8080 } } };

/** Public addresses in countries the embedded geolocation database knows. */
const addresses = { DE: '85.214.132.117', US: '8.8.8.8', FR: '212.27.48.10', JP: '133.242.0.1' };

export async function call(base: string, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

export async function publish(base: string, token: string, service: string, version: string, notes: string) {
  const file = await makeArtifact(demoManifest, { 'bin/web': '#!/bin/sh\necho web\n' });
  const res = await fetch(`${base}/api/v1/services/${service}/versions/${version}?notes=${encodeURIComponent(notes)}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/gzip' },
    body: readFileSync(file),
  });
  if (res.status !== 201) throw new Error(`publish ${service} ${version}: ${res.status} ${await res.text()}`);
}

/** Check-ins: `[version, country, count]`, each with its own instance id and a tag. */
export async function checkIns(base: string, plan: [string, keyof typeof addresses, number][]): Promise<void> {
  let n = 0;
  for (const [appVersion, country, count] of plan) {
    for (let i = 0; i < count; i += 1) {
      n += 1;
      const res = await fetch(`${base}/v1/checkupgrade`, {
        method: 'POST',
        headers: { 'x-forwarded-for': addresses[country] },
        body: JSON.stringify({
          appVersion,
          instanceId: `instance-${n}`,
          extraTagInfo: { channel: n % 3 === 0 ? 'beta' : 'stable' },
        }),
      });
      if (res.status !== 200) throw new Error(`check-in: ${res.status} ${await res.text()}`);
    }
  }
}

/** A server with a user, usage, two services with versions, and environments with a history. */
export async function seedDemo(base: string, adminToken: string, opts: { full?: boolean } = {}): Promise<void> {
  await call(base, adminToken, 'POST', '/api/v1/users', demoUser);
  await checkIns(base, [
    ['v1.2.0', 'DE', 3],
    ['v1.1.0', 'US', 2],
    ['v1.0.0', 'DE', 1],
    ...(opts.full
      ? ([
          ['v1.2.0', 'FR', 2],
          ['v1.2.0', 'JP', 1],
          ['v1.1.0', 'JP', 1],
        ] as [string, keyof typeof addresses, number][])
      : []),
  ]);
  await call(base, adminToken, 'POST', '/api/v1/services', { name: 'web', description: 'The public web front end' });
  await publish(base, adminToken, 'web', '1.0.0', 'First release');
  await call(base, adminToken, 'POST', '/api/v1/environments', { name: 'staging' });
  await call(base, adminToken, 'PATCH', '/api/v1/environments/staging/desired', {
    set: { web: '1.0.0' },
    comment: 'first deploy',
  });
  if (!opts.full) return;
  await call(base, adminToken, 'POST', '/api/v1/services', { name: 'api', description: 'The JSON API' });
  await publish(base, adminToken, 'api', '2.3.0', 'Faster queries');
  await publish(base, adminToken, 'web', '1.1.0', 'New sign-up page');
  await call(base, adminToken, 'PUT', '/api/v1/profiles/backend', { services: ['api', 'web'] });
  await call(base, adminToken, 'POST', '/api/v1/environments', { name: 'production', requiresTestedIn: 'staging' });
  await call(base, adminToken, 'PATCH', '/api/v1/environments/staging/desired', {
    set: { web: '1.1.0', api: '2.3.0' },
    comment: 'new sign-up page and the API',
  });
  await call(base, adminToken, 'POST', '/api/v1/environments/staging/desired/mark-tested', {});
}

/**
 * POSTs as the agent of an instance enrolled with the agent `token`: JSON (as the body's
 * `instanceId`), or a fault archive (a Buffer) as gzip (as `instanceId`, by default faultMeta's
 * host-1); the answer's JSON, or null.
 */
export async function agentPost(
  base: string,
  token: string,
  path: string,
  body: unknown,
  instanceId = Buffer.isBuffer(body) ? 'host-1' : (body as { instanceId: string }).instanceId,
): Promise<unknown> {
  const raw = Buffer.isBuffer(body);
  const credential = await agentCredentialFor(base, token, instanceId);
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${credential}`, 'content-type': raw ? 'application/gzip' : 'application/json' },
    body: raw ? body : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/**
 * The server options of a demo server: the demo app's versions and tag schema (written into `dir`),
 * loopback as a trusted proxy (so tests can send from any country), the embedded geolocation database.
 */
export function demoServerOptions(dir: string) {
  const file = (name: string, data: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(data), { mode: 0o600 });
    return path;
  };
  return {
    applicationName: 'demo',
    upgradeResponseConfig: file('response.json', demoResponseConfig),
    requestSchema: file('schema.json', demoRequestSchema),
    trustedProxies: '127.0.0.0/8',
    geodb: 'embedded',
    rateLimit: '0',
  };
}

const demoAgentTokens = new Map<string, string>();

const agentToken = async (base: string, adminToken: string, environment: string): Promise<string> => {
  const { token } = await call(base, adminToken, 'POST', '/api/v1/tokens', {
    kind: 'agent',
    name: `${environment} hosts`,
    environment,
  });
  demoAgentTokens.set(`${base} ${environment}`, token);
  return token;
};

/** The agent token `seedOperations` enrolled the demo hosts of `environment` with (stg-3 is staging's). */
export function demoAgentToken(base: string, environment: string): string {
  const token = demoAgentTokens.get(`${base} ${environment}`);
  if (!token) throw new Error(`no demo agent token for ${environment}: run seedOperations first`);
  return token;
}

/**
 * After `seedDemo(…, { full: true })`: staging hosts that report (one behind, one failed, one
 * updating), their log lines and a fault report, and a rollout in production halfway through its
 * canary wave.
 */
export async function seedOperations(base: string, adminToken: string): Promise<void> {
  const staging = await agentToken(base, adminToken, 'staging');
  const ok = [
    { service: 'web', version: '1.1.0', state: 'running' },
    { service: 'api', version: '2.3.0', state: 'running' },
  ];
  const hosts: [string, Record<string, string>, unknown[]][] = [
    ['stg-1', { region: 'eu' }, ok],
    ['stg-2', { region: 'eu' }, ok],
    [
      'stg-3',
      { region: 'us' },
      [
        {
          service: 'web',
          version: '1.0.0',
          state: 'running',
          updateError: 'not healthy: exit code 3',
          failureCount: 1,
          lastExitCode: 3,
        },
        ok[1],
      ],
    ],
    [
      'stg-4',
      { region: 'us' },
      [{ service: 'web', version: '1.0.0', targetVersion: '1.1.0', state: 'updating' }, ok[1]],
    ],
    ['stg-5', { region: 'ap' }, [ok[0], { service: 'api', version: '2.3.0', state: 'stopped', lastExitCode: 0 }]],
  ];
  for (const [instanceId, labels, services] of hosts) {
    await agentPost(base, staging, '/api/v1/agent/state', { instanceId, labels, services });
  }
  const now = Date.now();
  const messages: [string, string, string, string][] = [
    ['stg-1', 'web', 'info', 'GET /signup 200 12 ms'],
    ['stg-1', 'web', 'info', 'GET /pricing 200 8 ms'],
    ['stg-2', 'api', 'debug', 'cache hit ratio 0.93'],
    ['stg-3', 'web', 'warn', 'slow request: GET /signup took 2.3 s'],
    ['stg-3', 'web', 'error', 'panic: assignment to entry in nil map'],
    ['stg-2', 'api', 'info', 'POST /v1/orders 201 31 ms'],
    ['stg-4', 'web', 'info', 'installing web 1.1.0'],
    ['stg-5', 'api', 'warn', 'connection pool exhausted, waiting'],
    ['stg-1', 'web', 'info', 'GET /signup 200 10 ms'],
    ['stg-2', 'api', 'error', 'upstream timeout after 5000 ms: payments'],
  ];
  for (const [i, [instanceId, service, level, message]] of messages.entries()) {
    await agentPost(base, staging, '/api/v1/agent/logs', {
      instanceId,
      lines: [
        {
          service,
          version: service === 'web' ? '1.1.0' : '2.3.0',
          time: new Date(now - (messages.length - i) * 7000).toISOString(),
          level,
          unit: service === 'web' ? 'http' : 'db',
          stream: level === 'error' ? 'stderr' : 'stdout',
          message,
        },
      ],
    });
  }
  const fault = await makeFaultArchive({
    meta: faultMeta({
      instanceId: 'stg-3',
      service: 'web',
      version: '1.1.0',
      time: new Date(now - 20_000).toISOString(),
      exitCode: 2,
      state: { restarts: 3, phase: 'health-check', memoryBytes: 81234944, uptimeSeconds: 4 },
      files: ['core.4242'],
    }),
    logTail: 'starting web 1.1.0 on :8080\nloading templates\npanic: assignment to entry in nil map\n\tmain.go:42\n',
    files: { 'core.4242': 'core bytes' },
  });
  await agentPost(base, staging, '/api/v1/agent/faults', readFileSync(fault), 'stg-3');

  await call(base, adminToken, 'POST', '/api/v1/environments/production/rollouts', {
    set: { web: '1.1.0', api: '2.3.0' },
    comment: 'spring release',
    waves: [{ selector: { ring: 'canary' } }, { percent: 50 }, { percent: 100 }],
    minWaveSeconds: 3600,
  });
  const production = await agentToken(base, adminToken, 'production');
  await agentPost(base, production, '/api/v1/agent/state', {
    instanceId: 'prod-1',
    labels: { ring: 'canary' },
    services: ok,
  });
  await agentPost(base, production, '/api/v1/agent/state', {
    instanceId: 'prod-2',
    labels: { ring: 'canary' },
    services: [{ service: 'web', version: '1.0.0', targetVersion: '1.1.0', state: 'updating' }],
  });
  for (const n of [3, 4, 5]) {
    await agentPost(base, production, '/api/v1/agent/state', { instanceId: `prod-${n}`, services: [] });
  }
}
