/** Where artifacts and fault archives live: the data directory (`file`) or an S3-compatible bucket. */
export interface BlobStore {
  /** Names the place (`file:<dir>`, `s3://bucket/prefix`); equal ids share one lock chain. */
  readonly id: string;
  /** True for the data directory, where placing a checked file is a rename. */
  readonly local: boolean;
  /** Fails with a clear message when the place cannot be reached (a missing bucket, bad credentials). */
  check(): Promise<void>;
  /**
   * Streams `body` to `key` while counting and hashing it. Nothing is visible at `key` until every
   * byte arrived and the digest matched; any failure (too large, mismatch, the source erroring)
   * leaves no object and no temp file.
   */
  put(key: string, body: NodeJS.ReadableStream, opts: PutOptions): Promise<Received>;
  /**
   * Places a local file whose content was already checked at `key`; the file is gone afterwards (on
   * failure too) unless `keep`. On S3 the digest is checked again on the way.
   */
  putFile(key: string, file: string, hex: string, opts?: { keep?: boolean }): Promise<void>;
  /** The bytes of `key` (or of the inclusive `range`); NotFound when there is no such object. */
  get(key: string, range?: ByteRange): Promise<NodeJS.ReadableStream>;
  stat(key: string): Promise<BlobInfo | undefined>;
  /** Deletes `key`; a missing one is no error. */
  delete(key: string): Promise<void>;
  /** Every object under `prefix` with its size and last change, for orphan sweeps. */
  list(prefix: string): AsyncIterable<BlobEntry>;
  /** Aborts uploads under `prefix` started before `cutoff` that never finished (S3's multipart uploads). */
  abortStaleUploads(prefix: string, cutoff: number): Promise<number>;
}

export interface PutOptions {
  maxBytes: number;
  /** What is uploaded, for messages ("the artifact"). */
  what: string;
  /** The expected SHA-256 in hex: a mismatch refuses the upload. */
  sha256?: string;
}

export interface Received {
  hex: string;
  size: number;
}

export interface ByteRange {
  start: number;
  end: number;
}

export interface BlobInfo {
  size: number;
  modifiedMs: number;
}

export interface BlobEntry extends BlobInfo {
  key: string;
}

const keyRe = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/** Keys are relative slash paths of plain names: never absolute, never `..`. */
export function checkKey(key: string): string {
  if (!keyRe.test(key) || key.split('/').some((s) => s === '.' || s === '..')) {
    throw new Error(`not a blob key: ${key}`);
  }
  return key;
}
