// A server for agent benchmarks, in the benchmark's own process on a loopback port, with an admin
// token and a small JSON client for its API.
import { join } from 'node:path';
import { resolveServerConfig, startServer } from '@flotilla/server';
import pino from 'pino';

export async function startAdminServer(work: string) {
  const adminToken = `flt_bench_${Math.random().toString(36).slice(2)}`;
  const server = await startServer(
    resolveServerConfig(
      { host: '127.0.0.1', port: '0', dataDir: join(work, 'server'), geodb: 'off' },
      { FLOTILLA_ADMIN_TOKEN: adminToken },
    ),
    { logger: pino({ level: 'silent' }) },
  );
  const call = async (method: string, path: string, body?: unknown, type = 'application/json') => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { 'content-type': type } : {}) },
      body: body === undefined ? undefined : body instanceof Buffer ? body : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<Record<string, unknown>>;
  };
  return { server, call };
}
