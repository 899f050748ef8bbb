// Helpers of `npm run bench:drift` (scripts/bench-drift.ts): a local GitHub releases API that counts
// what it is asked, a kept-alive JSON client, a bounded request pool, /proc readings and a fresh
// PostgreSQL database per run.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { loadavg } from 'node:os';
import pg from 'pg';

/** A GitHub releases API for `bench/r<i>`: 30 releases each, with an ETag, counting what it is asked. */
export function fakeGithub() {
  const counts = { requests: 0, conditional: 0, notModified: 0, unknown: 0 };
  const server = createServer((req, res) => {
    counts.requests++;
    const m = /^\/repos\/bench\/r(\d+)\/releases$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
    if (!m) {
      counts.unknown++;
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
      return;
    }
    const etag = `"r${m[1]}-v1"`;
    const headers = { etag, 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '4999' };
    if (req.headers['if-none-match'] !== undefined) {
      counts.conditional++;
      if (req.headers['if-none-match'] === etag) {
        counts.notModified++;
        res.writeHead(304, headers).end();
        return;
      }
    }
    const releases = [];
    for (let minor = 9; minor >= 0; minor--)
      for (let patch = 2; patch >= 0; patch--)
        releases.push({
          tag_name: `v1.${minor}.${patch}`,
          draft: false,
          prerelease: false,
          published_at: new Date(Date.UTC(2026, minor, patch + 1)).toISOString(),
          html_url: `https://github.example/bench/r${m[1]}/releases/tag/v1.${minor}.${patch}`,
        });
    res.writeHead(200, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(releases));
  });
  return { server, counts };
}

/** User + system CPU time (ms) of a process and all its threads, from /proc (Linux; 10 ms ticks). */
export function cpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/** Bytes a process has caused to be written to storage (`write_bytes` of /proc/<pid>/io). */
export function writtenBytes(pid: number | undefined): number {
  try {
    return Number(/^write_bytes: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}

export const keepAlive = new Agent({ keepAlive: true, maxSockets: 64 });

/** One request over a kept-alive socket (cheaper for the generator than fetch); throws unless 2xx. */
export function api<T>(base: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      {
        method,
        agent: keepAlive,
        headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if ((res.statusCode ?? 0) >= 300)
            reject(new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`));
          else resolve((text && res.headers['content-type']?.includes('json') ? JSON.parse(text) : text) as T);
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Runs `count` jobs with `inFlight` at once; returns each job's latency in ms. */
export async function pool(count: number, inFlight: number, job: (i: number) => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const started = performance.now();
      await job(i);
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
  return latencies.sort((a, b) => a - b);
}

export const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
export const ms = (n: number) => `${n.toFixed(1)} ms`;
export const sleep = (milliseconds: number) => new Promise((r) => setTimeout(r, milliseconds));
export const verdict = (ok: boolean, goal: string) => console.log(`  ${ok ? 'PASS' : 'MISSED'}: ${goal}`);
export const load = () =>
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;

export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 1000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Creates a fresh database on the PostgreSQL server of `url`; returns its URL and how to drop it. */
export async function freshPostgres(url: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `flotilla_bench_drift_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const own = new URL(url);
  own.pathname = `/${name}`;
  const drop = async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => client.end());
  };
  return { url: own.toString(), drop };
}
