// No AWS SDK here: the configuration (and the CLI through it) parses the value without loading it.
import { ConfigError } from '../errors.ts';

export type BlobStoreSpec =
  | { kind: 'file' }
  | {
      kind: 's3';
      bucket: string;
      prefix: string;
      endpoint?: string;
      region?: string;
      forcePathStyle: boolean;
      partSize?: number;
    };

const bucketRe = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const knownParams = new Set(['endpoint', 'region', 'forcePathStyle', 'partSize']);

/**
 * Parses `--blob-store`: `file` (the data directory) or
 * `s3://bucket[/prefix]?endpoint=…&region=…&forcePathStyle=true&partSize=<MiB>`. Credentials come
 * from the AWS environment variables or credential chain, never from the URL.
 */
export function parseBlobStore(value: string): BlobStoreSpec {
  const text = value.trim();
  if (text === '' || text === 'file') return { kind: 'file' };
  if (!text.startsWith('s3://')) {
    throw new ConfigError(`blob-store: "${value}" is neither file nor an s3://bucket URL`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`blob-store: "${value}" is not a valid URL`);
  }
  if (url.username || url.password) {
    throw new ConfigError(
      'blob-store: the URL carries credentials; give them in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or another AWS credential source) instead',
    );
  }
  const bucket = url.hostname;
  if (!bucketRe.test(bucket)) throw new ConfigError(`blob-store: "${bucket}" is not a valid bucket name`);
  for (const name of url.searchParams.keys()) {
    if (!knownParams.has(name)) {
      throw new ConfigError(`blob-store: unknown parameter "${name}" (known: ${[...knownParams].join(', ')})`);
    }
  }
  const endpoint = url.searchParams.get('endpoint') ?? undefined;
  if (endpoint !== undefined) {
    let e: URL;
    try {
      e = new URL(endpoint);
    } catch {
      throw new ConfigError(`blob-store: endpoint "${endpoint}" is not a URL`);
    }
    if (e.protocol !== 'http:' && e.protocol !== 'https:') {
      throw new ConfigError(`blob-store: endpoint "${endpoint}" must be http:// or https://`);
    }
    if (e.username || e.password) {
      throw new ConfigError('blob-store: the endpoint carries credentials; use the AWS credential variables instead');
    }
  }
  const style = url.searchParams.get('forcePathStyle');
  if (style !== null && style !== 'true' && style !== 'false') {
    throw new ConfigError(`blob-store: forcePathStyle must be true or false, got "${style}"`);
  }
  const partText = url.searchParams.get('partSize');
  let partSize: number | undefined;
  if (partText !== null) {
    const mib = Number(partText);
    if (!Number.isInteger(mib) || mib < 5 || mib > 5120) {
      throw new ConfigError(`blob-store: partSize is in MiB, from 5 to 5120, got "${partText}"`);
    }
    partSize = mib * 1024 ** 2;
  }
  const path = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
  return {
    kind: 's3',
    bucket,
    prefix: path === '' ? '' : `${path}/`,
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(url.searchParams.get('region') ? { region: url.searchParams.get('region') as string } : {}),
    forcePathStyle: style === 'true',
    ...(partSize !== undefined ? { partSize } : {}),
  };
}
