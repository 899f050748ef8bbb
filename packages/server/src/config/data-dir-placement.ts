// A server run by a `flotilla agent` as a service of its own catalog: the agent replaces the version's
// directory on every update, so data kept under it would be lost with the next one (docs/self-update.md).
import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { ConfigError } from '../errors.ts';
import type { ServerConfig } from './config.ts';

/** The real path of `path`, resolving what exists of it (the data directory may not exist yet). */
function realPath(path: string): string {
  const absolute = resolve(path);
  if (existsSync(absolute)) return realpathSync(absolute);
  const parent = dirname(absolute);
  return parent === absolute ? absolute : resolve(realPath(parent), relative(parent, absolute));
}

function inside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * Refuses a data directory or SQLite file inside `serviceDir`, the agent's directory of this service
 * (`FLOTILLA_SERVICE_DIR`, set for every service the agent runs); absent, the server is not an agent's service.
 */
export function refuseDataInsideService(config: Pick<ServerConfig, 'dataDir' | 'database'>, serviceDir?: string) {
  if (!serviceDir) return;
  const service = realPath(serviceDir);
  const sqlite = /^postgres(ql)?:\/\//.test(config.database) ? [] : [['the SQLite database', config.database]];
  for (const [what, path] of [['the data directory', config.dataDir], ...sqlite] as const) {
    if (!path || !inside(realPath(path), service)) continue;
    throw new ConfigError(
      `${what} ${path} is inside ${serviceDir}, where the agent running this server replaces the version's ` +
        'files on every update: give --data-dir (and --database) an absolute path outside it (docs/self-update.md)',
    );
  }
}
