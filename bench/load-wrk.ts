import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { LoadOptions, LoadResult } from './workload.ts';

const run = promisify(execFile);

export async function hasWrk(): Promise<boolean> {
  return run('wrk', ['--version']).then(
    () => true,
    (err: { code?: string | number }) => err.code !== 'ENOENT',
  );
}

/** Drives the load with wrk (Debian package `wrk`), which leaves nearly a whole core to the server. */
export async function runWrk(opts: LoadOptions, dir: string): Promise<LoadResult> {
  const script = join(dir, 'checkin.lua');
  const lua = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  writeFileSync(
    script,
    [
      `local reqs = {${opts.requests.map((r) => `{${lua(r.forwardedFor)},${lua(r.body)}}`).join(',\n')}}`,
      // The requests are built once, so the generator spends its share of the CPU on sending them.
      'local built = {}',
      'local n = 0',
      'init = function(args)',
      '  for i, r in ipairs(reqs) do',
      '    built[i] = wrk.format("POST", nil, { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = r[1] }, r[2])',
      '  end',
      'end',
      'request = function()',
      '  n = n % #built + 1',
      '  return built[n]',
      'end',
    ].join('\n'),
  );
  const args = ['-t1', `-c${opts.connections}`, `-d${opts.durationSeconds}s`, '--latency', '-s', script, opts.url];
  const { stdout } = await run('wrk', args, { maxBuffer: 1 << 20 });
  const total = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const socketErrors = socket ? socket.slice(1).reduce((n, x) => n + Number(x), 0) : 0;
  const percentile = (p: number) => toMs(new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(stdout));
  return {
    generator: 'wrk',
    acknowledged: total - non2xx,
    errors: non2xx + socketErrors,
    latencyMs: {
      p50: percentile(50),
      p90: percentile(90),
      p99: percentile(99),
      max: toMs(/Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)/.exec(stdout)),
    },
  };
}

function toMs(m: RegExpExecArray | null): number {
  if (!m) return Number.NaN;
  const value = Number(m[1]);
  return m[2] === 'us' ? value / 1000 : m[2] === 's' ? value * 1000 : value;
}
