// Federation latency: the time from a publish acknowledged by a provider server to a consumer server
// having that version (verified, re-signed, published), both real `flotilla server` processes on loopback.
//
//   node --conditions=@flotilla/source scripts/bench-federation.ts [--small 10] [--large 3] [--large-mib 50]
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { c as tar } from 'tar';

const { values: args } = parseArgs({
  options: {
    small: { type: 'string', default: '10' },
    large: { type: 'string', default: '3' },
    'large-mib': { type: 'string', default: '50' },
  },
});
const root = new URL('..', import.meta.url).pathname;
const cli = join(root, 'packages/cli/src/main.ts');
const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-federation-'));
const admin = `flt_bench_${randomBytes(16).toString('hex')}`;
const children: ChildProcess[] = [];

async function startServer(name: string, flags: string[], env: Record<string, string> = {}): Promise<string> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@flotilla/source',
      cli,
      'server',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--geodb',
      'off',
      '--data-dir',
      join(work, name),
      '--log-format',
      'json',
      ...flags,
    ],
    { env: { ...process.env, FLOTILLA_ADMIN_TOKEN: admin, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${out}`)), 30_000);
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    child.stderr?.on('data', (c: Buffer) => {
      out += c.toString();
    });
  });
}

async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: { token?: string } | null }> {
  const raw = body instanceof Buffer;
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${admin}`,
      ...(body === undefined ? {} : { 'content-type': raw ? 'application/gzip' : 'application/json' }),
    },
    body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function artifact(bytes: number): Promise<Buffer> {
  const dir = join(work, `art-${bytes}-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'flotilla.json'), JSON.stringify({ run: { command: 'true' } }));
  // Random bytes, so gzip keeps the size and the transfer is what the figure says.
  writeFileSync(join(dir, 'payload.bin'), randomBytes(bytes));
  const file = `${dir}.tar.gz`;
  await tar({ gzip: { level: 1 }, file, cwd: dir, portable: true }, ['.']);
  return readFileSync(file);
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;

try {
  const provider = await startServer('provider', []);
  await call(provider, 'POST', '/api/v1/services', { name: 'web' });
  await call(provider, 'PUT', '/api/v1/profiles/partner', { services: ['web'] });
  const token = (await call(provider, 'POST', '/api/v1/consumers', { name: 'bench', profile: 'partner' })).json
    ?.token as string;
  const consumer = await startServer('consumer', ['--provider-url', provider], { FLOTILLA_PROVIDER_TOKEN: token });
  const rounds: Array<[string, number, number]> = [
    ['1 KiB', 1024, Number(args.small)],
    [`${args['large-mib']} MiB`, Number(args['large-mib']) * 1024 * 1024, Number(args.large)],
  ];
  let n = 0;
  for (const [label, bytes, count] of rounds) {
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const body = await artifact(bytes);
      const version = `1.0.${n++}`;
      const put = await call(provider, 'PUT', `/api/v1/services/web/versions/${version}`, body);
      if (put.status !== 201) throw new Error(`publish: ${put.status} ${JSON.stringify(put.json)}`);
      const acknowledged = performance.now();
      for (;;) {
        if ((await call(consumer, 'GET', `/api/v1/services/web/versions/${version}`)).status === 200) break;
        if (performance.now() - acknowledged > 120_000) throw new Error(`${version} never reached the consumer`);
        await new Promise((r) => setTimeout(r, 10));
      }
      times.push(performance.now() - acknowledged);
      await new Promise((r) => setTimeout(r, 200));
    }
    times.sort((a, b) => a - b);
    console.log(
      `${label.padEnd(8)} x${count}: publish acknowledged -> on the consumer: median ${pct(times, 50).toFixed(0)} ms, p90 ${pct(times, 90).toFixed(0)} ms, max ${(times.at(-1) as number).toFixed(0)} ms`,
    );
  }
} finally {
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
  rmSync(work, { recursive: true, force: true });
}
