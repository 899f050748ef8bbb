import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, open } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
// Types only (erased): the protocol index pulls in typebox, which the host agent never loads.
import type { VersionTracker } from '@flotilla/protocol';
import { compileExtraction, ExtractionError } from '@flotilla/protocol/drift-extraction';

// Host trackers (Command, File, Package) evaluated on the agent's own host. Loaded with a dynamic
// import only when the agent has host trackers: it brings re2js, which an idle agent must not carry.

export type HostStrategy = 'Command' | 'File' | 'Package';

export interface HostVersion {
  runningVersion: string;
  /** What was read: the command line, the file path, or `dpkg:<name>` / `rpm:<name>`. */
  extractedFrom: string;
  resourceKind: HostStrategy;
}

export interface HostTrackerResult {
  subject: string;
  versions: HostVersion[];
  /** Why no version could be read; the other trackers are unaffected. */
  error?: string;
  /** Something worth knowing although a version was read (non-zero exit, cut output). */
  warning?: string;
  /** Command only: how the process ended. */
  exit?: { code: number | null; signal: string | null };
}

export interface HostTrackerOptions {
  /** Command timeout, then SIGKILL of its process group (default 10 s). */
  timeoutMs?: number;
  /** Most bytes read from a command's stdout+stderr or from a file (default 64 KiB). */
  maxBytes?: number;
  /** PATH for commands and for finding dpkg-query / rpm (default: the agent's, else a standard one). */
  path?: string;
  /** Trackers evaluated at once by evaluateHostTrackers (default 2). */
  concurrency?: number;
}

export const defaultTimeoutMs = 10_000;
export const defaultMaxBytes = 64 * 1024;
const standardPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
// dpkg (`name[:arch]`) and rpm names; a leading letter or digit, so no name reads as an option or glob.
const packageName = /^[A-Za-z0-9][A-Za-z0-9+._-]{0,253}(:[a-z0-9][a-z0-9-]{0,31})?$/;

/** Evaluates one host tracker; never throws: every failure becomes `error`. */
export async function evaluateHostTracker(
  tracker: VersionTracker,
  opts: HostTrackerOptions = {},
): Promise<HostTrackerResult> {
  const subject = tracker.spec.name;
  try {
    const extract = compileExtraction(tracker.spec.localVersion?.extraction);
    const { resources } = tracker.spec;
    switch (resources.strategy) {
      case 'Command':
        return await runCommand(subject, resources.command, extract, opts);
      case 'File':
        return await readVersionFile(subject, resources.path, extract, opts);
      case 'Package':
        return await packageVersion(subject, resources.package, opts);
      default:
        return fail(subject, `resources.strategy ${resources.strategy ?? 'Pods'} is not a host strategy`);
    }
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return fail(subject, err instanceof ExtractionError ? why : `unexpected: ${why}`);
  }
}

/** Evaluates trackers a few at a time (default 2), results in the order given. */
export async function evaluateHostTrackers(
  trackers: readonly VersionTracker[],
  opts: HostTrackerOptions = {},
): Promise<HostTrackerResult[]> {
  const results: HostTrackerResult[] = new Array(trackers.length);
  let next = 0;
  const worker = async () => {
    while (next < trackers.length) {
      const i = next++;
      results[i] = await evaluateHostTracker(trackers[i] as VersionTracker, opts);
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency ?? 2, trackers.length));
  await Promise.all(Array.from({ length: n }, worker));
  return results;
}

type Extract = (text: string) => string | null;

function fail(subject: string, error: string): HostTrackerResult {
  return { subject, versions: [], error };
}

async function runCommand(
  subject: string,
  argv: string[] | undefined,
  extract: Extract,
  opts: HostTrackerOptions,
): Promise<HostTrackerResult> {
  if (!argv?.length) return fail(subject, 'resources.command: required for the Command strategy');
  const extractedFrom = argv.join(' ');
  const out = await capture(argv, opts);
  if (out.spawnError) return fail(subject, `${argv[0]}: ${out.spawnError}`);
  const exit = { code: out.code, signal: out.signal };
  const cut = out.truncated ? `output over ${out.limit} bytes: only the first ${out.limit} were read` : undefined;
  if (out.timedOut) return { ...fail(subject, `${argv[0]}: no exit within ${out.timeoutMs} ms (killed)`), exit };
  const version = extract(out.text);
  const failed = !out.truncated && out.code !== 0;
  const ending = out.code !== null ? `exited with code ${out.code}` : `ended by ${out.signal}`;
  if (version === null) {
    const why = failed ? `${argv[0]} ${ending} and no version was extracted` : noMatch(cut);
    return { ...fail(subject, why), exit };
  }
  const warning = failed ? `${argv[0]} ${ending}; the version was extracted from its output anyway` : cut;
  return {
    subject,
    versions: [{ runningVersion: version, extractedFrom, resourceKind: 'Command' }],
    exit,
    ...(warning ? { warning } : {}),
  };
}

const noMatch = (cut?: string) => `no version extracted from the output${cut ? ` (${cut})` : ''}`;

interface Captured {
  text: string;
  code: number | null;
  signal: string | null;
  truncated: boolean;
  timedOut: boolean;
  limit: number;
  timeoutMs: number;
  spawnError?: string;
}

/** Runs argv without a shell, stdout and stderr interleaved into one capped buffer. */
function capture(argv: string[], opts: HostTrackerOptions): Promise<Captured> {
  const limit = opts.maxBytes ?? defaultMaxBytes;
  const timeoutMs = opts.timeoutMs ?? defaultTimeoutMs;
  const env = { PATH: opts.path ?? process.env.PATH ?? standardPath, LANG: 'C', LC_ALL: 'C' };
  return new Promise((resolve) => {
    // Its own process group, so a kill reaches whatever the command started too.
    const child = spawn(argv[0] as string, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    let timedOut = false;
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      if (truncated) return;
      const room = limit - size;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      size += Math.min(chunk.length, room);
      if (chunk.length > room) {
        truncated = true; // enough read: stop the command rather than drain it
        killGroup();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const done = (code: number | null, signal: string | null, spawnError?: string) => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      resolve({ text, code, signal, truncated, timedOut, limit, timeoutMs, ...(spawnError ? { spawnError } : {}) });
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      done(null, null, err.code === 'ENOENT' ? 'command not found' : err.message);
    });
    // On exit, leftovers of the group holding the pipes open are killed, so `close` always comes.
    child.on('exit', killGroup);
    child.on('close', (code, signal) => done(code, signal));
  });
}

async function readVersionFile(
  subject: string,
  path: string | undefined,
  extract: Extract,
  opts: HostTrackerOptions,
): Promise<HostTrackerResult> {
  if (!path) return fail(subject, 'resources.path: required for the File strategy');
  if (!isAbsolute(path)) return fail(subject, `resources.path: ${path} is not an absolute path`);
  const limit = opts.maxBytes ?? defaultMaxBytes;
  let text: string;
  let truncated = false;
  try {
    // O_NONBLOCK: opening a FIFO must not hang; the type is checked on the opened file, not the name.
    const file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    try {
      if (!(await file.stat()).isFile()) return fail(subject, `${path}: not a regular file`);
      // Read to EOF, not to st_size: /proc and /sys files report a size of 0.
      const buf = Buffer.alloc(limit + 1);
      let size = 0;
      for (let n = 1; n > 0 && size < buf.length; size += n) {
        n = (await file.read(buf, size, buf.length - size, size)).bytesRead;
      }
      truncated = size > limit;
      text = buf.subarray(0, Math.min(size, limit)).toString('utf8');
    } finally {
      await file.close();
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return fail(subject, `${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  const cut = truncated ? `file over ${limit} bytes: only the first ${limit} were read` : undefined;
  const version = extract(text);
  if (version === null) return fail(subject, `no version extracted from ${path}${cut ? ` (${cut})` : ''}`);
  return {
    subject,
    versions: [{ runningVersion: version, extractedFrom: path, resourceKind: 'File' }],
    ...(cut ? { warning: cut } : {}),
  };
}

type PackageTool = 'dpkg' | 'rpm';
const toolCommands: Record<PackageTool, (name: string) => string[]> = {
  // Only the installed state counts: a removed package keeps its version in dpkg's database.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format, not a JS template
  dpkg: (name) => ['dpkg-query', '-W', '-f=${db:Status-Status} ${Version}\\n', '--', name],
  rpm: (name) => ['rpm', '-q', '--qf', '%{VERSION}-%{RELEASE}\\n', '--', name],
};

async function packageVersion(
  subject: string,
  name: string | undefined,
  opts: HostTrackerOptions,
): Promise<HostTrackerResult> {
  if (!name) return fail(subject, 'resources.package: required for the Package strategy');
  if (!packageName.test(name)) {
    return fail(subject, `resources.package: "${name}" is not a valid package name (letters, digits, + . _ -)`);
  }
  const tools = await availableTools(opts.path ?? process.env.PATH ?? standardPath);
  if (tools.length === 0) return fail(subject, 'no package manager found (neither dpkg-query nor rpm)');
  for (const tool of tools) {
    const out = await capture(toolCommands[tool](name), { ...opts, maxBytes: 16 * 1024 });
    if (out.spawnError || out.timedOut) return fail(subject, `${tool}: ${out.spawnError ?? 'timed out'}`);
    const versions = out.code === 0 ? parseVersions(tool, out.text) : [];
    if (versions.length > 0) {
      return {
        subject,
        versions: versions.map((v) => ({
          runningVersion: v,
          extractedFrom: `${tool}:${name}`,
          resourceKind: 'Package',
        })),
      };
    }
  }
  return fail(subject, `package ${name} is not installed`);
}

/** Installed versions, one a line (several for multi-arch or multi-version packages). */
function parseVersions(tool: PackageTool, text: string): string[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const versions =
    tool === 'dpkg'
      ? lines.map((l) => l.split(' ')).flatMap(([status, v]) => (status === 'installed' && v ? [v] : []))
      : lines.map((l) => l.trim());
  return [...new Set(versions)].filter((v) => v.length <= 256);
}

async function availableTools(path: string): Promise<PackageTool[]> {
  const found: PackageTool[] = [];
  for (const [tool, bin] of [
    ['dpkg', 'dpkg-query'],
    ['rpm', 'rpm'],
  ] as const) {
    for (const dir of path.split(delimiter)) {
      if (!isAbsolute(dir)) continue;
      if (
        await access(join(dir, bin), constants.X_OK).then(
          () => true,
          () => false,
        )
      ) {
        found.push(tool);
        break;
      }
    }
  }
  return found;
}
