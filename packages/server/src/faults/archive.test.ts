import { readdirSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { faultMeta, makeFaultArchive } from './archive.test.helper.ts';
import { jsonDepth, maxEntries, maxMetaDepth, readFaultArchive, receiveUpload } from './archive.ts';

describe('fault archives', () => {
  it('reads fault.json, the log tail and the file names', async () => {
    const file = await makeFaultArchive({ logTail: 'a\nb\n', files: { 'core.1': 'x', 'dumps/heap': 'y' } });
    const content = await readFaultArchive(file);
    expect(content.meta).toEqual(faultMeta());
    expect(content.logTail).toEqual(['a', 'b']);
    expect(content.files.sort()).toEqual(['core.1', 'dumps/heap']);
  });

  it(`refuses more than ${maxEntries} entries`, async () => {
    const files = Object.fromEntries(Array.from({ length: maxEntries }, (_, i) => [`f${i}`, '']));
    const file = await makeFaultArchive({ files });
    await expect(readFaultArchive(file)).rejects.toThrow(`more than ${maxEntries} entries`);
  });

  it('refuses an oversize fault.json', async () => {
    const file = await makeFaultArchive({ meta: JSON.stringify({ pad: 'x'.repeat(1024 * 1024) }) });
    await expect(readFaultArchive(file)).rejects.toThrow(/fault.json is \d+ bytes; the limit is/);
  });

  it('answers Invalid to a fault.json nested 5,000 levels deep, and takes one at the depth limit', async () => {
    const deep = await makeFaultArchive({ meta: `${'['.repeat(5000)}${']'.repeat(5000)}` });
    await expect(readFaultArchive(deep)).rejects.toThrow(`nested deeper than ${maxMetaDepth} levels`);
    const inner = `${'['.repeat(maxMetaDepth - 2)}${']'.repeat(maxMetaDepth - 2)}`;
    const atLimit = await makeFaultArchive({ meta: faultMeta({ state: { x: JSON.parse(inner) } }) });
    expect((await readFaultArchive(atLimit)).meta).toMatchObject({ state: { x: JSON.parse(inner) } });
  });

  it('measures JSON depth outside strings only', () => {
    expect(jsonDepth('{"a":[1,{"b":2}]}')).toBe(3);
    expect(jsonDepth('{"a":"[[[{{{\\"[[["}')).toBe(1);
    expect(jsonDepth('"x"')).toBe(0);
  });

  it('hashes an upload and removes the temp file when the stream fails', async () => {
    const dir = makeTempDir('flotilla-upload-');
    const ok = await receiveUpload(dir, Readable.from([Buffer.from('abc')]), 10);
    expect(ok.hex).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(ok.size).toBe(3);
    const failing = new Readable({
      read() {
        this.push(Buffer.from('half'));
        this.destroy(new Error('client went away'));
      },
    });
    await expect(receiveUpload(dir, failing, 1000)).rejects.toThrow('client went away');
    expect(readdirSync(dir)).toEqual([ok.tmpPath.split('/').at(-1)]);
  });
});
