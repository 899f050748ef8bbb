// Several `flotilla server` processes on one PostgreSQL database and one S3-compatible store (s3rver),
// behind a real haproxy, all on loopback: the deployment docs/operations.md describes, made small.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import S3rver from 's3rver';
import { adminToken, dataDirWithKeysOf } from '../../server/test/support/server.ts';
import { spawnServer } from '../../server/test/support/spawn-server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { eventually, freePort } from './agent-e2e.test.helper.ts';

/** s3rver's fixed credentials; the server reads them from the standard AWS variables. */
export const s3Env = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

export interface ObjectStore {
  url: string;
  endpoint: string;
  close(): Promise<void>;
}

/** A local S3-compatible server with one bucket, `flotilla`. */
export async function startObjectStore(): Promise<ObjectStore> {
  const port = await freePort();
  const s3 = new S3rver({
    address: '127.0.0.1',
    port,
    silent: true,
    directory: makeTempDir('flotilla-s3-'),
    configureBuckets: [{ name: 'flotilla', configs: [] }],
  });
  await s3.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    url: `s3://flotilla?endpoint=${encodeURIComponent(endpoint)}&forcePathStyle=true&region=us-east-1`,
    close: () => s3.close(),
  };
}

export interface Replica {
  name: string;
  port: number;
  url: string;
  dataDir: string;
  proc: ChildProcess;
  output(): string;
  /** As a power loss or OOM kill would: no shutdown, no flush. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export interface ReplicaOptions {
  database: string;
  blobStore: string;
  /** A data directory holding the keys the first replica made (replicas must share them). */
  keysFrom?: string;
  extraArgs?: string[];
}

/** Starts `flotilla server` as its own process and waits until it is ready. */
export async function startReplica(name: string, opts: ReplicaOptions): Promise<Replica> {
  const dataDir = opts.keysFrom ? dataDirWithKeysOf(opts.keysFrom) : makeTempDir(`flotilla-${name}-`);
  const flags = ['--data-dir', dataDir, '--database', opts.database, '--blob-store', opts.blobStore, '--geodb', 'off'];
  const server = await spawnServer([...flags, '--trusted-proxies', '127.0.0.1/32', ...(opts.extraArgs ?? [])], {
    ...s3Env,
    FLOTILLA_ADMIN_TOKEN: adminToken,
    // Its private socket folder too, so what a SIGKILL leaves behind goes with the test's folders.
    TMPDIR: makeTempDir(`flotilla-${name}-tmp-`),
  });
  const proc = server.child;
  const ended = () => proc.exitCode !== null || proc.signalCode !== null;
  try {
    await eventually(
      `${name} to be ready`,
      async () => ((await fetch(`${server.url}/readyz`, { signal: AbortSignal.timeout(1000) })).ok ? true : undefined),
      60_000,
    );
  } catch (err) {
    proc.kill('SIGKILL');
    await server.exited;
    throw err;
  }
  return {
    name,
    port: Number(new URL(server.url).port),
    url: server.url,
    dataDir,
    proc,
    output: server.output,
    async kill9() {
      if (!ended()) proc.kill('SIGKILL');
      await server.exited;
    },
    async stop() {
      if (!ended()) proc.kill('SIGTERM');
      const force = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      await server.exited;
      clearTimeout(force);
    },
  };
}

export interface Balancer {
  url: string;
  stop(): Promise<void>;
}

/**
 * haproxy in front of the replicas: round robin, no stickiness, health checks on /readyz every
 * 500 ms, and a connection that fails is tried on another replica.
 */
export async function startBalancer(replicas: Replica[]): Promise<Balancer> {
  const port = await freePort();
  const dir = makeTempDir('flotilla-haproxy-');
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'global',
      '  maxconn 2000',
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      // Long polls wait up to a minute; log follows stay open.
      '  timeout client 90s',
      '  timeout server 90s',
      '  timeout tunnel 90s',
      '  retries 3',
      '  option redispatch',
      'frontend flotilla',
      `  bind 127.0.0.1:${port}`,
      '  option forwardfor',
      '  default_backend replicas',
      'backend replicas',
      '  balance roundrobin',
      '  option httpchk GET /readyz',
      '  http-check expect status 200',
      '  default-server inter 500ms fall 2 rise 2',
      ...replicas.map((r) => `  server ${r.name} 127.0.0.1:${r.port} check`),
      '',
    ].join('\n'),
  );
  const proc = spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  proc.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await eventually(
    'haproxy to forward',
    async () => {
      if (proc.exitCode !== null) throw new Error(`haproxy exited: ${out}`);
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
      return res.ok ? true : undefined;
    },
    30_000,
  );
  return {
    url,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
