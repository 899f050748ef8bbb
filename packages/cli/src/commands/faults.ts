import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { FaultDetail, FaultList, FaultSummary } from '@flotilla/protocol';
import type { Command } from 'commander';
import { apiError, CliError, resolveLogin, unreachable } from '../api-client.ts';
import { type ApiFlags, clientFor, countOption, withApiOptions } from '../command-helpers.ts';
import { examples } from '../help.ts';
import { formatTime, printResult } from '../output.ts';

const enc = encodeURIComponent;
const unitMs: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `--since`: a duration back from now (`90m`, `7d`) or an RFC 3339 time. */
export function sinceTime(text: string, now = Date.now()): string {
  const m = /^(\d+)(s|m|h|d|w)$/.exec(text.trim());
  if (m) return new Date(now - Number(m[1]) * (unitMs[m[2] as string] as number)).toISOString();
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw new CliError(`--since takes a duration like 7d or 12h, or an RFC 3339 time; got "${text}"`, 2);
  return new Date(t).toISOString();
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

function exitOf(f: FaultSummary): string {
  if (f.signal) return f.signal;
  return f.exitCode === null ? '' : String(f.exitCode);
}

const summaryRow = (f: FaultSummary) => ({
  id: f.id,
  time: formatTime(f.time),
  environment: f.environment,
  instance: f.instanceId,
  service: f.service,
  version: f.version ?? '',
  reason: f.reason,
  exit: exitOf(f),
  size: formatBytes(f.size),
});

async function list(
  flags: ApiFlags & {
    service?: string;
    instance?: string;
    environment?: string;
    since?: string;
    limit: number;
    consumer?: string;
  },
) {
  if (flags.consumer) {
    const { printConsumerFaults } = await import('./consumer-views.ts');
    const from = flags.since ? sinceTime(flags.since) : undefined;
    return printConsumerFaults(flags.consumer, { ...flags, ...(from ? { from } : {}) }, flags.limit, flags);
  }
  const client = clientFor(flags);
  const limit = flags.limit;
  const base: Record<string, string> = {};
  if (flags.service) base.service = flags.service;
  if (flags.instance) base.instance = flags.instance;
  if (flags.environment) base.environment = flags.environment;
  if (flags.since) base.from = sinceTime(flags.since);
  const faults: FaultSummary[] = [];
  let cursor: string | null = null;
  // Pages of at most 500; the bound keeps a misbehaving server from looping us.
  for (let page = 0; page < 1000 && faults.length < limit; page++) {
    const q = new URLSearchParams({ ...base, limit: String(Math.min(500, limit - faults.length)) });
    if (cursor) q.set('cursor', cursor);
    const res: FaultList = await client.request<FaultList>('GET', `/api/v1/faults?${q}`);
    faults.push(...res.faults);
    cursor = res.nextCursor;
    if (!cursor) break;
  }
  printResult(
    { faults },
    {
      json: flags.json,
      rows: faults.map(summaryRow),
      columns: ['id', 'time', 'environment', 'instance', 'service', 'version', 'reason', 'exit', 'size'],
      empty: 'no fault reports',
    },
  );
}

async function show(id: string, flags: ApiFlags) {
  const f = await clientFor(flags).request<FaultDetail>('GET', `/api/v1/faults/${enc(id)}`);
  if (flags.json) {
    printResult(f, { json: true });
    return;
  }
  const exit = f.signal ? `signal ${f.signal}` : f.exitCode === null ? 'no exit code' : `exit code ${f.exitCode}`;
  const out = [
    `fault ${f.id}`,
    `${f.service} ${f.version ?? '(unknown version)'} on ${f.instanceId} in ${f.environment}`,
    `at ${formatTime(f.time)} (received ${formatTime(f.receivedAt)}): ${f.reason}, ${exit}`,
    `archive ${formatBytes(f.size)}, ${f.digest}`,
    `files: ${f.files.length > 0 ? f.files.join(', ') : '(none)'}`,
    '',
    'state:',
    JSON.stringify(f.state, null, 2),
    '',
    `log tail (${f.logTail.length} lines):`,
    ...f.logTail,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

async function download(id: string, flags: ApiFlags & { output?: string; force?: boolean }) {
  const client = clientFor(flags);
  const meta = await client.request<FaultDetail>('GET', `/api/v1/faults/${enc(id)}`);
  const out = flags.output ?? `fault-${meta.service.replace(/[^A-Za-z0-9._-]/g, '_')}-${meta.id}.tar.gz`;
  if (existsSync(out) && !flags.force) throw new CliError(`${out} already exists; pass --force to replace it`);
  const login = resolveLogin(flags);
  const path = `/api/v1/faults/${enc(id)}/archive`;
  let res: Response;
  try {
    res = await fetch(`${login.server}${path}`, { headers: { authorization: `Bearer ${login.token}` } });
  } catch (err) {
    throw unreachable(login.server, err);
  }
  if (!res.ok || !res.body) throw apiError('GET', path, res.status, res.statusText, await res.text().catch(() => ''));
  const part = `${out}.part`;
  const hash = createHash('sha256');
  const hasher = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(res.body as WebReadableStream), hasher, createWriteStream(part));
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== meta.digest) throw new CliError(`digest mismatch: expected ${meta.digest}, received ${got}`);
    await rename(part, out);
  } catch (err) {
    await rm(part, { force: true });
    throw err;
  }
  if (flags.json) printResult({ file: out, digest: meta.digest, size: meta.size }, { json: true });
  else process.stdout.write(`${out}: ${formatBytes(meta.size)}, ${meta.digest} verified\n`);
}

export function registerFaultsCommands(program: Command): void {
  const cmd = program
    .command('faults')
    .description('fault reports that agents upload when a service exits unexpectedly');
  withApiOptions(cmd.command('list').description('list fault reports, newest first'))
    .option('--service <name>', 'only this service')
    .option('--instance <id>', 'only this instance')
    .option('--environment <name>', 'only this environment')
    .option('--since <when>', 'only faults since a duration ago (7d, 12h) or an RFC 3339 time')
    .addOption(countOption('--limit <n>', 'at most this many', 50))
    .option('--consumer <name>', "the faults this consumer server last reported of this server's services, instead")
    .addHelpText(
      'after',
      examples([
        'flotilla faults list --service web --since 7d',
        'flotilla faults list --consumer acme --since 1d',
        'flotilla faults show <id>',
        'flotilla faults download <id>',
      ]),
    )
    .action(list);
  withApiOptions(cmd.command('show <id>').description('show a fault report: summary, state and log tail')).action(show);
  withApiOptions(cmd.command('download <id>').description('download the archive of a fault report'))
    .option('-o, --output <file>', 'where to write it (default: fault-<service>-<id>.tar.gz)')
    .option('--force', 'replace an existing file')
    .action(download);
}
