import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { PrismaClient } from '@prisma/client';
import { PostgresContentBackend, type ContentBackend, type ContentStorage } from './content-backends';

/**
 * Artifacts: step outputs too large for a run's history. The activity that produced one stores it
 * here and hands the workflow only a reference (`{ "$artifact": { id, sha256, size, mediaType } }`),
 * which later steps can pass on like any value and `GET /api/v1/runs/:id/artifacts/:artifactId`
 * downloads. Bytes are kept once per tenant and SHA-256 (`artifact_contents`), in PostgreSQL or, when
 * configured, an S3-compatible object store; each artifact row says which run and step made it.
 */

/** The largest artifact a step may produce; a larger output is still replaced by its size. */
export const MAX_ARTIFACT_BYTES = 32 * 1024 * 1024;

export interface ArtifactDescriptor {
  id: string;
  sha256: string;
  size: number;
  mediaType: string;
}

/** What a step's output holds in place of a large value. */
export interface ArtifactReference {
  $artifact: ArtifactDescriptor;
}

export function isArtifactReference(value: unknown): value is ArtifactReference {
  return typeof value === 'object' && value !== null && '$artifact' in value;
}

/** Which run's step (and attempt) produced an artifact. */
export interface ArtifactOrigin {
  tenantId: string;
  runId: string;
  stepId: string;
  attempt: number;
}

/** An artifact opened for download. */
export interface OpenedArtifact extends ArtifactDescriptor {
  runId: string;
  stepId: string;
  createdAt: Date;
  content: Readable;
}

export class ArtifactStore {
  private readonly postgres = new PostgresContentBackend();
  private readonly backends: Record<ContentStorage, ContentBackend | undefined>;

  /**
   * @param writeTo where new bytes go: PostgreSQL unless an object store is given. Content already
   * stored stays readable wherever it is, whatever the configuration says now.
   */
  constructor(
    private readonly prisma: PrismaClient,
    private readonly writeTo: ContentBackend = new PostgresContentBackend(),
  ) {
    this.backends = { postgres: this.postgres, s3: writeTo.storage === 's3' ? writeTo : undefined };
  }

  get storage(): ContentStorage {
    return this.writeTo.storage;
  }

  async save(origin: ArtifactOrigin, bytes: Buffer, mediaType: string): Promise<ArtifactReference> {
    if (bytes.length > MAX_ARTIFACT_BYTES) throw new ArtifactTooLarge(bytes.length);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const key = { tenantId: origin.tenantId, sha256 };
    // Known bytes are not sent again; marking them written keeps retention off them meanwhile.
    const known = await this.prisma.artifactContent.updateMany({ where: key, data: { lastWrittenAt: new Date() } });
    if (known.count === 0) {
      const content = await this.writeTo.write(origin.tenantId, sha256, bytes);
      await this.prisma.artifactContent.upsert({
        where: { tenantId_sha256: key },
        create: { ...key, size: bytes.length, storage: this.writeTo.storage, content: content === null ? null : new Uint8Array(content) },
        update: { lastWrittenAt: new Date() },
      });
    }
    const artifact = await this.prisma.artifact.create({
      data: { ...origin, sha256, size: bytes.length, mediaType },
      select: { id: true },
    });
    return { $artifact: { id: artifact.id, sha256, size: bytes.length, mediaType } };
  }

  /** A run's artifact of the tenant, or undefined when there is none (another tenant's, expired, never made). */
  async open(tenantId: string, runId: string, artifactId: string): Promise<OpenedArtifact | undefined> {
    const artifact = await this.prisma.artifact.findFirst({ where: { id: artifactId, tenantId, runId } });
    if (!artifact) return undefined;
    const stored = await this.prisma.artifactContent.findUnique({ where: { tenantId_sha256: { tenantId, sha256: artifact.sha256 } } });
    if (!stored) return undefined;
    const backend = this.backends[stored.storage as ContentStorage];
    if (!backend) throw new ArtifactStorageUnavailable(stored.storage);
    return {
      id: artifact.id,
      sha256: artifact.sha256,
      size: Number(artifact.size),
      mediaType: artifact.mediaType,
      runId: artifact.runId,
      stepId: artifact.stepId,
      createdAt: artifact.createdAt,
      content: await backend.read(tenantId, artifact.sha256, stored.content),
    };
  }

  /** Removes stored bytes whose row retention deleted (see retention/cleanup.ts). */
  async removeContent(tenantId: string, sha256: string, storage: string): Promise<void> {
    await this.backends[storage as ContentStorage]?.remove(tenantId, sha256);
  }
}

export class ArtifactTooLarge extends Error {
  constructor(readonly bytes: number) {
    super(`an artifact holds at most ${MAX_ARTIFACT_BYTES} bytes; this one has ${bytes}`);
    this.name = 'ArtifactTooLarge';
  }
}

/** Content stored in an object store this process is not configured for. */
export class ArtifactStorageUnavailable extends Error {
  constructor(readonly storage: string) {
    super(`artifact content is in the ${storage} store, which this process is not configured for`);
    this.name = 'ArtifactStorageUnavailable';
  }
}
