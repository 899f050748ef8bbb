import type { BlobStore } from './blob-store.ts';
import type { BlobStoreSpec } from './blob-store-spec.ts';
import { LocalBlobStore } from './local-store.ts';

/**
 * The store a spec names; `env` supplies the region when the URL has none. The AWS SDK is loaded only
 * for `s3://`, so a server on its data directory starts without it.
 */
export async function openBlobStore(
  spec: BlobStoreSpec,
  dataDir: string,
  env: Record<string, string | undefined> = process.env,
): Promise<BlobStore> {
  if (spec.kind === 'file') return new LocalBlobStore(dataDir);
  const [{ S3Client }, { S3BlobStore }] = await Promise.all([import('@aws-sdk/client-s3'), import('./s3-store.ts')]);
  const client = new S3Client({
    region: spec.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    forcePathStyle: spec.forcePathStyle,
    ...(spec.endpoint !== undefined ? { endpoint: spec.endpoint } : {}),
  });
  return new S3BlobStore({
    client,
    bucket: spec.bucket,
    prefix: spec.prefix,
    ...(spec.partSize !== undefined ? { partSize: spec.partSize } : {}),
    id: `s3://${spec.bucket}/${spec.prefix}${spec.endpoint ? ` at ${spec.endpoint}` : ''}`,
  });
}
