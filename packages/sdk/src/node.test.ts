import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileInstanceIdStorage, loadOrCreateInstanceId } from './node.ts';

let directory = '';
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'flotilla-sdk-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('fileInstanceIdStorage', () => {
  it('creates the directory and an owner-only file, and loads the same id again', async () => {
    const path = join(directory, 'state', 'nested', 'instance-id');
    const id = await loadOrCreateInstanceId(fileInstanceIdStorage(path));
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await readFile(path, 'utf8')).trim()).toBe(id);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await loadOrCreateInstanceId(fileInstanceIdStorage(path))).toBe(id);
  });

  it('reads an id written by someone else and leaves no temporary files behind', async () => {
    const path = join(directory, 'instance-id');
    await writeFile(path, 'provisioned-id\n');
    expect(await loadOrCreateInstanceId(fileInstanceIdStorage(path))).toBe('provisioned-id');
    const storage = fileInstanceIdStorage(join(directory, 'other-id'));
    await storage.set('abc');
    expect((await readdir(directory)).sort()).toEqual(['instance-id', 'other-id']);
  });

  it('returns null for a missing file but reports other read failures', async () => {
    expect(await fileInstanceIdStorage(join(directory, 'missing')).get()).toBeNull();
    await expect(fileInstanceIdStorage(directory).get()).rejects.toMatchObject({ code: 'EISDIR' });
  });
});
