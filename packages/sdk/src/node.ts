import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type InstanceIdStorage, randomUuid } from './instance-id.ts';

export type { InstanceIdStorage } from './instance-id.ts';
export { loadOrCreateInstanceId } from './instance-id.ts';

/**
 * Keeps the instance id in a file readable only by its owner (mode 0600), creating the directory
 * when missing. Use with `loadOrCreateInstanceId(fileInstanceIdStorage(path))`.
 */
export function fileInstanceIdStorage(path: string): InstanceIdStorage {
  return {
    async get() {
      try {
        return (await readFile(path, 'utf8')).trim() || null;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
    },
    async set(id) {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      // Written beside the target and renamed, so a reader never sees a half-written id.
      const temporary = `${path}.${randomUuid()}.tmp`;
      try {
        await writeFile(temporary, `${id}\n`, { mode: 0o600, flag: 'wx' });
        await rename(temporary, path);
      } catch (error) {
        await rm(temporary, { force: true });
        throw error;
      }
    },
  };
}
