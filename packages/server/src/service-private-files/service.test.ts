import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import type { Principal } from '../auth/tokens.ts';
import { loadPrivateFileKey } from './cipher.ts';
import { checkPrivatePath, createPrivateFiles } from './service.ts';

const admin = { kind: 'token', name: 'admin', role: 'admin' } as unknown as Principal;

it('accepts relative tree paths and refuses the rest with the reason', () => {
  expect(checkPrivatePath('conf/app.key')).toBe('conf/app.key');
  for (const [path, reason] of [
    ['', /empty/],
    ['/etc/passwd', /relative/],
    ['a/../b', /segments/],
    ['a//b', /segments/],
    ['./a', /segments/],
    ['a\\b', /backslash/],
    ['a\u0000b', /control/],
    ['x'.repeat(513), /longer/],
    [Array.from({ length: 17 }, () => 'd').join('/'), /more than 16/],
  ] as const)
    expect(() => checkPrivatePath(path)).toThrow(reason);
});

it('takes the key from the environment (32 bytes) or makes one in the data directory once', () => {
  const dir = makeTempDir('flotilla-private-key-');
  const made = loadPrivateFileKey(dir, null);
  expect(loadPrivateFileKey(dir, null).id).toBe(made.id);
  const given = randomBytes(32).toString('base64');
  expect(loadPrivateFileKey(dir, given).id).not.toBe(made.id);
  expect(() => loadPrivateFileKey(dir, randomBytes(16).toString('base64'))).toThrow(/32 bytes/);
});

describeEachStore(allStoreKinds)('private files on %s', (kind) => {
  const handle = useMigratedDatabase(kind);

  it('reads a file back for a build (audited), and refuses a ciphertext moved to another file or another key', async () => {
    const db = handle.current.db;
    await db
      .insertInto('services')
      .values({ name: 'web', description: '', max_history_size: null, created_at: 'x', updated_at: 'x' })
      .execute();
    const dir = makeTempDir('flotilla-private-files-');
    const key = loadPrivateFileKey(dir, null);
    const files = createPrivateFiles({ db, key: () => key });
    await files.put(admin, 'web', 'a.key', Buffer.from('alpha'));
    await files.put(admin, 'web', 'b.key', Buffer.from('bravo'));
    expect((await files.read(admin, 'web', 'a.key', 'build 7')).toString()).toBe('alpha');
    const reads = await db
      .selectFrom('audit_log')
      .select('after_json')
      .where('action', '=', 'private-file.read')
      .execute();
    expect(reads.map((r) => r.after_json)).toEqual([JSON.stringify({ path: 'a.key', purpose: 'build 7' })]);

    // b's ciphertext copied onto a's row: the associated data (service, path) no longer matches.
    const b = await db.selectFrom('private_files').selectAll().where('path', '=', 'b.key').executeTakeFirstOrThrow();
    await db
      .updateTable('private_files')
      .set({ nonce: b.nonce, ciphertext: b.ciphertext })
      .where('path', '=', 'a.key')
      .execute();
    await expect(files.read(admin, 'web', 'a.key', 'build 8')).rejects.toThrow(/does not decrypt/);
    const otherKey = loadPrivateFileKey(dir, randomBytes(32).toString('base64'));
    const withOtherKey = createPrivateFiles({ db, key: () => otherKey });
    await expect(withOtherKey.read(admin, 'web', 'b.key', 'build 9')).rejects.toThrow(/sealed with key/);
    await expect(files.read(admin, 'web', 'none', 'build 10')).rejects.toThrow(/no private file/);
  });
});
