import { z } from 'zod';
import '../openapi/registry';
import { bigintId, queryText, storableText } from '../http/validation';
import { StepIdSchema } from '../runs/schemas';

/** `GET /api/v1/runs/:id/logs` and its live tail: which entries, oldest first. */
const LogFilters = {
  step: StepIdSchema.optional().openapi({ description: 'Only this step’s entries' }),
  attempt: z.coerce.number().int().min(1).max(10_000).optional().openapi({ description: 'Only this attempt’s entries (with or without `step`)' }),
  q: queryText(200)
    .optional()
    .openapi({ description: 'Only entries whose message or data contain this text (case-insensitive)', example: 'x-request-id' }),
};

export const ListLogsQuery = z
  .object({
    ...LogFilters,
    limit: z.coerce.number().int().min(1).max(500).default(100),
    cursor: storableText(512).optional().openapi({ description: 'The nextCursor of the previous page' }),
  })
  .strict();
export type LogsQuery = z.output<typeof ListLogsQuery>;

/** An entry's id, as the live tail's `id:` lines give it. */
export const LogEntryId = bigintId('must be an entry id');

export const StreamLogsQuery = z
  .object({
    ...LogFilters,
    after: LogEntryId.optional().openapi({ description: 'Resume after this entry id (EventSource sends Last-Event-ID itself)' }),
  })
  .strict();

export const StreamLogsHeaders = z.object({
  'last-event-id': LogEntryId.optional().openapi({ description: 'The id of the last entry received: the tail resumes after it' }),
});
export type StreamLogsQuery = z.output<typeof StreamLogsQuery>;

/** Log pages by entry id, oldest first. */
export const LogCursorSchema = z.object({ id: LogEntryId }).strict();

export const StepLogEntryResource = z
  .object({
    id: z.string().openapi({ description: 'Increasing in the order entries were written; the live tail’s event id' }),
    at: z.iso.datetime(),
    stepId: z.string(),
    attempt: z.number().int(),
    activityId: z.string().openapi({ description: 'The step id, or `step#2` for an operator’s re-run of it' }),
    level: z.enum(['info', 'warn', 'error']),
    message: z.string(),
    data: z.record(z.string(), z.unknown()).openapi({ description: 'e.g. the HTTP step’s `request` and `response`, credentials redacted, bodies capped' }),
  })
  .openapi('StepLogEntry');

export const StepLogPage = z.object({ items: z.array(StepLogEntryResource), nextCursor: z.string().nullable() }).openapi('StepLogPage');

export const ArtifactParams = z.object({ artifactId: z.uuid() });
