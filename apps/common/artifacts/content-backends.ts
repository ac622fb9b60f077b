import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

/**
 * Where artifact bytes live. The PostgreSQL backend keeps them in the `artifact_contents` row itself;
 * the object-store backend in an S3-compatible bucket, under a key made of the tenant and the hash
 * (so the same bytes of one tenant are one object, and no tenant can name another's).
 */
export type ContentStorage = 'postgres' | 's3';

export interface ContentBackend {
  readonly storage: ContentStorage;
  /** Stores the bytes; answers what the row's `content` column holds (null when they live elsewhere). */
  write(tenantId: string, sha256: string, bytes: Buffer): Promise<Buffer | null>;
  /** The bytes, as a stream; `stored` is the row's `content` column. */
  read(tenantId: string, sha256: string, stored: Uint8Array | null): Promise<Readable>;
  /** Removes the bytes (after the row is gone); removing what is already gone is no error. */
  remove(tenantId: string, sha256: string): Promise<void>;
}

export class ArtifactContentMissing extends Error {
  constructor(
    readonly tenantId: string,
    readonly sha256: string,
    readonly storage: ContentStorage,
  ) {
    super(`the bytes of artifact content ${sha256} are missing from the ${storage} store`);
    this.name = 'ArtifactContentMissing';
  }
}

export class PostgresContentBackend implements ContentBackend {
  readonly storage = 'postgres' as const;

  async write(_tenantId: string, _sha256: string, bytes: Buffer): Promise<Buffer> {
    return bytes;
  }

  async read(tenantId: string, sha256: string, stored: Uint8Array | null): Promise<Readable> {
    if (stored === null) throw new ArtifactContentMissing(tenantId, sha256, this.storage);
    return Readable.from([Buffer.from(stored)]);
  }

  async remove(): Promise<void> {
    // The bytes are in the row, which the caller deletes.
  }
}

export interface S3Settings {
  bucket: string;
  /** An S3-compatible server's URL (MinIO, Ceph, …); AWS's regional endpoint when absent. */
  endpoint?: string;
  region: string;
  /** `bucket` in the path rather than the host name, as most S3-compatible servers want. */
  forcePathStyle: boolean;
  /** Prepended to every key, so that one bucket can serve several installations. */
  prefix: string;
  /** Static credentials; the SDK's default chain (environment, profile, instance role) when absent. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export class S3ContentBackend implements ContentBackend {
  readonly storage = 's3' as const;
  private readonly client: S3Client;

  constructor(private readonly settings: S3Settings) {
    this.client = new S3Client({
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      ...(settings.credentials ? { credentials: settings.credentials } : {}),
      // Checksums only where S3 requires them: several S3-compatible servers refuse the SDK's
      // default CRC32 trailers; the content's SHA-256 is checked on every write anyway.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  keyOf(tenantId: string, sha256: string): string {
    return `${this.settings.prefix}${tenantId}/${sha256}`;
  }

  async write(tenantId: string, sha256: string, bytes: Buffer): Promise<null> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.settings.bucket, Key: this.keyOf(tenantId, sha256), Body: bytes, ContentLength: bytes.length }),
    );
    return null;
  }

  async read(tenantId: string, sha256: string): Promise<Readable> {
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.keyOf(tenantId, sha256) }));
      return answer.Body as Readable;
    } catch (error) {
      if (error instanceof NoSuchKey) throw new ArtifactContentMissing(tenantId, sha256, this.storage);
      throw error;
    }
  }

  async remove(tenantId: string, sha256: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.keyOf(tenantId, sha256) }));
  }

  close(): void {
    this.client.destroy();
  }
}
