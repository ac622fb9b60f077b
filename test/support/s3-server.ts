import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { S3Settings } from '../../apps/common/artifacts/content-backends';

/**
 * A real S3-compatible server for tests: s3rver (npm), which speaks the S3 REST protocol over HTTP
 * and keeps objects in a directory. The artifact store's object-store backend talks to it through
 * the AWS SDK exactly as it would to MinIO or S3. (MinIO itself is a download outside the package
 * registries, which this project's machines cannot reach.)
 */

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

export interface TestS3Server {
  settings: S3Settings;
  close(): Promise<void>;
}

export async function startS3Server(bucket = 'flowpilot-artifacts'): Promise<TestS3Server> {
  // s3rver ships no type declarations, so it is required and typed here rather than imported.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  const S3rver = require('s3rver') as S3rverConstructor;
  const directory = mkdtempSync(join(tmpdir(), 'flowpilot-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
  const { port } = await server.run();
  return {
    settings: {
      bucket,
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      prefix: 'artifacts/',
      // s3rver's fixed credentials.
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    },
    async close() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
