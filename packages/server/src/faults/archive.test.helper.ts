import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tar from 'tar';
import { makeTempDir } from '../../test/support/temp-dir.ts';

/** A valid `fault.json` body, with `overrides` merged over it. */
export function faultMeta(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    instanceId: 'host-1',
    service: 'web',
    version: '1.2.0',
    time: '2026-03-01T10:00:00.000Z',
    reason: 'exit',
    exitCode: 3,
    signal: null,
    state: { restarts: 2, phase: 'running' },
    files: ['core.123'],
    ...overrides,
  };
}

export interface FaultArchiveSpec {
  /** `fault.json`: an object is serialised, a string is written as is, undefined leaves it out. */
  meta?: unknown;
  logTail?: string;
  /** Files under `files/`. */
  files?: Record<string, string | Buffer>;
  /** Entries added verbatim next to the root, e.g. `../escape` (created as files first). */
  extra?: string[];
  /** Symbolic links `name -> target` added at the root. */
  links?: Record<string, string>;
}

/** Builds a fault .tar.gz the way the agent packs one and returns its path (removed when the test file ends). */
export async function makeFaultArchive(spec: FaultArchiveSpec = {}): Promise<string> {
  // In a folder of its own, so `extra` entries like `../x` stay inside what is removed.
  const dir = join(makeTempDir('flotilla-fault-'), 'fault');
  mkdirSync(dir);
  const write = (name: string, data: string | Buffer) => {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), data);
  };
  const meta = 'meta' in spec ? spec.meta : faultMeta();
  if (meta !== undefined) write('fault.json', typeof meta === 'string' ? meta : JSON.stringify(meta));
  if (spec.logTail !== undefined) write('log-tail.txt', spec.logTail);
  const files = Object.entries(spec.files ?? { 'core.123': 'core bytes' });
  for (const [name, data] of files) write(`files/${name}`, data);
  for (const [name, target] of Object.entries(spec.links ?? {})) symlinkSync(target, join(dir, name));
  const extra = spec.extra ?? [];
  for (const name of extra) writeFileSync(join(dir, name), 'outside');
  const out = join(makeTempDir('flotilla-fault-tgz-'), 'fault.tar.gz');
  const entries = ['fault.json', 'log-tail.txt', 'files', ...Object.keys(spec.links ?? {})].filter((name) => {
    if (name === 'fault.json') return meta !== undefined;
    if (name === 'log-tail.txt') return spec.logTail !== undefined;
    if (name === 'files') return files.length > 0;
    return true;
  });
  await tar.c({ gzip: true, file: out, cwd: dir, portable: true, preservePaths: extra.length > 0 }, [
    ...entries,
    ...extra,
  ]);
  return out;
}
