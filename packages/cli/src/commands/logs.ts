import type { LogPage, LogRecord } from '@flotilla/protocol';
import { parseDuration } from '@flotilla/protocol/duration';
import type { Command } from 'commander';
import { CliError } from '../api-client.ts';
import { type ApiFlags, clientFor, withApiOptions } from '../command-helpers.ts';
import { eventFrames, openEventStream, type SseFrame } from '../event-stream.ts';
import { examples } from '../help.ts';

const levels = ['trace', 'debug', 'info', 'warn', 'error'];
// `--follow` shows this many recent lines first unless --limit says otherwise, like `tail -f`.
const followBacklog = 20;

interface LogFlags extends ApiFlags {
  instance?: string;
  environment?: string;
  serviceVersion?: string;
  level?: string;
  since?: string;
  from?: string;
  to?: string;
  grep?: string;
  limit?: string;
  follow?: boolean;
}

/** The search filters as a query string (without `limit`, `cursor` and `follow`). */
export function logQuery(service: string | undefined, flags: LogFlags, now = Date.now()): URLSearchParams {
  const q = new URLSearchParams();
  if (service) q.set('service', service);
  if (flags.instance) q.set('instance', flags.instance);
  if (flags.environment) q.set('environment', flags.environment);
  if (flags.serviceVersion) q.set('version', flags.serviceVersion);
  if (flags.level) {
    if (!levels.includes(flags.level)) throw new CliError(`--level must be one of ${levels.join(', ')}`, 2);
    q.set('level', flags.level);
  }
  if (flags.since && flags.from) throw new CliError('give --since or --from, not both', 2);
  if (flags.since) {
    let ms: number;
    try {
      ms = parseDuration(flags.since);
    } catch (err) {
      throw new CliError(`--since: ${(err as Error).message}`, 2);
    }
    q.set('from', new Date(now - ms).toISOString());
  }
  for (const name of ['from', 'to'] as const) {
    const text = flags[name];
    if (text === undefined) continue;
    const t = Date.parse(text);
    if (Number.isNaN(t)) throw new CliError(`--${name}: "${text}" is not an ISO-8601 time`, 2);
    q.set(name, new Date(t).toISOString());
  }
  if (flags.grep) q.set('q', flags.grep);
  return q;
}

function parseLimit(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new CliError('--limit must be a whole number from 1 to 1000', 2);
  return n;
}

/** `time level instance service[@version] unit message`, one line; `--json` prints the record. */
export function formatLine(line: LogRecord, json = false): string {
  if (json) return `${JSON.stringify(line)}\n`;
  return `${line.time} ${line.level.padEnd(5)} ${line.instanceId} ${line.service}${line.version ? `@${line.version}` : ''} ${line.unit || '-'} ${line.message}\n`;
}

export function registerLogsCommands(program: Command): void {
  withApiOptions(
    program
      .command('logs [service]')
      .description("search services' log lines (oldest first), or follow new ones")
      .option('--instance <id>', 'only this instance')
      .option('--environment <env>', 'only this environment')
      .option('--service-version <version>', 'only lines written by this version, e.g. one that was rolled back')
      .option('--level <level>', `this level and above (${levels.join(', ')})`)
      .option('--since <duration>', 'lines of the last duration, e.g. 15m, 1h, 2d')
      .option('--from <time>', 'lines at or after this ISO-8601 time')
      .option('--to <time>', 'lines at or before this ISO-8601 time')
      .option('--grep <text>', 'lines whose message contains this text (any case)')
      .option('--limit <n>', 'how many of the newest matching lines, at most 1000 (default: 200, or 20 with --follow)')
      .option('--follow', 'after the recent lines, print new ones as they arrive, until Ctrl-C')
      .addHelpText(
        'after',
        examples([
          'flotilla logs web --since 1h',
          'flotilla logs web --level warn --grep timeout',
          'flotilla logs --instance web-01 --follow',
        ]),
      ),
  ).action(async (service: string | undefined, flags: LogFlags) => {
    const query = logQuery(service, flags);
    const limit = parseLimit(flags.limit);
    if (flags.follow) return follow(service, query, limit ?? followBacklog, flags);
    if (limit !== undefined) query.set('limit', String(limit));
    const page = await clientFor(flags).request<LogPage>('GET', `/api/v1/logs?${query}`);
    if (page.lines.length === 0) process.stderr.write(`${noLines(service, query)}\n`);
    process.stdout.write(
      page.lines
        .toReversed()
        .map((l) => formatLine(l, flags.json))
        .join(''),
    );
  });
}

/** What an empty answer says: nothing uploaded yet, or nothing that matches the filters. */
function noLines(service: string | undefined, query: URLSearchParams): string {
  const filtered = [...query.keys()].some((k) => k !== 'service' && k !== 'limit');
  if (filtered) return 'no lines match';
  return service ? `no lines yet from ${service}` : 'no lines yet';
}

/**
 * Opens the event stream first and only then reads the recent lines, so nothing stored in between is
 * missed; streamed lines already in that page are skipped.
 */
async function follow(
  service: string | undefined,
  query: URLSearchParams,
  backlog: number,
  flags: LogFlags,
): Promise<void> {
  const streamQuery = new URLSearchParams(query);
  streamQuery.set('follow', '1');
  const reader = await openEventStream(flags, `/api/v1/logs?${streamQuery}`);
  let seen: Set<string> | null = null;
  const held: LogRecord[] = [];
  const print = (line: LogRecord) => {
    if (seen?.has(line.id)) return;
    process.stdout.write(formatLine(line, flags.json));
  };
  const handle = (frame: SseFrame) => {
    if (frame.event === 'line') {
      const line = JSON.parse(frame.data) as LogRecord;
      if (seen) print(line);
      else held.push(line);
    } else if (frame.event === 'dropped') {
      const { dropped } = JSON.parse(frame.data) as { dropped: number };
      process.stderr.write(`flotilla: ${dropped} lines were skipped because the output did not keep up\n`);
    } else if (frame.event === 'closed') {
      // The server ends a stream whose reader fell too far behind rather than buffer for it.
      const { reason } = JSON.parse(frame.data) as { reason: string };
      process.stderr.write(`flotilla: the server closed the stream: ${reason}\n`);
    }
  };
  let connected = false;
  let pageRead: Promise<void> | null = null;
  for await (const frame of eventFrames(reader)) {
    handle(frame);
    if (!connected && frame.event === ':') {
      connected = true;
      pageRead = (async () => {
        const pageQuery = new URLSearchParams(query);
        pageQuery.set('limit', String(backlog));
        const page = await clientFor(flags).request<LogPage>('GET', `/api/v1/logs?${pageQuery}`);
        const recent = page.lines.toReversed();
        if (recent.length === 0) process.stderr.write(`${noLines(service, query)}; waiting for new ones\n`);
        for (const line of recent) process.stdout.write(formatLine(line, flags.json));
        seen = new Set(recent.map((l) => l.id));
        for (const line of held.splice(0)) print(line);
      })();
      // A failed page read ends the command with its message.
      pageRead.catch(() => reader.cancel());
    }
  }
  if (pageRead) await pageRead;
  throw new CliError('the server ended the log stream');
}
