// `flotilla drift apply -f trackers.yaml --env E [--prune]` and `flotilla drift trackers --env E` (registered
// in drift.ts, loaded when run): the host trackers kept on the server per environment.
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { CliError } from '../api-client.ts';
import { type ApiFlags, clientFor } from '../command-helpers.ts';
import { formatTable, formatTime, printResult } from '../output.ts';

/** The most a trackers file may hold; the server takes 1 MiB of JSON. */
const maxFileBytes = 4 * 1024 * 1024;

export interface ApplyFlags extends ApiFlags {
  file: string;
  env: string;
  prune?: boolean;
}

interface ApplyAnswer {
  created: string[];
  updated: string[];
  unchanged: string[];
  pruned: string[];
}

interface Loaded {
  docs: unknown[];
  /** For each sent tracker, the 1-based document number in the file. */
  origin: number[];
}

async function readInput(file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of process.stdin) {
      size += (chunk as Buffer).length;
      if (size > maxFileBytes) throw new CliError(`standard input: more than ${maxFileBytes} bytes`, 2);
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    const text = await readFile(file, 'utf8');
    if (Buffer.byteLength(text) > maxFileBytes) throw new CliError(`${file}: more than ${maxFileBytes} bytes`, 2);
    return text;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(
      `${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
      2,
    );
  }
}

/** Parses multi-document YAML (JSON is YAML too); empty documents are skipped, errors name the document. */
export function parseTrackerDocuments(text: string, source: string): Loaded {
  const out: Loaded = { docs: [], origin: [] };
  const problems: string[] = [];
  parseAllDocuments(text).forEach((doc, i) => {
    const where = `${source}: document ${i + 1}`;
    if ('errors' in doc && doc.errors.length > 0) {
      problems.push(`${where}: ${doc.errors[0]?.message.split('\n')[0]}`);
      return;
    }
    const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
    if (value === null || value === undefined) return;
    if (typeof value !== 'object' || Array.isArray(value)) {
      problems.push(`${where}: expected a VersionTracker mapping`);
      return;
    }
    out.docs.push(value);
    out.origin.push(i + 1);
  });
  if (problems.length > 0) throw new CliError(problems.join('\n'), 2);
  if (out.docs.length === 0) throw new CliError(`${source}: no VersionTracker documents`, 2);
  return out;
}

/** `trackers[3].spec...` from the server becomes `document 5 (name): spec...`, one problem a line. */
function byDocument(message: string, loaded: Loaded, source: string): string {
  return message
    .split('; ')
    .map((p) =>
      p.replace(/^trackers\[(\d+)\]\.?/, (_all, i: string) => {
        const doc = loaded.docs[Number(i)] as { metadata?: { name?: unknown } } | undefined;
        const name = typeof doc?.metadata?.name === 'string' ? ` (${doc.metadata.name})` : '';
        return `${source}: document ${loaded.origin[Number(i)] ?? '?'}${name}: `;
      }),
    )
    .join('\n');
}

export async function runDriftApply(flags: ApplyFlags): Promise<ApplyAnswer> {
  if (!flags.file) throw new CliError('drift apply: -f <file> is required (- for standard input)', 2);
  if (!flags.env) throw new CliError('drift apply: --env <environment> is required', 2);
  const source = flags.file === '-' ? '(stdin)' : flags.file;
  const loaded = parseTrackerDocuments(await readInput(flags.file), source);
  const q = new URLSearchParams({ environment: flags.env });
  let answer: ApplyAnswer;
  try {
    answer = await clientFor(flags).request<ApplyAnswer>('PUT', `/api/v1/drift/trackers?${q}`, {
      trackers: loaded.docs,
      prune: flags.prune === true,
    });
  } catch (err) {
    if (err instanceof CliError && /trackers\[\d+\]/.test(err.message)) {
      throw new CliError(byDocument(err.message, loaded, source), err.exitCode, err.detail);
    }
    throw err;
  }
  if (flags.json) printResult(answer, { json: true });
  else {
    const lines = (['created', 'updated', 'unchanged', 'pruned'] as const).flatMap((what) =>
      answer[what].map((name) => `tracker/${name} ${what}`),
    );
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return answer;
}

interface TrackerRow {
  name: string;
  updatedAt: string;
  updatedBy: string;
  tracker: {
    spec: {
      name: string;
      resources: { strategy?: string; command?: string[]; path?: string; package?: string };
      remoteVersion?: { provider: string; repo?: string };
    };
  };
}

export async function runDriftTrackers(flags: ApiFlags & { env: string }): Promise<void> {
  if (!flags.env) throw new CliError('drift trackers: --env <environment> is required', 2);
  const q = new URLSearchParams({ environment: flags.env });
  const res = await clientFor(flags).request<{ trackers: TrackerRow[] }>('GET', `/api/v1/drift/trackers?${q}`);
  const rows = res.trackers.map(({ name, tracker, updatedAt, updatedBy }) => {
    const r = tracker.spec.resources;
    const upstream = tracker.spec.remoteVersion;
    return {
      name,
      subject: tracker.spec.name,
      strategy: r.strategy ?? '',
      reads: r.command?.join(' ') ?? r.path ?? r.package ?? '',
      upstream: upstream ? `${upstream.provider}${upstream.repo ? `:${upstream.repo}` : ''}` : '',
      updated: formatTime(updatedAt),
      by: updatedBy,
    };
  });
  if (flags.json) printResult(res.trackers, { json: true });
  else {
    const columns = ['name', 'subject', 'strategy', 'reads', 'upstream', 'updated', 'by'];
    process.stdout.write(formatTable(rows, columns, `no host trackers in ${flags.env}`));
  }
}
