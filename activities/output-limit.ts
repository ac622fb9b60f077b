import { MAX_STEP_OUTPUT_BYTES } from '../workflows/engine/limits';

export interface TruncatedOutput {
  truncated: true;
  bytes: number;
}

/** Outputs larger than the limit never reach the workflow history; their size does. */
export function limitOutput(output: unknown): unknown {
  if (output === undefined) return undefined;
  const bytes = Buffer.byteLength(JSON.stringify(output) ?? '', 'utf8');
  return bytes > MAX_STEP_OUTPUT_BYTES ? ({ truncated: true, bytes } satisfies TruncatedOutput) : output;
}
