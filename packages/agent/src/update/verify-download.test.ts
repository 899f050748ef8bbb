import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Journal, readOpenTransaction } from '../journal/journal.ts';
import { downloadArtifact } from './download.ts';
import { buildVersion, keys, startArtifactServer, token } from './fixtures.test.helper.ts';
import { canonicalJson, keyIdOf, verifySignedManifest } from './verify.ts';

const work = mkdtempSync(join(tmpdir(), 'flotilla-verify-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const key = keys();

describe('verifySignedManifest', () => {
  it('accepts a good signature and refuses tampering, other keys and other versions', async () => {
    const v = await buildVersion(work, key.privateKey, 'web', '1.0.0', 9, 'good');
    const trust = { publicKeyPem: key.publicKeyPem };
    expect(verifySignedManifest(trust, v, { service: 'web', version: '1.0.0' }).size).toBeGreaterThan(0);
    const tampered = v.signedManifest.replace('"size":', '"size":1');
    expect(() =>
      verifySignedManifest(trust, { ...v, signedManifest: tampered }, { service: 'web', version: '1.0.0' }),
    ).toThrow(/bad signature/);
    expect(() => verifySignedManifest(trust, v, { service: 'web', version: '2.0.0' })).toThrow(/expected web 2.0.0/);
    const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(() => verifySignedManifest({ publicKeyPem: other }, v, { service: 'web', version: '1.0.0' })).toThrow(
      /bad signature/,
    );
    expect(() =>
      verifySignedManifest({ ...trust, keyId: 'ab'.repeat(32) }, v, { service: 'web', version: '1.0.0' }),
    ).toThrow(/key id/);
    expect(keyIdOf(generateKeyPairSync('ed25519').publicKey)).toMatch(/^[0-9a-f]{64}$/);
    expect(canonicalJson({ b: [1, { d: 1, c: 2 }], a: 'x' })).toBe('{"a":"x","b":[1,{"c":2,"d":1}]}');
  });
});

describe('downloadArtifact', () => {
  it('resumes a partial download with Range and checks the digest', async () => {
    const v = await buildVersion(work, key.privateKey, 'web', '1.0.0', 9, 'good');
    const verified = verifySignedManifest({ publicKeyPem: key.publicKeyPem }, v, { service: 'web', version: '1.0.0' });
    const { url, server, requests } = await startArtifactServer(new Map([['web/1.0.0', v.file]]));
    try {
      const file = join(work, 'dl', 'web-1.0.0.tar.gz');
      const bytes = readFileSync(v.file);
      await downloadArtifact({ server: { url, token }, verified, file }).then(() => rmSync(file));
      writeFileSync(`${file}.part`, bytes.subarray(0, 100));
      await downloadArtifact({ server: { url, token }, verified, file });
      expect(requests.at(-1)?.range).toBe('bytes=100-');
      expect(readFileSync(file).equals(bytes)).toBe(true);
      await expect(
        downloadArtifact({
          server: { url, token: 'wrong' },
          verified: { ...verified, version: '1.0.0' },
          file: join(work, 'dl', 'x'),
        }),
      ).rejects.toThrow(/HTTP 401/);
    } finally {
      server.close();
    }
  });
});

describe('journal', () => {
  it('ignores a torn last line and finds the open transaction', () => {
    const file = join(work, 'j', 'journal.log');
    const j = new Journal(file);
    j.append({ txId: 'a', step: 'download', phase: 'begin' });
    j.append({ txId: 'a', step: 'committed', phase: 'done' });
    j.append({ txId: 'b', step: 'download', phase: 'begin' });
    writeFileSync(file, `${readFileSync(file, 'utf8')}{"txId":"b","step":"down`);
    expect(readOpenTransaction(join(work, 'j'))?.records.map((r) => r.step)).toEqual(['download']);
    j.append({ txId: 'b', step: 'rolled-back', phase: 'done' });
    expect(j.read()).toHaveLength(4);
    expect(readOpenTransaction(file)).toBeNull();
  });
});
