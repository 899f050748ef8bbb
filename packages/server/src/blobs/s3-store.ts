import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  type ListMultipartUploadsCommandOutput,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { NotFound, Unavailable } from '../errors.ts';
import {
  type BlobEntry,
  type BlobInfo,
  type BlobStore,
  type ByteRange,
  checkKey,
  type PutOptions,
  type Received,
} from './blob-store.ts';
import { createMeter } from './meter.ts';

export interface S3StoreOptions {
  client: S3Client;
  bucket: string;
  /** Prepended to every key (`flotilla/`), empty for the bucket's root. */
  prefix: string;
  /** Multipart part size: S3 needs at least 5 MiB for every part but the last. */
  partSize?: number;
  /** Parts in flight at once for one upload. */
  queueSize?: number;
  /** Shown in messages and used as the lock id. */
  id?: string;
}

export const defaultPartSize = 8 * 1024 ** 2;

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

/**
 * Blobs as objects of one bucket. Uploads go through lib-storage's Upload (multipart past one part);
 * the object appears only when the upload completes, and a failed upload is aborted so no parts stay.
 */
export class S3BlobStore implements BlobStore {
  readonly id: string;
  readonly local = false;
  readonly #opts: S3StoreOptions;

  constructor(opts: S3StoreOptions) {
    this.#opts = opts;
    this.id = opts.id ?? `s3://${opts.bucket}/${opts.prefix}`;
  }

  #key(key: string): string {
    return this.#opts.prefix + checkKey(key);
  }

  async check(): Promise<void> {
    try {
      await this.#opts.client.send(new HeadBucketCommand({ Bucket: this.#opts.bucket }));
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      throw new Unavailable(
        `blob store ${this.id}: the bucket cannot be reached${status ? ` (HTTP ${status})` : ''}: ${(err as Error).name}: ${(err as Error).message}`,
      );
    }
  }

  async put(key: string, body: NodeJS.ReadableStream, opts: PutOptions): Promise<Received> {
    const meter = createMeter(opts);
    // The source's or the meter's own failure is the one to report: lib-storage may replace it with
    // the error of its abort request.
    let failure: Error | undefined;
    pipeline(body, meter, (err) => {
      if (err) failure ??= err;
    });
    const upload = new Upload({
      client: this.#opts.client,
      params: { Bucket: this.#opts.bucket, Key: this.#key(key), Body: meter },
      partSize: this.#opts.partSize ?? defaultPartSize,
      queueSize: this.#opts.queueSize ?? 4,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      meter.destroy();
      throw failure ?? err;
    }
    if (failure) {
      // Cannot happen with a completed upload, but an object made from a failed source must not stay.
      await this.delete(key);
      throw failure;
    }
    return meter.received();
  }

  async putFile(key: string, file: string, hex: string, opts: { keep?: boolean } = {}): Promise<void> {
    try {
      await this.put(key, createReadStream(file), {
        maxBytes: Number.POSITIVE_INFINITY,
        what: 'the blob',
        sha256: hex,
      });
    } finally {
      if (!opts.keep) await rm(file, { force: true });
    }
  }

  async get(key: string, range?: ByteRange): Promise<NodeJS.ReadableStream> {
    try {
      const out = await this.#opts.client.send(
        new GetObjectCommand({
          Bucket: this.#opts.bucket,
          Key: this.#key(key),
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      );
      return out.Body as NodeJS.ReadableStream;
    } catch (err) {
      if (isNotFound(err)) throw new NotFound(`no blob ${key}`);
      throw err;
    }
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    try {
      const out = await this.#opts.client.send(
        new HeadObjectCommand({ Bucket: this.#opts.bucket, Key: this.#key(key) }),
      );
      return { size: out.ContentLength ?? 0, modifiedMs: out.LastModified?.getTime() ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.#opts.client.send(new DeleteObjectCommand({ Bucket: this.#opts.bucket, Key: this.#key(key) }));
  }

  async *list(prefix: string): AsyncIterable<BlobEntry> {
    let token: string | undefined;
    do {
      const page = await this.#opts.client.send(
        new ListObjectsV2Command({
          Bucket: this.#opts.bucket,
          Prefix: this.#opts.prefix + prefix,
          ContinuationToken: token,
        }),
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key?.startsWith(this.#opts.prefix)) continue;
        yield {
          key: o.Key.slice(this.#opts.prefix.length),
          size: o.Size ?? 0,
          modifiedMs: o.LastModified?.getTime() ?? 0,
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** Multipart uploads a crashed server left open; 0 where the server cannot list them. */
  async abortStaleUploads(prefix: string, cutoff: number): Promise<number> {
    let aborted = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      let page: ListMultipartUploadsCommandOutput;
      try {
        page = await this.#opts.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.#opts.bucket,
            Prefix: this.#opts.prefix + prefix,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        );
      } catch (err) {
        if ((err as { name?: string }).name === 'NotImplemented') return aborted;
        throw err;
      }
      for (const u of page.Uploads ?? []) {
        if (!u.Key || !u.UploadId || (u.Initiated?.getTime() ?? 0) >= cutoff) continue;
        await this.#opts.client.send(
          new AbortMultipartUploadCommand({ Bucket: this.#opts.bucket, Key: u.Key, UploadId: u.UploadId }),
        );
        aborted++;
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return aborted;
  }
}
