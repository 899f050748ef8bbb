import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { NotFound } from '../errors.ts';
import { S3BlobStore } from './s3-store.ts';
import { type LocalS3, startLocalS3 } from './s3rver.test.helper.ts';

const mib = 1024 ** 2;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Yields `data` in 1 MiB chunks, then fails with `failure` instead of ending when one is given. */
function source(data: Buffer, failure?: Error): Readable {
  return Readable.from(
    (async function* () {
      for (let i = 0; i < data.length; i += mib) yield data.subarray(i, i + mib);
      if (failure) throw failure;
    })(),
  );
}

describe('S3 blob store against s3rver', () => {
  let s3: LocalS3;
  let store: S3BlobStore;
  // Past one 5 MiB part (S3's smallest), so uploads are multipart: three parts.
  const big = randomBytes(11 * mib + 123);

  beforeAll(async () => {
    s3 = await startLocalS3();
    store = new S3BlobStore({ client: s3.client, bucket: s3.bucket, prefix: 'fl/', partSize: 5 * mib });
    await store.check();
  });
  afterAll(async () => {
    await s3?.close();
  });

  it('puts a multipart object, reads it back whole and by range, lists and deletes it', async () => {
    s3.commands.length = 0;
    const got = await store.put('artifacts/a/big', source(big), { maxBytes: 20 * mib, what: 'it', sha256: sha(big) });
    expect(got).toEqual({ hex: sha(big), size: big.length });
    expect(s3.commands.filter((c) => c === 'UploadPartCommand')).toHaveLength(3);
    expect(s3.commands).toContain('CompleteMultipartUploadCommand');
    expect(await s3.keys()).toEqual(['fl/artifacts/a/big']);
    expect((await buffer(await store.get('artifacts/a/big'))).equals(big)).toBe(true);
    const part = await buffer(await store.get('artifacts/a/big', { start: 5 * mib - 10, end: 5 * mib + 9 }));
    expect(part.equals(big.subarray(5 * mib - 10, 5 * mib + 10))).toBe(true);
    expect((await store.stat('artifacts/a/big'))?.size).toBe(big.length);
    const listed = [];
    for await (const e of store.list('artifacts/')) listed.push(e);
    expect(listed.map((e) => [e.key, e.size])).toEqual([['artifacts/a/big', big.length]]);
    expect(Math.abs((listed[0]?.modifiedMs ?? 0) - Date.now())).toBeLessThan(60_000);
    await store.delete('artifacts/a/big');
    expect(await store.stat('artifacts/a/big')).toBeUndefined();
    await expect(store.get('artifacts/a/big')).rejects.toThrow(NotFound);
    await store.delete('artifacts/a/big'); // a missing key is no error
    expect(await s3.keys()).toEqual([]);
  });

  it('refuses a digest mismatch before completing: no object, the multipart upload aborted', async () => {
    s3.commands.length = 0;
    const put = store.put('artifacts/b/mismatch', source(big), {
      maxBytes: 20 * mib,
      what: 'it',
      sha256: '0'.repeat(64),
    });
    await expect(put).rejects.toThrow(/digest mismatch: expected sha256 0{64}, received [0-9a-f]{64}/);
    expect(s3.commands).not.toContain('CompleteMultipartUploadCommand');
    // s3rver answers the abort with MethodNotAllowed (it does not implement it); it is sent all the same.
    expect(s3.commands).toContain('AbortMultipartUploadCommand');
    expect(await s3.keys()).toEqual([]);
  });

  it('sends nothing for a small object whose digest is wrong', async () => {
    s3.commands.length = 0;
    const small = Buffer.from('small');
    await expect(
      store.put('x/small', source(small), { maxBytes: 100, what: 'it', sha256: sha(Buffer.from('other')) }),
    ).rejects.toThrow(/digest mismatch/);
    expect(s3.commands).not.toContain('PutObjectCommand');
    expect(await s3.keys()).toEqual([]);
  });

  it('leaves no object when the source fails halfway (a client gone) or runs past the limit', async () => {
    s3.commands.length = 0;
    const half = big.subarray(0, 7 * mib);
    await expect(
      store.put('x/aborted', source(half, new Error('client gone')), { maxBytes: 20 * mib, what: 'it' }),
    ).rejects.toThrow('client gone');
    expect(s3.commands).toContain('UploadPartCommand'); // a part was already sent
    expect(s3.commands).toContain('AbortMultipartUploadCommand');
    expect(s3.commands).not.toContain('CompleteMultipartUploadCommand');
    const tooLarge = store.put('x/large', source(big), { maxBytes: 6 * mib, what: 'the artifact' });
    await expect(tooLarge).rejects.toMatchObject({ code: 'payload_too_large' });
    expect(await s3.keys()).toEqual([]);
  });

  it('uploads a checked file, keeping it when asked, and refuses one that changed since it was hashed', async () => {
    const dir = makeTempDir();
    const file = join(dir, 'staged.part');
    writeFileSync(file, big);
    await store.putFile('faults/f.tar.gz', file, sha(big), { keep: true });
    expect((await buffer(await store.get('faults/f.tar.gz'))).equals(big)).toBe(true);
    writeFileSync(file, 'changed');
    await expect(store.putFile('faults/g.tar.gz', file, sha(big))).rejects.toThrow(/digest mismatch/);
    expect(await s3.keys()).toEqual(['fl/faults/f.tar.gz']);
    await store.delete('faults/f.tar.gz');
  });

  it('reports no stale multipart uploads where the server cannot list them', async () => {
    expect(await store.abortStaleUploads('artifacts/', Date.now())).toBe(0);
  });

  it('fails its start check on a missing bucket, naming it', async () => {
    const missing = new S3BlobStore({ client: s3.client, bucket: 'no-such-bucket', prefix: '' });
    await expect(missing.check()).rejects.toThrow(/s3:\/\/no-such-bucket\/.*cannot be reached/);
  });
});
