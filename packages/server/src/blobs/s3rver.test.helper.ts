import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { makeTempDir } from '../../test/support/temp-dir.ts';

// s3rver's fixed credentials; the server under test reads them from the AWS variables like any others.
export const s3rverCredentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface LocalS3 {
  endpoint: string;
  bucket: string;
  client: S3Client;
  /** Names of the commands `client` sent, in order (AbortMultipartUploadCommand, …). */
  commands: string[];
  /** Every key in the bucket. */
  keys(): Promise<string[]>;
  close(): Promise<void>;
}

/** s3rver on a free loopback port with one bucket, its files in a temp dir removed with the test file. */
export async function startLocalS3(bucket = 'flotilla-test'): Promise<LocalS3> {
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: makeTempDir('flotilla-s3rver-'),
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3rverCredentials });
  const commands: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      commands.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
  return {
    endpoint,
    bucket,
    client,
    commands,
    async keys() {
      const out = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
      return (out.Contents ?? []).map((o) => o.Key as string).sort();
    },
    async close() {
      client.destroy();
      await server.close();
    },
  };
}
