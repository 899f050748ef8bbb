import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import type { Logger } from 'pino';

/** The data dir holds tokens' digests, keys and uploads: only the server's own user may read it. */
export const privateDirMode = 0o700;
export const privateFileMode = 0o600;

/** Creates `dir` (and any missing parents) 0700. */
export function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: privateDirMode });
}

/**
 * Tightens a data dir an older version left world-readable (warning if it cannot); a missing one is
 * created 0700 by whatever first writes into it.
 */
export function tightenDataDir(dataDir: string, logger: Logger): void {
  if (!existsSync(dataDir)) return;
  try {
    chmodSync(dataDir, privateDirMode);
  } catch (err) {
    logger.warn({ dataDir, err: (err as Error).message }, 'could not make the data directory private (0700)');
  }
}
