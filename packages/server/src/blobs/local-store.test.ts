import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { NotFound } from '../errors.ts';
import { LocalBlobStore } from './local-store.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const from = (chunks: Buffer[], failure?: Error) =>
  Readable.from(
    (async function* () {
      yield* chunks;
      if (failure) throw failure;
    })(),
  );

describe('local blob store', () => {
  it('keeps the data directory layout: put, get, range, stat, list, delete', async () => {
    const root = makeTempDir();
    const store = new LocalBlobStore(root);
    const data = Buffer.from('hello blob store');
    expect(await store.put('faults/x.tar.gz', from([data]), { maxBytes: 100, what: 'it', sha256: sha(data) })).toEqual({
      hex: sha(data),
      size: data.length,
    });
    expect(readFileSync(join(root, 'faults', 'x.tar.gz'))).toEqual(data);
    expect(statSync(join(root, 'faults', 'x.tar.gz')).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(root, 'faults', 'tmp'))).toEqual([]);
    expect((await buffer(await store.get('faults/x.tar.gz', { start: 6, end: 9 }))).toString()).toBe('blob');
    expect((await store.stat('faults/x.tar.gz'))?.size).toBe(data.length);
    const keys = [];
    for await (const e of store.list('faults/')) keys.push(e.key);
    expect(keys).toEqual(['faults/x.tar.gz']);
    await store.delete('faults/x.tar.gz');
    await expect(store.get('faults/x.tar.gz')).rejects.toThrow(NotFound);
    expect(await store.stat('faults/x.tar.gz')).toBeUndefined();
  });

  it('leaves neither file nor temp file after a mismatch, an overflow or a source failing halfway', async () => {
    const root = makeTempDir();
    const store = new LocalBlobStore(root);
    const data = Buffer.alloc(1000, 1);
    await expect(
      store.put('a/b', from([data]), { maxBytes: 2000, what: 'it', sha256: '0'.repeat(64) }),
    ).rejects.toThrow(/digest mismatch/);
    await expect(store.put('a/b', from([data, data]), { maxBytes: 1500, what: 'the blob' })).rejects.toThrow(
      'the blob is larger than 1500 bytes',
    );
    await expect(
      store.put('a/b', from([data], new Error('client gone')), { maxBytes: 2000, what: 'it' }),
    ).rejects.toThrow('client gone');
    expect(existsSync(join(root, 'a', 'b'))).toBe(false);
    expect(readdirSync(join(root, 'a', 'tmp'))).toEqual([]);
  });

  it('refuses keys that would leave its root', async () => {
    const store = new LocalBlobStore(makeTempDir());
    for (const key of ['../x', '/etc/passwd', 'a/../../x', 'a//b', '']) {
      await expect(store.stat(key)).rejects.toThrow(/not a blob key/);
    }
  });
});
