import { ApplicationFailure } from '@temporalio/activity';
import { MAX_STEP_OUTPUT_BYTES } from '../workflows/engine/limits';
import { ArtifactTooLarge, MAX_ARTIFACT_BYTES, type ArtifactReference } from '../apps/common/artifacts/artifact-store';
import { StepErrorType } from './errors';

export interface TruncatedOutput {
  truncated: true;
  bytes: number;
}

/** Stores bytes as an artifact of the step running now; see StepContext.saveArtifact. */
export type SaveArtifact = (bytes: Buffer, mediaType: string) => Promise<ArtifactReference>;

/**
 * Outputs larger than the limit never reach the workflow history. With an artifact store, such an
 * output is stored as a JSON artifact and its reference takes its place; without one (or past
 * MAX_ARTIFACT_BYTES), only its size does.
 */
export async function limitOutput(output: unknown, saveArtifact?: SaveArtifact): Promise<unknown> {
  if (output === undefined) return undefined;
  const json = JSON.stringify(output) ?? '';
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes <= MAX_STEP_OUTPUT_BYTES) return output;
  if (saveArtifact && bytes <= MAX_ARTIFACT_BYTES) return saveOrFail(saveArtifact, Buffer.from(json, 'utf8'), 'application/json');
  return { truncated: true, bytes } satisfies TruncatedOutput;
}

/**
 * Stores an artifact, or fails the attempt retryably: an output that was produced must not be
 * lost because the store was briefly unreachable, nor be silently truncated.
 */
export async function saveOrFail(saveArtifact: SaveArtifact, bytes: Buffer, mediaType: string): Promise<ArtifactReference> {
  try {
    return await saveArtifact(bytes, mediaType);
  } catch (error) {
    if (error instanceof ArtifactTooLarge) throw error;
    throw ApplicationFailure.create({
      type: StepErrorType.ArtifactWriteFailed,
      message: `the step's output (${bytes.length} bytes) could not be stored as an artifact: ${(error as Error).message}`,
      nonRetryable: false,
      details: [{ bytes: bytes.length, mediaType }],
    });
  }
}
