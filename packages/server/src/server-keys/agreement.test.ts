import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { agreeOnServerKeys } from './agreement.ts';
import { copyHeldKeys, heldKeys } from './held-keys.ts';

describeEachStore(allStoreKinds)('keys shared by the servers of one database (%s)', (kind) => {
  const store = useMigratedDatabase(kind);
  const dataDir = () => makeTempDir('flotilla-keys-');

  it('records the first server’s keys, takes a replica holding copies, and refuses one with keys of its own', async () => {
    const first = dataDir();
    await agreeOnServerKeys(store.current.db, await heldKeys(first, null));
    expect(await store.current.db.selectFrom('server_keys').select('name').orderBy('name').execute()).toEqual([
      { name: 'mesh-ca' },
      { name: 'private-files' },
      { name: 'signing' },
    ]);

    const copied = dataDir();
    copyHeldKeys(first, copied);
    await agreeOnServerKeys(store.current.db, await heldKeys(copied, null));

    const own = dataDir();
    await expect(agreeOnServerKeys(store.current.db, await heldKeys(own, null))).rejects.toThrow(
      /this server's signing key \(.*signing\/ed25519\.pem, fingerprint [0-9a-f]{16}\) differs from the one the servers on this database have used since .*copy them from the data directory of a running replica/,
    );
  });

  it('names the environment variable when the sealing key comes from it', async () => {
    const first = dataDir();
    await agreeOnServerKeys(store.current.db, await heldKeys(first, Buffer.alloc(32, 1).toString('base64')));
    const other = dataDir();
    for (const part of ['signing', 'mesh']) cpSync(join(first, part), join(other, part), { recursive: true });
    await expect(
      agreeOnServerKeys(store.current.db, await heldKeys(other, Buffer.alloc(32, 2).toString('base64'))),
    ).rejects.toThrow(/private-files key \(FLOTILLA_PRIVATE_FILES_KEY,/);
  });
});
