import { describe, expect, it } from 'vitest';
import { resolveServerConfig } from '../config/config.ts';
import { parseBlobStore } from './blob-store-spec.ts';

describe('--blob-store', () => {
  it('is the data directory by default and with "file"', () => {
    expect(parseBlobStore('file')).toEqual({ kind: 'file' });
    expect(resolveServerConfig({}, {}, '/tmp').blobStore).toEqual({ kind: 'file' });
  });

  it('reads an s3:// URL with its endpoint, region, path style, part size and key prefix', () => {
    expect(
      parseBlobStore(
        's3://my-bucket/flotilla/prod/?endpoint=http://127.0.0.1:9000&region=eu-west-1&forcePathStyle=true&partSize=16',
      ),
    ).toEqual({
      kind: 's3',
      bucket: 'my-bucket',
      prefix: 'flotilla/prod/',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      forcePathStyle: true,
      partSize: 16 * 1024 ** 2,
    });
    expect(parseBlobStore('s3://my-bucket')).toEqual({
      kind: 's3',
      bucket: 'my-bucket',
      prefix: '',
      forcePathStyle: false,
    });
    const env = { FLOTILLA_BLOB_STORE: 's3://from-env' };
    expect(resolveServerConfig({}, env, '/tmp').blobStore).toMatchObject({ kind: 's3', bucket: 'from-env' });
  });

  it('refuses credentials in the URL and other mistakes, saying what to do', () => {
    expect(() => parseBlobStore('s3://key:secret@my-bucket')).toThrow(
      /carries credentials; give them in AWS_ACCESS_KEY_ID/,
    );
    expect(() => parseBlobStore('s3://my-bucket?endpoint=http://k:s@127.0.0.1:9000')).toThrow(
      /endpoint carries credentials/,
    );
    expect(() => parseBlobStore('gs://my-bucket')).toThrow(/neither file nor an s3:\/\/bucket URL/);
    expect(() => parseBlobStore('s3://My_Bucket')).toThrow(/not a valid bucket name/);
    expect(() => parseBlobStore('s3://my-bucket?secretAccessKey=x')).toThrow(/unknown parameter "secretAccessKey"/);
    expect(() => parseBlobStore('s3://my-bucket?partSize=1')).toThrow(/partSize is in MiB, from 5/);
    expect(() => parseBlobStore('s3://my-bucket?forcePathStyle=yes')).toThrow(/true or false/);
    expect(() => parseBlobStore('s3://my-bucket?endpoint=ftp://x')).toThrow(/http:\/\/ or https:\/\//);
  });
});
